# SPDX-License-Identifier: MIT
"""rnn: Python (ctypes) binding of librnn, recurrent networks on CBLAS with
exactly PyTorch's semantics: :class:`RNN` (``torch.nn.RNN``, Elman),
:class:`LSTM` (``torch.nn.LSTM``) and :class:`GRU` (``torch.nn.GRU``).

Quick start::

    import numpy as np, rnn
    model = rnn.RNN(input_size=1, hidden_size=32, output_size=1, seed=42)
    opt = rnn.Optimizer(model, "adam", lr=1e-2)
    x = np.random.randn(10, 64, 1).astype(np.float32)          # [T, B, I]
    labels = (x.sum(axis=(0, 2)) > 0).astype(np.float32)[:, None]
    for _ in range(100):
        model.zero_grad()
        model.forward(x)
        loss, dlogits = rnn.bce_with_logits(model.head_forward(), labels)
        model.head_backward(dlogits)
        model.backward()
        opt.step()

The library is found through, in order: the environment variable
``RNN_LIBRARY`` (a path, used alone when set); the library directory of the
prefix ``cmake --install`` put this package in (``-DRNN_INSTALL_PYTHON=ON``);
``build*/librnn.so`` in a source tree around this package; ``lib/`` of this
Python's prefix (a virtual environment, or ``~/.local`` for a ``pip install
--user`` package); then the system loader (``librnn.so.0`` through
``LD_LIBRARY_PATH``, the ld.so cache, ``/usr/lib``). When none loads, the
ImportError lists every path tried and why it failed. ``rnn.library_path()``
names the file loaded. The library's major version must match the binding's.

Every failing librnn call raises :class:`RNNError` with ``.status``,
``.status_name`` and the library's message; arguments that are plainly wrong
(shapes, dtypes) raise ``ValueError`` before reaching the library.
"""

from . import _capi
from ._capi import BINDING_VERSION, LIBRARY_PATH, RNNError, Status
from .losses import bce_with_logits, cross_entropy, mse
from .model import RNN, RNNBase, LoadResult, State, TensorInfo, no_grad, save_cleanup
from .cells import GRU, LSTM
from .optim import Optimizer, clip_grad_norm

__version__ = "%d.%d.%d" % BINDING_VERSION

__all__ = [
    "RNN", "LSTM", "GRU", "RNNBase", "load", "from_bytes", "State", "Optimizer", "RNNError", "Status", "TensorInfo", "LoadResult",
    "bce_with_logits", "cross_entropy", "mse", "clip_grad_norm", "save_cleanup", "no_grad",
    "version", "version_number", "blas_info", "library_path", "last_error", "clear_error",
    "set_num_threads", "get_num_threads",
]


def version():
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return _capi.C.rnn_version().decode()


def version_number():
    """The loaded library's RNN_VERSION_NUMBER (major*10000 + minor*100 + patch)."""
    return _capi.C.rnn_version_number()


def blas_info():
    """Which BLAS library serves cblas_sgemm in this process (path and configuration)."""
    return _capi.C.rnn_blas_info().decode("utf-8", "replace")


def set_num_threads(n):
    """librnn's own thread count, process-wide (rnn_set_num_threads): n >= 1, or 0 for
    the default (one per CPU). Inside librnn's calls the BLAS runs one thread."""
    _capi.C.rnn_set_num_threads(int(n))


def get_num_threads():
    """The thread count librnn computes with (rnn_get_num_threads)."""
    return _capi.C.rnn_get_num_threads()


def library_path():
    """The path of the librnn.so this binding loaded."""
    return LIBRARY_PATH


def clear_error():
    """Forgets this thread's last librnn error message."""
    _capi.C.rnn_clear_error()


def last_error():
    """This thread's last librnn error message ("" when none)."""
    return _capi._last_error()


def load(path):
    """The model a safetensors file holds, as rnn.RNN, rnn.LSTM or rnn.GRU."""
    return RNNBase.load(path)


def from_bytes(data):
    """The model safetensors bytes hold, as rnn.RNN, rnn.LSTM or rnn.GRU."""
    return RNNBase.from_bytes(data)
