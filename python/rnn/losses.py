# SPDX-License-Identifier: MIT
"""Losses, computed by librnn: each returns ``(loss, grad)`` where grad has
the shape of the input (None when ``need_grad`` is false).

``reduction`` is ``"mean"`` or ``"sum"``, as in PyTorch.
"""

import ctypes

import numpy as np

from . import _capi
from ._arrays import as_f32, as_i32, check_int32, check_shape
from ._capi import C

_REDUCTIONS = {"mean": _capi.RNN_REDUCTION_MEAN, "sum": _capi.RNN_REDUCTION_SUM}


def _reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("reduction must be 'mean' or 'sum', got %r" % (reduction,))
    return _REDUCTIONS[reduction]


def _count(arr, name):
    if arr.size == 0:
        raise ValueError("%s is empty" % name)
    if arr.size >= 2**31:
        raise ValueError("%s has more than 2**31-1 elements" % name)
    return int(arr.size)


def bce_with_logits(logits, targets, reduction="mean", need_grad=True):
    """Binary cross-entropy on logits (torch.nn.BCEWithLogitsLoss).

    logits and targets (in [0, 1]) have the same shape. Returns (loss, dlogits).
    """
    logits = as_f32(logits, "logits")
    targets = check_shape(as_f32(targets, "targets"), logits.shape, "targets", "shape of logits")
    n = _count(logits, "logits")
    loss = ctypes.c_float()
    grad = np.empty_like(logits) if need_grad else None
    C.rnn_loss_bce_with_logits(n, logits, targets, _reduction(reduction), ctypes.byref(loss), grad)
    return loss.value, grad


def cross_entropy(logits, targets, ignore_index=-100, reduction="mean", need_grad=True):
    """Softmax cross-entropy on class indices (torch.nn.CrossEntropyLoss).

    logits [..., C] (classes last, e.g. the head's [B, O] or [T, B, O]),
    targets [...] integer classes in [0, C) or ``ignore_index`` (rows that add
    nothing; the mean divides by the rows not ignored, and is 0 when all
    are). Returns (loss, dlogits).
    """
    logits = as_f32(logits, "logits")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError("logits must be [..., C] with C > 0, got shape %s" % (logits.shape,))
    classes = logits.shape[-1]
    targets = check_shape(as_i32(targets, "targets"), logits.shape[:-1], "targets",
                          "logits' shape without the class dimension")
    rows = _count(targets, "targets") if targets.ndim else 1
    _count(logits, "logits")
    loss = ctypes.c_float()
    grad = np.empty_like(logits) if need_grad else None
    C.rnn_loss_cross_entropy(rows, classes, logits, targets,
                             check_int32(ignore_index, "ignore_index"),
                             _reduction(reduction), ctypes.byref(loss), grad)
    return loss.value, grad


def mse(pred, target, reduction="mean", need_grad=True):
    """Mean squared error (torch.nn.MSELoss). Returns (loss, dpred)."""
    pred = as_f32(pred, "pred")
    target = check_shape(as_f32(target, "target"), pred.shape, "target", "shape of pred")
    n = _count(pred, "pred")
    loss = ctypes.c_float()
    grad = np.empty_like(pred) if need_grad else None
    C.rnn_loss_mse(n, pred, target, _reduction(reduction), ctypes.byref(loss), grad)
    return loss.value, grad
