# SPDX-License-Identifier: MIT
"""The models (:class:`RNN`; :class:`~rnn.LSTM` and :class:`~rnn.GRU` in
cells.py, all on :class:`RNNBase`) and their streaming state
(:class:`State`)."""

import collections
import ctypes
import os
import threading

import numpy as np

from . import _capi
from ._arrays import as_f32, as_i32, check_int32, check_shape, to_numpy
from ._capi import C, Handle, RNNTensorInfo

_NONLINEARITIES = {"tanh": _capi.RNN_TANH, "relu": _capi.RNN_RELU}
_HEAD_MODES = {"last": _capi.RNN_HEAD_LAST, "all": _capi.RNN_HEAD_ALL}
_CELL_NAMES = {_capi.RNN_CELL_RNN: "RNN", _capi.RNN_CELL_LSTM: "LSTM",
               _capi.RNN_CELL_GRU: "GRU"}
#: torch's module.mode -> rnn_cell_kind.
_TORCH_MODES = {"RNN_TANH": _capi.RNN_CELL_RNN, "RNN_RELU": _capi.RNN_CELL_RNN,
                "LSTM": _capi.RNN_CELL_LSTM, "GRU": _capi.RNN_CELL_GRU}
_INIT_SCHEMES = {"uniform": _capi.RNN_INIT_UNIFORM,
                 "xavier_uniform": _capi.RNN_INIT_XAVIER_UNIFORM,
                 "orthogonal": _capi.RNN_INIT_ORTHOGONAL}

#: Where one named tensor lives in the flat buffers (``rnn_tensor_info``).
TensorInfo = collections.namedtuple("TensorInfo", "name offset count shape")

#: What :meth:`RNN.load_state_dict` did not match (like torch's result).
LoadResult = collections.namedtuple("LoadResult", "missing_keys unexpected_keys")


def _path_arg(path):
    return os.fsencode(os.fspath(path))


def save_cleanup(path):
    """Removes the temporary files that interrupted saves to ``path`` left
    behind (``<path>.tmp.XXXXXX`` that no live save holds); returns how many."""
    removed = ctypes.c_int32()
    C.rnn_save_cleanup(_path_arg(path), ctypes.byref(removed))
    return removed.value


class _NoGrad:
    """``with rnn.no_grad():`` - forwards inside run librnn's inference
    forward (nothing kept for backward, no dropout), like torch.no_grad.
    Per thread; nests."""

    def __init__(self):
        self._local = threading.local()

    @property
    def depth(self):
        return getattr(self._local, "depth", 0)

    def __enter__(self):
        self._local.depth = self.depth + 1
        return self

    def __exit__(self, *exc):
        self._local.depth = self.depth - 1
        return False

    def __call__(self):
        return self


_no_grad = _NoGrad()


def no_grad():
    """Context manager: forwards in it keep nothing for backward (torch.no_grad)."""
    return _no_grad


def _flag(value, name):
    if not isinstance(value, (bool, int, np.bool_, np.integer)):
        raise ValueError("%s must be a bool, got %r" % (name, value))
    return 1 if value else 0


def _choice(value, choices, name):
    key = value.lower() if isinstance(value, str) else value
    if key not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(map(repr, choices)), value))
    return choices[key]


def _flat_view(handle, getter):
    ptr = ctypes.POINTER(ctypes.c_float)()
    count = ctypes.c_size_t()
    getter(handle.ptr, ctypes.byref(ptr), ctypes.byref(count))
    buf = (ctypes.c_float * count.value).from_address(ctypes.addressof(ptr.contents))
    buf._owner = handle          # the view -> memoryview -> buf -> handle chain
    return np.ctypeslib.as_array(buf)


def _torch_device_dtype(device, dtype):
    """torch's device= and dtype= arguments: librnn runs float32 on the CPU."""
    if device is not None and str(device) != "cpu":
        raise ValueError("device must be None or 'cpu' (librnn runs on the CPU), got %r"
                         % (device,))
    if dtype is not None and str(dtype) not in ("torch.float32", "float32", "<class "
                                                "'numpy.float32'>"):
        raise ValueError("dtype must be None or float32 (librnn computes in float32), got %r"
                         % (dtype,))


