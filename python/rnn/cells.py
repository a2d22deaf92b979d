# SPDX-License-Identifier: MIT
"""The gated cells: :class:`LSTM` and :class:`GRU`, PyTorch's ``torch.nn.LSTM``
and ``torch.nn.GRU`` (same constructor, equations, gate order, tensor names
and return values) on librnn, with the optional head of :class:`rnn.RNN`."""

from . import _capi
from .model import RNNBase, _torch_common_arguments, _torch_device_dtype


class LSTM(RNNBase):
    """``torch.nn.LSTM`` on librnn: gates i, f, g, o in each [4H] block, a
    cell state c besides h, and ``proj_size`` (``weight_hr_l{k}`` [P, H]: h,
    y, h0 and h_n then have P units) as in torch.

    The positional arguments are torch's, in torch's order; ``device`` may
    only be None or "cpu" and ``dtype`` None or float32. Keyword-only, as
    :class:`rnn.RNN`: ``output_size`` and ``head_mode`` (a linear head
    reading the top layer's output, [O, D*Hout]), ``seed`` (torch's
    uniform init, from this seed), and ``vocab_size`` / ``padding_idx``
    (token input through an embedding table, as :class:`rnn.RNN`).

    ``forward(x, hx=None, lengths=None)`` returns ``(y, (h_n, c_n))`` with
    ``hx = (h0, c0)``, h [L*D, B, Hout] and c [L*D, B, H];
    ``backward(dy, dh_n, dc_n, need_dx, need_dh0, need_dc0)`` returns
    ``(dx, (dh0, dc0))``. Streaming: :meth:`rnn.State.get_cell` and
    ``set_cell``.
    """

    _cell = _capi.RNN_CELL_LSTM

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, *,
                 output_size=0, head_mode="last", seed=0, vocab_size=0, padding_idx=None):
        _torch_device_dtype(device, dtype)
        self._create(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     bidirectional, output_size, head_mode, seed, proj_size=proj_size,
                     vocab_size=vocab_size, padding_idx=padding_idx)

    def forward(self, x, hx=None, lengths=None):
        """Runs the LSTM over a batch; returns ``(y, (h_n, c_n))``.

        x as :meth:`rnn.RNN.forward` (one sequence [T, I] too); hx: None
        (zeros) or a pair ``(h0, c0)``, either of which may be None, h0
        [L*D, B, Hout], c0 [L*D, B, H]. Returns y [T, B, D*Hout] ([B, T,
        D*Hout] when batch_first), h_n [L*D, B, Hout], c_n [L*D, B, H].
        """
        h0, c0 = _pair(hx, "hx", "(h0, c0)")
        y, h_n, c_n = self._run(x, h0, c0, lengths)
        return y, (h_n, c_n)

    __call__ = forward

    def backward(self, dy=None, dh_n=None, dc_n=None, need_dx=False, need_dh0=False,
                 need_dc0=False):
        """Backpropagation through time over the last :meth:`forward`, as
        :meth:`rnn.RNN.backward` plus dc_n (None or [L*D, B, H], the
        gradient w.r.t. c_n; it counts as something to propagate). Returns
        ``(dx, (dh0, dc0))``, each None unless asked for."""
        dx, dh0, dc0 = self._backprop(dy, dh_n, dc_n, need_dx, need_dh0, need_dc0)
        return dx, (dh0, dc0)

    def _torch_module(self):
        import torch
        return torch.nn.LSTM(self.input_size, self.hidden_size, self.num_layers,
                             bias=self.bias, batch_first=self.batch_first,
                             dropout=self.dropout, bidirectional=self.bidirectional,
                             proj_size=self.proj_size)

    @classmethod
    def _torch_arguments(cls, module):
        return dict(_torch_common_arguments(module), proj_size=module.proj_size)


class GRU(RNNBase):
    """``torch.nn.GRU`` on librnn: gates r, z, n in each [3H] block,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` and
    ``h' = (1 - z) * n + z * h`` as in torch.

    The positional arguments are torch's, in torch's order; ``device`` may
    only be None or "cpu" and ``dtype`` None or float32. Keyword-only, as
    :class:`rnn.RNN`: ``output_size``, ``head_mode``, ``seed``, ``vocab_size``
    and ``padding_idx``.
    ``forward(x, hx=None, lengths=None)`` returns ``(y, h_n)`` and
    ``backward`` ``(dx, dh0)``, as :class:`rnn.RNN`'s.
    """

    _cell = _capi.RNN_CELL_GRU

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *,
                 output_size=0, head_mode="last", seed=0, vocab_size=0, padding_idx=None):
        _torch_device_dtype(device, dtype)
        self._create(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     bidirectional, output_size, head_mode, seed,
                     vocab_size=vocab_size, padding_idx=padding_idx)

    def forward(self, x, hx=None, lengths=None):
        """Runs the GRU over a batch; returns ``(y, h_n)``. hx: None (zeros)
        or h0 [L*D, B, H]; the rest as :meth:`rnn.RNN.forward`."""
        if isinstance(hx, tuple):
            raise ValueError("a GRU has no cell state: hx must be None or h0 [L*D, B, H], "
                             "not a pair (h0, c0) (that is an LSTM's)")
        return RNNBase.forward(self, x, hx, lengths)

    __call__ = forward

    def _torch_module(self):
        import torch
        return torch.nn.GRU(self.input_size, self.hidden_size, self.num_layers,
                            bias=self.bias, batch_first=self.batch_first,
                            dropout=self.dropout, bidirectional=self.bidirectional)

    @classmethod
    def _torch_arguments(cls, module):
        return _torch_common_arguments(module)


def _pair(hx, name, layout):
    """(h0, c0) from None or a pair."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise ValueError("%s must be None or a pair %s, got %s" % (name, layout, type(hx).__name__))
    return hx[0], hx[1]
