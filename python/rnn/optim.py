# SPDX-License-Identifier: MIT
"""Optimizers (torch.optim.SGD / Adam / AdamW rules, run by librnn over the
flat parameter buffer) and gradient clipping."""

import ctypes
import os

from . import _capi
from ._capi import C, Handle

_KINDS = {"sgd": _capi.RNN_OPTIM_SGD, "adam": _capi.RNN_OPTIM_ADAM, "adamw": _capi.RNN_OPTIM_ADAMW}
_NAMES = {v: k for k, v in _KINDS.items()}
_FLOAT_FIELDS = ("momentum", "dampening", "weight_decay", "beta1", "beta2", "eps")


class Optimizer:
    """An optimizer for ``model`` (librnn's rnn_optim_t).

    ``kind`` is "sgd", "adam" or "adamw"; hyperparameters have PyTorch's names
    and defaults: ``lr``, ``momentum``, ``dampening``, ``nesterov`` (SGD),
    ``betas=(beta1, beta2)`` (or ``beta1=``/``beta2=``), ``eps`` (Adam),
    ``weight_decay`` (default 0, AdamW 0.01), ``amsgrad`` (Adam, AdamW;
    default False). The state (momentum buffers, Adam moments) starts at
    zero. :attr:`defaults` holds every hyperparameter, also after
    :meth:`load`.

    Typical loop: ``model.zero_grad(); ...; model.backward(...);
    opt.step()``. :meth:`step` does not zero the gradients.
    """

    def __init__(self, model, kind="adam", lr=1e-3, **hyper):
        if not isinstance(kind, str) or kind.lower() not in _KINDS:
            raise ValueError("kind must be one of 'sgd', 'adam', 'adamw', got %r" % (kind,))
        cfg = _capi.new_optim_config(_KINDS[kind.lower()], float(lr))
        if "betas" in hyper:
            betas = hyper.pop("betas")
            if len(betas) != 2:
                raise ValueError("betas must be a pair (beta1, beta2), got %r" % (betas,))
            cfg.beta1, cfg.beta2 = float(betas[0]), float(betas[1])
        if "nesterov" in hyper:
            cfg.nesterov = 1 if hyper.pop("nesterov") else 0
        if "amsgrad" in hyper:
            cfg.amsgrad = 1 if hyper.pop("amsgrad") else 0
        for name in _FLOAT_FIELDS:
            if name in hyper:
                setattr(cfg, name, float(hyper.pop(name)))
        if hyper:
            raise TypeError("unknown optimizer argument(s): %s" % ", ".join(sorted(hyper)))
        self._create(model, cfg)

    def _create(self, model, cfg, ptr=None):
        if ptr is None:
            out = _capi.new_handle()
            C.rnn_optim_create(ctypes.byref(out), model._ptr, ctypes.byref(cfg))
            ptr = out.value
        self._handle = Handle(ptr, C.rnn_optim_destroy)
        if cfg is None:   # loaded: the hyperparameters the file held
            cfg = _capi.new_optim_config(_capi.RNN_OPTIM_SGD, 0.0)
            C.rnn_optim_get_config(ptr, ctypes.byref(cfg))
        self._cfg = cfg
        self.model = model

    @classmethod
    def load(cls, path, model):
        """An optimizer restored from a file written by :meth:`save`, stepping ``model``."""
        out = _capi.new_handle()
        C.rnn_optim_load(ctypes.byref(out), os.fsencode(os.fspath(path)))
        self = cls.__new__(cls)
        self._create(model, None, out.value)
        return self

    @classmethod
    def from_bytes(cls, data, model):
        """An optimizer restored from the bytes of :meth:`to_bytes` (or of a
        saved file), stepping ``model``."""
        data = bytes(data)
        out = _capi.new_handle()
        C.rnn_optim_load_buffer(ctypes.byref(out), data, len(data))
        self = cls.__new__(cls)
        self._create(model, None, out.value)
        return self

    @property
    def _ptr(self):
        if self._handle is None:
            raise ValueError("this Optimizer is closed")
        return self._handle.ptr

    def close(self):
        """Frees the optimizer's state. Idempotent."""
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def step(self, model=None):
        """One update of ``model`` (default: the optimizer's) from its
        gradients. Raises RNNError (RNN_E_NONFINITE) and changes nothing if a
        gradient is NaN/Inf."""
        C.rnn_optim_step(self._ptr, (model or self.model)._ptr)

    def zero_grad(self):
        """Zeroes the model's gradients (convenience, like torch)."""
        self.model.zero_grad()

    @property
    def kind(self):
        """"sgd", "adam" or "adamw"."""
        return _NAMES.get(self._cfg.kind)

    @property
    def lr(self):
        """The learning rate; assign to change it (schedules)."""
        return self._cfg.lr

    @lr.setter
    def lr(self, value):
        C.rnn_optim_set_lr(self._ptr, float(value))
        self._cfg.lr = float(value)

    @property
    def defaults(self):
        """Every hyperparameter under torch.optim's names, as a dict (torch's
        ``optimizer.defaults``): read from the library, so a loaded optimizer
        reports what its file held."""
        c = self._cfg
        if c.kind == _capi.RNN_OPTIM_SGD:
            return {"lr": c.lr, "momentum": c.momentum, "dampening": c.dampening,
                    "weight_decay": c.weight_decay, "nesterov": bool(c.nesterov)}
        return {"lr": c.lr, "betas": (c.beta1, c.beta2), "eps": c.eps,
                "weight_decay": c.weight_decay, "amsgrad": bool(c.amsgrad)}

    @property
    def step_count(self):
        """Number of steps taken so far."""
        steps = ctypes.c_int64()
        C.rnn_optim_step_count(self._ptr, ctypes.byref(steps))
        return steps.value

    def save(self, path):
        """Saves the optimizer's state (safetensors) so training resumes exactly."""
        C.rnn_optim_save(self._ptr, os.fsencode(os.fspath(path)))

    def to_bytes(self):
        """The bytes :meth:`save` would write."""
        return _capi.saved_bytes(self._ptr, C.rnn_optim_save_size,
                                 C.rnn_optim_save_buffer)


def clip_grad_norm(model, max_norm):
    """Scales ``model``'s gradients to a global L2 norm <= max_norm and
    returns the norm before clipping (torch.nn.utils.clip_grad_norm_)."""
    return model.clip_grad_norm(max_norm)