class RNNBase:
    """What every librnn model has (torch's ``nn.RNNBase``): create it as
    :class:`RNN`, :class:`~rnn.LSTM` or :class:`~rnn.GRU`.

    Arrays are NumPy float32, C-contiguous; inputs may be anything array-like
    (lists, NumPy arrays of another dtype, CPU torch tensors) and are
    converted. With T steps, B sequences, D = 2 if bidirectional else 1,
    Hout = proj_size (LSTM with a projection) else H: ``x`` [T, B, I]
    ([B, T, I] when batch_first), ``y`` [T, B, D*Hout] ([B, T, D*Hout]),
    ``h0``/``h_n`` [L*D, B, Hout] and the LSTM's ``c0``/``c_n`` [L*D, B, H]
    (never batch-first).

    A model is used by one thread at a time, except :meth:`State.step`.
    Free it with :meth:`close` (or a ``with`` block); it is also freed when
    garbage-collected.
    """

    #: rnn_cell_kind of the class (set by each subclass).
    _cell = None
    #: The class serving each rnn_cell_kind (filled by the subclasses).
    _classes = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls._cell is not None:
            RNNBase._classes.setdefault(cls._cell, cls)

    def __init__(self, *args, **kwargs):
        raise TypeError("create an rnn.RNN, rnn.LSTM or rnn.GRU (RNNBase is their base)")

    def _create(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                bidirectional, output_size, head_mode, seed, nonlinearity="tanh",
                proj_size=0, vocab_size=0, padding_idx=None):
        cfg = _capi.new_config(check_int32(input_size, "input_size"),
                               check_int32(hidden_size, "hidden_size"))
        cfg.cell = self._cell
        cfg.num_layers = check_int32(num_layers, "num_layers")
        cfg.dropout = float(dropout)
        cfg.nonlinearity = _choice(nonlinearity, _NONLINEARITIES, "nonlinearity")
        cfg.bias = _flag(bias, "bias")
        cfg.batch_first = _flag(batch_first, "batch_first")
        cfg.bidirectional = _flag(bidirectional, "bidirectional")
        cfg.proj_size = check_int32(proj_size, "proj_size")
        cfg.output_size = check_int32(output_size, "output_size")
        cfg.head_mode = _choice(head_mode, _HEAD_MODES, "head_mode")
        cfg.vocab_size = check_int32(vocab_size, "vocab_size")
        if padding_idx is not None:
            cfg.has_padding_idx = 1
            cfg.padding_idx = check_int32(padding_idx, "padding_idx")
        seed = int(seed)
        if not 0 <= seed < 2**64:
            raise ValueError("seed must be in [0, 2**64), got %d" % seed)
        cfg.seed = seed
        out = _capi.new_handle()
        C.rnn_create(ctypes.byref(out), ctypes.byref(cfg))   # rnn_create validates the rest
        self._attach(out.value)


    # -- construction helpers ------------------------------------------------

    def _attach(self, ptr):
        self._handle = Handle(ptr, C.rnn_destroy)
        cfg = _capi.new_config(1, 1)
        C.rnn_get_config(ptr, ctypes.byref(cfg))
        self._cfg = cfg
        self._last = None            # (T, B) of the last forward
        self._one_sequence = False   # the last forward took x [T, I]
        self.training = True         # False after eval(): forwards keep nothing
        self._inference_logits = None  # the head's logits of an inference forward
        self._params = self._grads = None
        self._infos = None
        self._packed = False         # rnn_pack_weights was called

    @classmethod
    def _from_ptr(cls, ptr):
        """The model owning ptr, as the class of its cell; `cls` must be
        that class (or RNNBase, which takes any)."""
        handle = Handle(ptr, C.rnn_destroy)   # frees it if we refuse it
        cfg = _capi.new_config(1, 1)
        C.rnn_get_config(ptr, ctypes.byref(cfg))
        klass = RNNBase._classes.get(cfg.cell)
        if klass is None or not issubclass(klass, cls):
            found = _CELL_NAMES.get(cfg.cell, "cell %d" % cfg.cell)
            raise ValueError("this is a librnn %s model: load it with rnn.%s.load (or "
                             "rnn.load, which takes any)" % (found, found))
        self = klass.__new__(klass)
        handle.ptr = None
        self._attach(ptr)
        return self

    @property
    def _ptr(self):
        handle = self.__dict__.get("_handle")
        if handle is None:
            raise ValueError("this %s is closed" % type(self).__name__)
        return handle.ptr

    def close(self):
        """Frees the model (after the last parameter view is gone). Idempotent."""
        self._handle = None
        self._params = self._grads = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- configuration -------------------------------------------------------

    @property
    def input_size(self):
        return self._cfg.input_size

    @property
    def hidden_size(self):
        return self._cfg.hidden_size

    @property
    def num_layers(self):
        return self._cfg.num_layers

    @property
    def bidirectional(self):
        return bool(self._cfg.bidirectional)

    @property
    def num_directions(self):
        """D: 2 for a bidirectional model, else 1."""
        return 2 if self._cfg.bidirectional else 1

    @property
    def nonlinearity(self):
        return "relu" if self._cfg.nonlinearity == _capi.RNN_RELU else "tanh"

    @property
    def mode(self):
        """torch's module.mode: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"."""
        if self._cfg.cell == _capi.RNN_CELL_RNN:
            return "RNN_" + self.nonlinearity.upper()
        return _CELL_NAMES[self._cfg.cell]

    @property
    def proj_size(self):
        """P: the LSTM's projection size (h has P units), 0 for none."""
        return self._cfg.proj_size

    @property
    def _hout(self):
        """The units of h and y per direction: proj_size if set, else H."""
        return self.proj_size or self.hidden_size

    @property
    def _has_cell_state(self):
        return self._cfg.cell == _capi.RNN_CELL_LSTM

    @property
    def bias(self):
        return bool(self._cfg.bias)

    @property
    def vocab_size(self):
        """V: the input is token ids in [0, V) through the model's embedding
        table ``embedding.weight`` [V, input_size]; 0 for float input x."""
        return self._cfg.vocab_size

    @property
    def padding_idx(self):
        """The id whose embedding row stays zero and never learns (counted
        from 0, as torch keeps it), or None."""
        return self._cfg.padding_idx if self._cfg.has_padding_idx else None

    @property
    def batch_first(self):
        return bool(self._cfg.batch_first)

    @property
    def output_size(self):
        return self._cfg.output_size

    @property
    def head_mode(self):
        return "all" if self._cfg.head_mode == _capi.RNN_HEAD_ALL else "last"

    @property
    def seed(self):
        return self._cfg.seed

    def config(self):
        """The configuration as a dict of the constructor's keyword arguments."""
        cfg = {"input_size": self.input_size, "hidden_size": self.hidden_size,
               "num_layers": self.num_layers}
        if self._cfg.cell == _capi.RNN_CELL_RNN:
            cfg["nonlinearity"] = self.nonlinearity
        cfg.update(bias=self.bias, batch_first=self.batch_first,
                   bidirectional=self.bidirectional)
        if self._cfg.cell == _capi.RNN_CELL_LSTM:
            cfg["proj_size"] = self.proj_size
        cfg.update(output_size=self.output_size, head_mode=self.head_mode, seed=self.seed,
                   dropout=self.dropout)
        if self.vocab_size:
            cfg.update(vocab_size=self.vocab_size, padding_idx=self.padding_idx)
        return cfg

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in self.config().items())
        return "rnn.%s(%s)" % (type(self).__name__, args)

    def _h_shape(self, batch):
        return (self.num_layers * self.num_directions, batch, self._hout)

    def _c_shape(self, batch):
        return (self.num_layers * self.num_directions, batch, self.hidden_size)

    def _seq_shape(self, seq_len, batch, width):
        return (batch, seq_len, width) if self.batch_first else (seq_len, batch, width)

    # -- training ------------------------------------------------------------

    # One sequence without a batch dimension, as torch takes it: x [T, I],
    # h0/h_n [L*D, Hout], c0/c_n [L*D, H], y [T, D*Hout], logits [O] or
    # [T, O]. The arrays cross the C API as a batch of one.

    def _batch_axis(self):
        return 0 if self.batch_first else 1

    def _batched(self, array, axis):
        return None if array is None else np.expand_dims(array, axis)

    def _unbatched(self, array, axis):
        return None if array is None else np.squeeze(array, axis)

    def forward(self, x, h0=None, lengths=None):
        """Runs the RNN over a batch; returns ``(y, h_n)``.

        x: [T, B, I] ([B, T, I] when batch_first), or one sequence [T, I]
        (then h0/h_n are [L*D, Hout] and y is [T, D*Hout], as in torch). h0:
        None (zeros) or [L*D, B, Hout]. lengths: None or B integers in [1, T];
        steps t >= lengths[b] give y = 0 and leave h unchanged (packed-sequence
        semantics). Returns y [T, B, D*Hout] ([B, T, D*Hout]) and h_n
        [L*D, B, Hout]. What backward needs is kept inside the model.
        """
        y, h_n, _ = self._run(x, h0, None, lengths)
        return y, h_n

    def _run(self, x, h0, c0, lengths):
        """forward with c0 (cell-state models): (y, h_n, c_n), c_n None
        without a cell state. x is the ids of a model with token input."""
        x = self._token_ids(x, "ids") if self.vocab_size else as_f32(x, "x")
        if x.ndim == (1 if self.vocab_size else 2):
            if lengths is not None:
                raise ValueError("lengths needs a batch: %s is one sequence"
                                 % ("ids [T]" if self.vocab_size else "x [T, I]"))
            def batched(state, name):
                return self._batched(as_f32(state, name), 1) if state is not None else None
            y, h_n, c_n = self._forward(self._batched(x, self._batch_axis()),
                                        batched(h0, "h0"), batched(c0, "c0"), None)
            self._one_sequence = True
            return (self._unbatched(y, self._batch_axis()), self._unbatched(h_n, 1),
                    self._unbatched(c_n, 1))
        y, h_n, c_n = self._forward(x, h0, c0, lengths)
        self._one_sequence = False
        return y, h_n, c_n

    def _token_ids(self, ids, name):
        """The token ids of a model with token input as int32 (integer
        arrays only, like torch.nn.Embedding; their range is checked by
        librnn, which names the first bad position)."""
        arr = to_numpy(ids)
        if arr.dtype.kind not in "iu":
            raise ValueError("%s must be integer token ids (the model has vocab_size %d), "
                             "got dtype %s" % (name, self.vocab_size, arr.dtype))
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            bad = np.flatnonzero((arr.ravel() < 0) | (arr.ravel() >= self.vocab_size))[0]
            raise ValueError("%s%s = %d is outside [0, vocab_size %d)"
                             % (name, list(np.unravel_index(bad, arr.shape)),
                                arr.ravel()[bad], self.vocab_size))
        return np.ascontiguousarray(arr, dtype=np.int32)

    def _forward(self, x, h0, c0, lengths):
        ptr = self._ptr
        tokens = bool(self.vocab_size)
        name = "ids" if tokens else "x"
        if tokens:
            layout = "[B, T] (batch_first)" if self.batch_first else "[T, B]"
        else:
            layout = "[B, T, I] (batch_first)" if self.batch_first else "[T, B, I]"
        if x.ndim != 3 - tokens:
            raise ValueError("%s must have %d dimensions %s (or %d, %s, for one "
                             "sequence), got shape %s"
                             % (name, 3 - tokens, layout, 2 - tokens,
                                "[T]" if tokens else "[T, I]", x.shape))
        if self.batch_first:
            batch, seq_len = x.shape[:2]
        else:
            seq_len, batch = x.shape[:2]
        if seq_len == 0 or batch == 0:
            raise ValueError("%s must have T > 0 and B > 0, got shape %s %s"
                             % (name, x.shape, layout))
        if not tokens and x.shape[2] != self.input_size:
            raise ValueError("x has %d features in its last dimension, the model's "
                             "input_size is %d" % (x.shape[2], self.input_size))
        if seq_len >= 2**31 or batch >= 2**31:
            raise ValueError("%s has more than 2**31-1 steps or sequences" % name)
        if h0 is not None:
            h0 = check_shape(as_f32(h0, "h0"), self._h_shape(batch), "h0", "[L*D, B, Hout]")
        if c0 is not None:
            c0 = check_shape(as_f32(c0, "c0"), self._c_shape(batch), "c0", "[L*D, B, H]")
        if lengths is not None:
            lengths = check_shape(as_i32(lengths, "lengths"), (batch,), "lengths", "[B]")
            if lengths.min() < 1 or lengths.max() > seq_len:
                raise ValueError("lengths must be in [1, T=%d], got %s" % (seq_len, lengths.tolist()))
        y = np.empty(self._seq_shape(seq_len, batch, self.num_directions * self._hout),
                     dtype=np.float32)
        h_n = np.empty(self._h_shape(batch), dtype=np.float32)
        c_n = np.empty(self._c_shape(batch), dtype=np.float32) if self._has_cell_state else None
        inference = not self.training or _no_grad.depth
        logits = None
        if inference and self.output_size > 0:
            logits = np.empty(self._logits_shape_for(seq_len, batch), dtype=np.float32)
        self._last = None
        self._inference_logits = None
        if self._has_cell_state or c0 is not None or tokens:
            args = _capi.RNNForwardArgs()
            C.rnn_forward_args_init(ctypes.byref(args), ctypes.sizeof(args))
            args.seq_len, args.batch = seq_len, batch
            if tokens:
                args.ids = _capi.i32_ptr(x)
            else:
                args.x = _capi.f32_ptr(x)
            args.lengths = _capi.i32_ptr(lengths)
            args.h0, args.c0 = _capi.f32_ptr(h0), _capi.f32_ptr(c0)
            args.y, args.h_n, args.c_n = _capi.f32_ptr(y), _capi.f32_ptr(h_n), _capi.f32_ptr(c_n)
            args.logits, args.inference = _capi.f32_ptr(logits), 1 if inference else 0
            C.rnn_forward_ex(ptr, ctypes.byref(args))
        elif not inference:
            C.rnn_forward(ptr, seq_len, batch, x, lengths, h0, y, h_n)
        else:
            C.rnn_forward_inference(ptr, seq_len, batch, x, lengths, h0, y, h_n, logits)
        self._inference_logits = logits
        self._last = (seq_len, batch)
        return y, h_n, c_n

    # -- train / eval, no_grad (torch's habits) ------------------------------

    def train(self, mode=True):
        """Training mode (the default): forward keeps what backward needs
        and applies dropout. Returns the model."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode: forward runs librnn's inference forward (no
        dropout, nothing kept for backward, memory independent of T; the
        head's logits are computed with it). Returns the model."""
        return self.train(False)

    def seed_dropout(self, seed):
        """Restarts the dropout mask generator (rnn_seed_dropout)."""
        C.rnn_seed_dropout(self._ptr, int(seed))

    @property
    def dropout(self):
        return float(self._cfg.dropout)

    __call__ = forward

    def backward(self, dy=None, dh_n=None, need_dx=False, need_dh0=False):
        """Backpropagation through time over the last :meth:`forward`.

        dy: None (zero) or the gradient w.r.t. y (shape of y; values at padded
        steps are ignored). dh_n: None or the gradient w.r.t. h_n. Weight
        gradients are ADDED to :attr:`grads` (see :meth:`zero_grad`), and a
        pending :meth:`head_backward` gradient is consumed (with no dy, no
        dh_n and no head gradient it raises: nothing to propagate). Returns
        ``(dx, dh0)``: the input gradients only when asked for (need_dx,
        need_dh0; like torch, where inputs need requires_grad), else None;
        shaped like x and h0, also for one unbatched sequence.
        """
        dx, dh0, _ = self._backprop(dy, dh_n, None, need_dx, need_dh0, False)
        return dx, dh0

    def _backprop(self, dy, dh_n, dc_n, need_dx, need_dh0, need_dc0):
        """backward with the cell state's gradients: (dx, dh0, dc0)."""
        if need_dx and self.vocab_size:
            raise ValueError("need_dx: the input is token ids, which have no gradient "
                             "(as in torch); theirs goes to grad_dict()['embedding.weight']")
        if self._one_sequence:
            def batched(grad, name, axis):
                return self._batched(as_f32(grad, name), axis) if grad is not None else None
            dx, dh0, dc0 = self._backward(batched(dy, "dy", self._batch_axis()),
                                          batched(dh_n, "dh_n", 1), batched(dc_n, "dc_n", 1),
                                          need_dx, need_dh0, need_dc0)
            return (self._unbatched(dx, self._batch_axis()), self._unbatched(dh0, 1),
                    self._unbatched(dc0, 1))
        return self._backward(dy, dh_n, dc_n, need_dx, need_dh0, need_dc0)

    def _backward(self, dy, dh_n, dc_n, need_dx, need_dh0, need_dc0):
        ptr = self._ptr
        if self._last is None:
            C.rnn_backward(ptr, None, None, None, None)   # raises RNN_E_STATE
            raise RuntimeError("rnn_backward succeeded before any forward")
        seq_len, batch = self._last
        if dy is not None:
            dy = check_shape(as_f32(dy, "dy"), self._seq_shape(
                seq_len, batch, self.num_directions * self._hout), "dy", "shape of y")
        if dh_n is not None:
            dh_n = check_shape(as_f32(dh_n, "dh_n"), self._h_shape(batch), "dh_n",
                               "[L*D, B, Hout]")
        if dc_n is not None:
            dc_n = check_shape(as_f32(dc_n, "dc_n"), self._c_shape(batch), "dc_n", "[L*D, B, H]")
        dx = np.empty(self._seq_shape(seq_len, batch, self.input_size), np.float32) if need_dx else None
        dh0 = np.empty(self._h_shape(batch), np.float32) if need_dh0 else None
        dc0 = np.empty(self._c_shape(batch), np.float32) if need_dc0 else None
        if dc_n is None and dc0 is None:
            C.rnn_backward(ptr, dy, dh_n, dx, dh0)
            return dx, dh0, None
        args = _capi.RNNBackwardArgs()
        C.rnn_backward_args_init(ctypes.byref(args), ctypes.sizeof(args))
        args.dy, args.dh_n, args.dc_n = _capi.f32_ptr(dy), _capi.f32_ptr(dh_n), _capi.f32_ptr(dc_n)
        args.dx, args.dh0, args.dc0 = _capi.f32_ptr(dx), _capi.f32_ptr(dh0), _capi.f32_ptr(dc0)
        C.rnn_backward_ex(ptr, ctypes.byref(args))
        return dx, dh0, dc0

    def zero_grad(self):
        """Sets every gradient to zero (gradients accumulate until then)."""
        C.rnn_zero_grad(self._ptr)

    def _logits_shape_for(self, seq_len, batch):
        if self.head_mode == "all":
            return self._seq_shape(seq_len, batch, self.output_size)
        return (batch, self.output_size)

    def _logits_shape(self):
        if self._last is None or self.output_size == 0:
            return None
        return self._logits_shape_for(*self._last)

    def _logits_batch_axis(self):
        return self._batch_axis() if self.head_mode == "all" else 0

    def head_forward(self):
        """Logits of the head on the last forward: [B, O] (head_mode "last")
        or like y with O features (head_mode "all"; 0 at padded steps); [O]
        or [T, O] after a forward of one unbatched sequence."""
        if self._inference_logits is not None:
            logits = self._inference_logits.copy()
            if self._one_sequence:
                return self._unbatched(logits, self._logits_batch_axis())
            return logits
        shape = self._logits_shape()
        logits = np.empty(shape if shape else (1,), dtype=np.float32)
        C.rnn_head_forward(self._ptr, logits)   # raises when there is no head or forward
        if self._one_sequence:
            return self._unbatched(logits, self._logits_batch_axis())
        return logits

    def head_backward(self, dlogits):
        """Backward through the head: adds to head.weight/head.bias gradients
        and keeps dL/dh for the next :meth:`backward`."""
        shape = self._logits_shape()
        dlogits = as_f32(dlogits, "dlogits")
        if self._one_sequence and shape is not None:
            dlogits = self._batched(dlogits, self._logits_batch_axis())
        if shape is None:
            C.rnn_head_backward(self._ptr, dlogits)   # raises RNN_E_UNSUPPORTED / STATE
            return
        check_shape(dlogits, shape, "dlogits", "shape of the logits")
        C.rnn_head_backward(self._ptr, dlogits)

    def sgd_step(self, lr):
        """Plain SGD: params -= lr * grads."""
        C.rnn_sgd_step(self._ptr, float(lr))

    def clip_grad_norm(self, max_norm):
        """Scales the gradients to a global L2 norm <= max_norm; returns the
        norm before clipping (torch.nn.utils.clip_grad_norm_)."""
        norm = ctypes.c_float()
        C.rnn_clip_grad_norm(self._ptr, float(max_norm), ctypes.byref(norm))
        return norm.value

    def check_grads(self):
        """Raises RNNError (RNN_E_NONFINITE, naming the tensor) on a NaN/Inf gradient."""
        C.rnn_check_grads(self._ptr)

    def check_params(self):
        """Raises RNNError (RNN_E_NONFINITE, naming the tensor) on a NaN/Inf parameter."""
        C.rnn_check_params(self._ptr)

    # -- parameters ----------------------------------------------------------

    @property
    def params(self):
        """All parameters as one float32 NumPy VIEW of shape (count,) on the
        library's flat buffer (PyTorch state_dict order). Writes are seen by
        the library; the view keeps the model's memory alive."""
        if self._params is None:
            self._params = _flat_view(self._handle_checked(), C.rnn_params)
        return self._params

    @property
    def grads(self):
        """All gradients as one float32 NumPy VIEW, same layout as params."""
        if self._grads is None:
            self._grads = _flat_view(self._handle_checked(), C.rnn_grads)
        return self._grads

    def _handle_checked(self):
        self._ptr  # raises when closed
        return self._handle

    def tensors(self):
        """The named tensors, in state_dict order, as TensorInfo tuples."""
        if self._infos is None:
            ptr = self._ptr
            count = ctypes.c_int32()
            C.rnn_tensor_count(ptr, ctypes.byref(count))
            infos = []
            for index in range(count.value):
                info = RNNTensorInfo()
                info.struct_size = ctypes.sizeof(RNNTensorInfo)
                C.rnn_tensor_at(ptr, index, ctypes.byref(info))
                shape = tuple(info.shape[:info.ndim])
                infos.append(TensorInfo(info.name.decode(), info.offset, info.count, shape))
            self._infos = infos
        return list(self._infos)

    def tensor(self, name):
        """TensorInfo of one tensor by name (through rnn_tensor_find)."""
        info = RNNTensorInfo()
        info.struct_size = ctypes.sizeof(RNNTensorInfo)
        C.rnn_tensor_find(self._ptr, name.encode(), ctypes.byref(info))
        return TensorInfo(info.name.decode(), info.offset, info.count, tuple(info.shape[:info.ndim]))

    def _named(self, flat):
        return {t.name: flat[t.offset:t.offset + t.count].reshape(t.shape) for t in self.tensors()}

    def state_dict(self):
        """dict name -> NumPy view (reshaped) of each parameter, PyTorch's
        names ("weight_ih_l0", ..., "head.weight"). Writes go to the model."""
        return self._named(self.params)

    def grad_dict(self):
        """dict name -> NumPy view of each gradient (like state_dict)."""
        return self._named(self.grads)

    def named_parameters(self):
        """Yields (name, view) for each parameter, in state_dict order, like
        torch.nn.Module.named_parameters (the gradient of each is
        ``grad_dict()[name]``)."""
        yield from self.state_dict().items()

    def parameters(self):
        """Yields the view of each parameter, in state_dict order."""
        for _, view in self.named_parameters():
            yield view

    # -- moving weights to and from torch (no safetensors package needed) -----

    def to_torch(self):
        """The torch module of this model's cell (torch.nn.RNN, nn.LSTM or
        nn.GRU) with its configuration and weights, and the head as a
        torch.nn.Linear (None without a head): ``module, head =
        model.to_torch()``. A model with token input gives its embedding
        table first, as a torch.nn.Embedding (with padding_idx):
        ``embedding, module, head = model.to_torch()``, to be applied as
        ``module(embedding(ids))``. Needs torch (imported here only)."""
        import torch
        module = self._torch_module()
        weights = self.state_dict()
        module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()
                                if not k.startswith(("head.", "embedding."))})
        embedding = None
        if self.vocab_size:
            embedding = torch.nn.Embedding(self.vocab_size, self.input_size,
                                           padding_idx=self.padding_idx)
            with torch.no_grad():
                embedding.weight.copy_(torch.from_numpy(weights["embedding.weight"].copy()))
        head = None
        if self.output_size > 0:
            head = torch.nn.Linear(self.num_directions * self._hout, self.output_size)
            head.load_state_dict({"weight": torch.from_numpy(weights["head.weight"].copy()),
                                  "bias": torch.from_numpy(weights["head.bias"].copy())})
        if embedding is not None:
            return embedding, module, head
        return module, head

    @classmethod
    def from_torch(cls, module, head=None, head_mode="last", embedding=None):
        """A model with the configuration and weights of a torch module of
        this class's cell (and of a torch.nn.Linear head reading its output,
        when given): ``model = rnn.RNN.from_torch(torch_rnn, head)``,
        ``rnn.LSTM.from_torch(torch_lstm)``, ``rnn.GRU.from_torch(torch_gru)``.
        On RNNBase it takes any of the three. ``embedding``: a
        torch.nn.Embedding(V, input_size) in front of the module gives a
        model with token input (its padding_idx too)."""
        mode = getattr(module, "mode", None)
        klass = RNNBase._classes.get(_TORCH_MODES.get(mode))
        if klass is None or not issubclass(klass, cls):
            raise ValueError("from_torch: %s is not a torch.nn.%s (use rnn.%s.from_torch)"
                             % (type(module).__name__, cls.__name__,
                                klass.__name__ if klass else "RNN"))
        output_size = 0 if head is None else head.out_features
        tokens = {}
        if embedding is not None:
            if embedding.embedding_dim != module.input_size:
                raise ValueError("from_torch: the embedding gives %d features, the module "
                                 "reads input_size %d" % (embedding.embedding_dim,
                                                          module.input_size))
            tokens = dict(vocab_size=embedding.num_embeddings,
                          padding_idx=embedding.padding_idx)
        model = klass(**klass._torch_arguments(module), output_size=output_size,
                      head_mode=head_mode, **tokens)
        weights = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        if embedding is not None:
            weights["embedding.weight"] = embedding.weight.detach().cpu()
        if head is not None:
            weights["head.weight"] = head.weight.detach().cpu()
            if head.bias is None:
                raise ValueError("from_torch: the head must have a bias (librnn's has one)")
            weights["head.bias"] = head.bias.detach().cpu()
        model.load_state_dict(weights)
        return model

    def load_state_dict(self, state_dict, strict=True):
        """Copies tensors (NumPy arrays, torch tensors, ...) into the model.

        Every shape is checked before anything is written. With strict=True
        the keys must be exactly the model's; otherwise missing ones are kept
        and unexpected ones are reported. Returns LoadResult(missing_keys,
        unexpected_keys).
        """
        own = self.state_dict()
        unexpected = [k for k in state_dict if k not in own]
        missing = [k for k in own if k not in state_dict]
        if strict and (unexpected or missing):
            raise ValueError("load_state_dict: missing keys %s, unexpected keys %s"
                             % (missing, unexpected))
        staged = []
        for name, value in state_dict.items():
            if name in own:
                arr = as_f32(value, name)
                if arr.shape != own[name].shape:
                    raise ValueError("load_state_dict: %s has shape %s, the model's is %s"
                                     % (name, tuple(arr.shape), own[name].shape))
                staged.append((own[name], arr))
        for dst, src in staged:
            dst[...] = src
        if self._packed:
            C.rnn_pack_weights(self._ptr)   # the writes bypassed the library
        return LoadResult(missing, unexpected)

    def pack_weights(self):
        """Gives streaming steps (State.step) their own transposed copy of
        the weights, one product per layer: less time per step
        (rnn_pack_weights; figures in docs/benchmarks.md). A snapshot:
        sgd_step, optimizer steps, init, load_params and load_state_dict
        refresh it; after writing through params / state_dict views, call
        pack_weights() again."""
        C.rnn_pack_weights(self._ptr)
        self._packed = True

    def unpack_weights(self):
        """Frees the copy made by pack_weights (rnn_unpack_weights)."""
        C.rnn_unpack_weights(self._ptr)
        self._packed = False

    def init(self, scheme="uniform", seed=0):
        """Re-initialises the parameters: "uniform" (PyTorch's default),
        "xavier_uniform" or "orthogonal" (W_hh orthogonal), from seed."""
        C.rnn_init(self._ptr, _choice(scheme, _INIT_SCHEMES, "scheme"), int(seed))

    def spectral_radius(self):
        """Largest |eigenvalue| of each W_hh: float32 array [L*D]."""
        radius = np.empty(self.num_layers * self.num_directions, dtype=np.float32)
        C.rnn_spectral_radius(self._ptr, radius)
        return radius

    # -- saving and loading (safetensors) ------------------------------------

    def save(self, path):
        """Writes the model to a safetensors file (atomically)."""
        C.rnn_save(self._ptr, _path_arg(path))

    def to_bytes(self):
        """The bytes :meth:`save` would write."""
        return _capi.saved_bytes(self._ptr, C.rnn_save_size, C.rnn_save_buffer)

    @classmethod
    def load(cls, path):
        """A new model from a safetensors file (librnn's or any writer's:
        without librnn metadata the configuration is inferred, tanh and not
        batch_first). ``rnn.LSTM.load`` needs a file of an LSTM (and so on);
        ``rnn.load`` returns whichever model the file holds."""
        out = _capi.new_handle()
        C.rnn_load(ctypes.byref(out), _path_arg(path))
        return cls._from_ptr(out.value)

    @classmethod
    def from_bytes(cls, data):
        """A new model from safetensors bytes (the class rule of :meth:`load`)."""
        data = bytes(data)
        out = _capi.new_handle()
        C.rnn_load_buffer(ctypes.byref(out), data, len(data))
        return cls._from_ptr(out.value)

    def load_params(self, path):
        """Loads parameters from a safetensors file holding exactly this
        model's tensors (e.g. a torch.nn.RNN state_dict); unchanged on error."""
        C.rnn_load_params(self._ptr, _path_arg(path))

    def load_params_bytes(self, data):
        """Same as :meth:`load_params` from bytes."""
        data = bytes(data)
        C.rnn_load_params_buffer(self._ptr, data, len(data))

    # -- streaming -------------------------------------------------------

    def state(self, batch=1):
        """A :class:`State` of ``batch`` streams for :meth:`State.step`."""
        return State(self, batch)


