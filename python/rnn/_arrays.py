# SPDX-License-Identifier: MIT
"""Argument conversion shared by the binding: anything array-like (NumPy,
lists, CPU torch tensors) becomes a C-contiguous float32 / int32 array, with a
ValueError naming the argument when its dtype or shape is wrong."""

import numpy as np


def to_numpy(value):
    """NumPy array of `value`; torch tensors are detached and moved to CPU."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def as_f32(value, name):
    """C-contiguous float32 copy (or the array itself when it already is one)."""
    arr = to_numpy(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError("%s must be real numbers, got dtype %s" % (name, arr.dtype))
    return np.ascontiguousarray(arr, dtype=np.float32)


def as_i32(value, name):
    """C-contiguous int32 array of integers (integral floats are refused)."""
    arr = to_numpy(value)
    if arr.dtype.kind not in "iub":
        raise ValueError("%s must be integers, got dtype %s" % (name, arr.dtype))
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError("%s has values outside the int32 range" % name)
    return np.ascontiguousarray(arr, dtype=np.int32)


def check_shape(arr, shape, name, layout=None):
    """Raises ValueError unless arr.shape == shape."""
    shape = tuple(int(s) for s in shape)
    if arr.shape != shape:
        raise ValueError("%s must have shape %s%s, got %s"
                         % (name, shape, " (%s)" % layout if layout else "", tuple(arr.shape)))
    return arr


def check_int32(value, name, minimum=None):
    """An int in the int32 range (and >= minimum), else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError("%s must be an integer, got %r" % (name, value))
    value = int(value)
    if not -2**31 <= value < 2**31:
        raise ValueError("%s=%d does not fit in int32" % (name, value))
    if minimum is not None and value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    return value