class RNN(RNNBase):
    """A librnn model: PyTorch's ``torch.nn.RNN`` (Elman) plus an optional
    linear head.

    Arguments are those of ``torch.nn.RNN``, plus:

    * ``output_size``: size O of a linear readout head ``logits = h W^T + b``
      (``head.weight`` [O, D*H], ``head.bias`` [O]); 0 for none.
    * ``head_mode``: ``"last"`` (logits [B, O] from each sequence's last valid
      step) or ``"all"`` (logits at every step, laid out like y).
    * ``seed``: seed of the initial weights (PyTorch's uniform init).
    * ``vocab_size`` (keyword): V > 0 makes the input token ids in [0, V)
      instead of x: the model owns an embedding table ``embedding.weight``
      [V, input_size], ~ N(0, 1), as ``torch.nn.Embedding(V, input_size,
      padding_idx)`` before ``torch.nn.RNN(input_size, ...)``; ``forward``
      then takes integer ids [T, B] ([B, T] when batch_first, [T] for one
      sequence) and ``State.step`` ids [B]. ``padding_idx`` (keyword): None
      or an id (negative counts from V) whose row is zero and gets no
      gradient, as in torch.

    Shapes and threads: see :class:`RNNBase`.
    """

    _cell = _capi.RNN_CELL_RNN

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, bidirectional=False, output_size=0,
                 head_mode="last", seed=0, dropout=0.0, *, vocab_size=0, padding_idx=None):
        self._create(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     bidirectional, output_size, head_mode, seed, nonlinearity=nonlinearity,
                     vocab_size=vocab_size, padding_idx=padding_idx)

    def _torch_module(self):
        import torch
        return torch.nn.RNN(self.input_size, self.hidden_size, self.num_layers,
                            nonlinearity=self.nonlinearity, bias=self.bias,
                            batch_first=self.batch_first,
                            bidirectional=self.bidirectional, dropout=self.dropout)

    @classmethod
    def _torch_arguments(cls, module):
        return dict(_torch_common_arguments(module), nonlinearity=module.nonlinearity)


def _torch_common_arguments(module):
    """The constructor arguments every cell takes, from a torch module."""
    return dict(input_size=module.input_size, hidden_size=module.hidden_size,
                num_layers=module.num_layers, bias=module.bias,
                batch_first=module.batch_first, bidirectional=module.bidirectional,
                dropout=module.dropout if module.num_layers > 1 else 0.0)



class State:
    """The hidden state of B independent streams of a unidirectional model,
    advanced one step at a time (rnn_step): h, and the LSTM's c. Starts at
    zero.

    Each thread may step its own State on one shared model at once.
    """

    def __init__(self, model, batch=1):
        batch = check_int32(batch, "batch")
        out = _capi.new_handle()
        C.rnn_state_create(ctypes.byref(out), model._ptr, batch)
        self._handle = Handle(out.value, C.rnn_state_destroy)
        self.model = model
        self.batch = batch

    @property
    def _ptr(self):
        if self._handle is None:
            raise ValueError("this State is closed")
        return self._handle.ptr

    def close(self):
        """Frees the state. Idempotent."""
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h_shape(self):
        return (self.model.num_layers, self.batch, self.model._hout)

    def _c_shape(self):
        return (self.model.num_layers, self.batch, self.model.hidden_size)

    def step(self, x_t):
        """Advances every stream by one step: x_t [B, I] -> y_t [B, Hout];
        for a model with token input, x_t is B integer ids [B]
        (rnn_step_tokens)."""
        y_t = np.empty((self.batch, self.model._hout), dtype=np.float32)
        if self.model.vocab_size:
            ids_t = check_shape(self.model._token_ids(x_t, "ids_t"), (self.batch,),
                                "ids_t", "[B]")
            C.rnn_step_tokens(self.model._ptr, self._ptr, ids_t, y_t)
            return y_t
        x_t = check_shape(as_f32(x_t, "x_t"), (self.batch, self.model.input_size), "x_t", "[B, I]")
        C.rnn_step(self.model._ptr, self._ptr, x_t, y_t)
        return y_t

    def head(self):
        """Head logits [B, O] of the current top hidden state."""
        logits = np.empty((self.batch, max(self.model.output_size, 1)), dtype=np.float32)
        C.rnn_step_head(self.model._ptr, self._ptr, logits)
        return logits

    def reset(self, mask=None):
        """Zeroes all streams (mask None) or those b with mask[b] true (h and
        the LSTM's c)."""
        if mask is not None:
            mask = to_numpy(mask)
            check_shape(mask, (self.batch,), "mask", "[B]")
            mask = np.ascontiguousarray(mask != 0, dtype=np.uint8)
        C.rnn_state_reset(self._ptr, mask)

    def get(self):
        """A copy of the hidden state, [L, B, Hout]."""
        h = np.empty(self._h_shape(), dtype=np.float32)
        C.rnn_state_get(self._ptr, h)
        return h

    def set(self, h):
        """Sets the hidden state from [L, B, Hout]."""
        h = check_shape(as_f32(h, "h"), self._h_shape(), "h", "[L, B, Hout]")
        C.rnn_state_set(self._ptr, h)

    def get_cell(self):
        """A copy of the LSTM's cell state, [L, B, H] (RNNError for other
        cells)."""
        c = np.empty(self._c_shape(), dtype=np.float32)
        C.rnn_state_get_cell(self._ptr, c)
        return c

    def set_cell(self, c):
        """Sets the LSTM's cell state from [L, B, H] (RNNError for other
        cells)."""
        c = check_shape(as_f32(c, "c"), self._c_shape(), "c", "[L, B, H]")
        C.rnn_state_set_cell(self._ptr, c)
