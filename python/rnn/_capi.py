# SPDX-License-Identifier: MIT
"""Low-level ctypes mirror of ``include/rnn.h``.

This module finds and loads ``librnn.so``, mirrors the public structs exactly,
declares ``argtypes``/``restype`` for every function the binding uses, and turns
every non-zero ``rnn_status`` into :class:`RNNError` carrying the C message.

It is the only module that touches ctypes directly. The functions are reachable
as attributes of :data:`C` (``C.rnn_forward(...)``) for callers who need the raw
API; they take NumPy arrays (float32 / int32 / uint8, C-contiguous) or ``None``
for pointer arguments, and raise :class:`RNNError` instead of returning a status.
"""

import ctypes
import enum
import glob
import os
import site
import sys
import sysconfig

import numpy as np

#: The version of ``include/rnn.h`` this binding mirrors (RNN_VERSION_NUMBER).
BINDING_VERSION = (0, 2, 0)
BINDING_VERSION_NUMBER = BINDING_VERSION[0] * 10000 + BINDING_VERSION[1] * 100 + BINDING_VERSION[2]


# --------------------------------------------------------------------------
# Status codes and the exception
# --------------------------------------------------------------------------

class Status(enum.IntEnum):
    """``rnn_status``: the numeric values are pinned by the C ABI."""
    RNN_OK = 0
    RNN_E_INVALID_ARG = 1
    RNN_E_NOMEM = 2
    RNN_E_SHAPE = 3
    RNN_E_UNSUPPORTED = 4
    RNN_E_IO = 5
    RNN_E_FORMAT = 6
    RNN_E_NONFINITE = 7
    RNN_E_STATE = 8


class RNNError(Exception):
    """A librnn call failed.

    Attributes:
        status: the ``rnn_status`` value (int).
        status_name: its C name, e.g. ``"RNN_E_SHAPE"``.
        message: the library's detail, e.g.
            ``"rnn_forward: batch must be > 0 (got 0)"`` (from ``rnn_last_error``).
    """

    def __init__(self, status, message):
        self.status = int(status)
        try:
            self.status_name = Status(self.status).name
        except ValueError:
            self.status_name = "RNN_E_UNKNOWN(%d)" % self.status
        self.message = message
        super().__init__(message)

    def __str__(self):
        return "%s [%s]" % (self.message, self.status_name)


# --------------------------------------------------------------------------
# Structs: field for field the layout of include/rnn.h
# --------------------------------------------------------------------------

class RNNConfig(ctypes.Structure):
    """``rnn_config``. Obtain one from :func:`new_config` only."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("input_size", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
        ("num_layers", ctypes.c_int32),
        ("bidirectional", ctypes.c_int32),
        ("nonlinearity", ctypes.c_int32),
        ("bias", ctypes.c_int32),
        ("batch_first", ctypes.c_int32),
        ("output_size", ctypes.c_int32),
        ("head_mode", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
        ("dropout", ctypes.c_float),
        ("cell", ctypes.c_int32),
        ("proj_size", ctypes.c_int32),
        ("vocab_size", ctypes.c_int32),
        ("has_padding_idx", ctypes.c_int32),
        ("padding_idx", ctypes.c_int32),
    ]


class RNNOptimConfig(ctypes.Structure):
    """``rnn_optim_config``. Obtain one from :func:`new_optim_config` only."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("kind", ctypes.c_int32),
        ("nesterov", ctypes.c_int32),
        ("lr", ctypes.c_float),
        ("momentum", ctypes.c_float),
        ("dampening", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("amsgrad", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


class RNNTensorInfo(ctypes.Structure):
    """``rnn_tensor_info``: where one named tensor lives in the flat buffers."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("offset", ctypes.c_size_t),
        ("count", ctypes.c_size_t),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.c_int32 * 2),
    ]


_F32P = ctypes.POINTER(ctypes.c_float)
_I32P = ctypes.POINTER(ctypes.c_int32)


class RNNForwardArgs(ctypes.Structure):
    """``rnn_forward_args``: every argument of rnn_forward_ex."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("seq_len", ctypes.c_int32),
        ("batch", ctypes.c_int32),
        ("x", _F32P),
        ("ids", _I32P),
        ("lengths", _I32P),
        ("h0", _F32P),
        ("c0", _F32P),
        ("y", _F32P),
        ("h_n", _F32P),
        ("c_n", _F32P),
        ("logits", _F32P),
        ("inference", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


class RNNBackwardArgs(ctypes.Structure):
    """``rnn_backward_args``: every argument of rnn_backward_ex."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("dy", _F32P),
        ("dh_n", _F32P),
        ("dc_n", _F32P),
        ("dx", _F32P),
        ("dh0", _F32P),
        ("dc0", _F32P),
    ]


def f32_ptr(array):
    """A float * for a struct field: NULL for None, else the data of a
    C-contiguous float32 array (which the caller keeps alive over the call)."""
    if array is None:
        return None
    return array.ctypes.data_as(_F32P)


def i32_ptr(array):
    """An int32_t * for a struct field, like :func:`f32_ptr`."""
    if array is None:
        return None
    return array.ctypes.data_as(_I32P)


# Enumerations of the header.
RNN_TANH, RNN_RELU = 0, 1
RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU = 0, 1, 2
RNN_HEAD_LAST, RNN_HEAD_ALL = 0, 1
RNN_REDUCTION_MEAN, RNN_REDUCTION_SUM = 0, 1
RNN_OPTIM_SGD, RNN_OPTIM_ADAM, RNN_OPTIM_ADAMW = 0, 1, 2
RNN_INIT_UNIFORM, RNN_INIT_XAVIER_UNIFORM, RNN_INIT_ORTHOGONAL = 0, 1, 2


# --------------------------------------------------------------------------
# Pointer argument types: NumPy arrays (checked) or None (NULL)
# --------------------------------------------------------------------------

def _array_param(dtype, writable, what):
    dtype = np.dtype(dtype)

    class _Param:
        @classmethod
        def from_param(cls, obj):
            if obj is None:
                return None
            if not isinstance(obj, np.ndarray):
                raise TypeError("expected a numpy %s array or None for %s, got %s"
                                % (dtype.name, what, type(obj).__name__))
            if obj.dtype != dtype:
                raise TypeError("expected dtype %s for %s, got %s" % (dtype.name, what, obj.dtype))
            if not obj.flags.c_contiguous:
                raise TypeError("%s array must be C-contiguous" % what)
            if writable and not obj.flags.writeable:
                raise TypeError("%s array must be writable" % what)
            return ctypes.c_void_p(obj.ctypes.data)

    _Param.__name__ = "%s_%s" % ("out" if writable else "in", dtype.name)
    return _Param


_f32_in = _array_param(np.float32, False, "a const float *")
_f32_out = _array_param(np.float32, True, "a float *")
_i32_in = _array_param(np.int32, False, "a const int32_t *")
_u8_in = _array_param(np.uint8, False, "a const uint8_t *")

_status = "rnn_status"           # marker in _PROTOTYPES: a C int, error-checked
_handle = ctypes.c_void_p     # rnn_t *, rnn_state_t *, rnn_optim_t *
_handle_out = ctypes.POINTER(ctypes.c_void_p)
_path = ctypes.c_char_p       # bytes from os.fsencode
_i32, _u64, _f32, _sz = ctypes.c_int32, ctypes.c_uint64, ctypes.c_float, ctypes.c_size_t
_float_pp = ctypes.POINTER(ctypes.POINTER(ctypes.c_float))
_size_p = ctypes.POINTER(ctypes.c_size_t)

# name: (restype, argtypes). A restype of _status gets the error check.
_PROTOTYPES = {
    # version and errors
    "rnn_version": (ctypes.c_char_p, []),
    "rnn_version_number": (_i32, []),
    "rnn_strerror": (ctypes.c_char_p, [_status]),
    "rnn_last_error": (ctypes.c_char_p, []),
    "rnn_clear_error": (None, []),
    # configuration, create, destroy
    "rnn_config_init": (_status, [ctypes.POINTER(RNNConfig), ctypes.c_size_t, _i32, _i32]),
    "rnn_create": (_status, [_handle_out, ctypes.POINTER(RNNConfig)]),
    "rnn_destroy": (None, [_handle]),
    "rnn_get_config": (_status, [_handle, ctypes.POINTER(RNNConfig)]),
    # training
    "rnn_forward": (_status, [_handle, _i32, _i32, _f32_in, _i32_in, _f32_in, _f32_out, _f32_out]),
    "rnn_forward_inference": (_status, [_handle, _i32, _i32, _f32_in, _i32_in, _f32_in,
                                        _f32_out, _f32_out, _f32_out]),
    "rnn_seed_dropout": (_status, [_handle, ctypes.c_uint64]),
    "rnn_backward": (_status, [_handle, _f32_in, _f32_in, _f32_out, _f32_out]),
    "rnn_forward_args_init": (_status, [ctypes.POINTER(RNNForwardArgs), ctypes.c_size_t]),
    "rnn_forward_ex": (_status, [_handle, ctypes.POINTER(RNNForwardArgs)]),
    "rnn_backward_args_init": (_status, [ctypes.POINTER(RNNBackwardArgs), ctypes.c_size_t]),
    "rnn_backward_ex": (_status, [_handle, ctypes.POINTER(RNNBackwardArgs)]),
    "rnn_zero_grad": (_status, [_handle]),
    "rnn_head_forward": (_status, [_handle, _f32_out]),
    "rnn_head_backward": (_status, [_handle, _f32_in]),
    # losses
    "rnn_loss_bce_with_logits": (_status, [_i32, _f32_in, _f32_in, _i32,
                                           ctypes.POINTER(ctypes.c_float), _f32_out]),
    "rnn_loss_cross_entropy": (_status, [_i32, _i32, _f32_in, _i32_in, _i32, _i32,
                                         ctypes.POINTER(ctypes.c_float), _f32_out]),
    "rnn_loss_mse": (_status, [_i32, _f32_in, _f32_in, _i32,
                               ctypes.POINTER(ctypes.c_float), _f32_out]),
    # optimizers and clipping
    "rnn_sgd_step": (_status, [_handle, _f32]),
    "rnn_optim_config_init": (_status, [ctypes.POINTER(RNNOptimConfig), ctypes.c_size_t,
                                        _i32, _f32]),
    "rnn_optim_create": (_status, [_handle_out, _handle, ctypes.POINTER(RNNOptimConfig)]),
    "rnn_optim_destroy": (None, [_handle]),
    "rnn_optim_step": (_status, [_handle, _handle]),
    "rnn_optim_set_lr": (_status, [_handle, _f32]),
    "rnn_optim_get_config": (_status, [_handle, ctypes.POINTER(RNNOptimConfig)]),
    "rnn_optim_step_count": (_status, [_handle, ctypes.POINTER(ctypes.c_int64)]),
    "rnn_clip_grad_norm": (_status, [_handle, _f32, ctypes.POINTER(ctypes.c_float)]),
    "rnn_check_grads": (_status, [_handle]),
    "rnn_check_params": (_status, [_handle]),
    # streaming
    "rnn_state_create": (_status, [_handle_out, _handle, _i32]),
    "rnn_state_destroy": (None, [_handle]),
    "rnn_state_reset": (_status, [_handle, _u8_in]),
    "rnn_state_get": (_status, [_handle, _f32_out]),
    "rnn_state_get_cell": (_status, [_handle, _f32_out]),
    "rnn_state_set_cell": (_status, [_handle, _f32_in]),
    "rnn_state_set": (_status, [_handle, _f32_in]),
    "rnn_state_batch": (_status, [_handle, ctypes.POINTER(ctypes.c_int32)]),
    "rnn_step": (_status, [_handle, _handle, _f32_in, _f32_out]),
    "rnn_step_tokens": (_status, [_handle, _handle, _i32_in, _f32_out]),
    "rnn_step_head": (_status, [_handle, _handle, _f32_out]),
    "rnn_pack_weights": (_status, [_handle]),
    "rnn_unpack_weights": (None, [_handle]),
    # parameters
    "rnn_params": (_status, [_handle, _float_pp, _size_p]),
    "rnn_grads": (_status, [_handle, _float_pp, _size_p]),
    "rnn_tensor_count": (_status, [_handle, ctypes.POINTER(ctypes.c_int32)]),
    "rnn_tensor_at": (_status, [_handle, _i32, ctypes.POINTER(RNNTensorInfo)]),
    "rnn_tensor_find": (_status, [_handle, ctypes.c_char_p, ctypes.POINTER(RNNTensorInfo)]),
    "rnn_init_uniform": (_status, [_handle, _u64]),
    "rnn_init": (_status, [_handle, _i32, _u64]),
    # saving and loading
    "rnn_save": (_status, [_handle, _path]),
    "rnn_save_cleanup": (_status, [_path, ctypes.POINTER(_i32)]),
    "rnn_save_size": (_status, [_handle, _size_p]),
    "rnn_save_buffer": (_status, [_handle, ctypes.c_void_p, _sz, _size_p]),
    "rnn_load": (_status, [_handle_out, _path]),
    "rnn_load_buffer": (_status, [_handle_out, ctypes.c_char_p, _sz]),
    "rnn_load_params": (_status, [_handle, _path]),
    "rnn_load_params_buffer": (_status, [_handle, ctypes.c_char_p, _sz]),
    "rnn_optim_save": (_status, [_handle, _path]),
    "rnn_optim_load": (_status, [_handle_out, _path]),
    "rnn_optim_save_size": (_status, [_handle, _size_p]),
    "rnn_optim_save_buffer": (_status, [_handle, ctypes.c_void_p, _sz, _size_p]),
    "rnn_optim_load_buffer": (_status, [_handle_out, ctypes.c_char_p, _sz]),
    # diagnostics
    "rnn_spectral_radius": (_status, [_handle, _f32_out]),
    "rnn_blas_info": (ctypes.c_char_p, []),
    # threads
    "rnn_set_num_threads": (_status, [ctypes.c_int]),
    "rnn_get_num_threads": (ctypes.c_int, []),
}


# --------------------------------------------------------------------------
# Finding the library
# --------------------------------------------------------------------------

# The system loader's name for the library: the SONAME, which the runtime
# package (librnn0) installs; librnn.so is only in the development package.
_SONAME = "librnn.so.%d" % BINDING_VERSION[0]


def _prefix_libdirs(prefix):
    """The library directories of an installation prefix, most specific first."""
    multiarch = sysconfig.get_config_var("MULTIARCH")
    dirs = [os.path.join(prefix, "lib", multiarch)] if multiarch else []
    return dirs + [os.path.join(prefix, "lib64"), os.path.join(prefix, "lib")]


def _candidate_paths():
    """Where to look for librnn, in order (see the package docstring).

    Returns ([(path, where), ...], explicit): `where` says why a path is a
    candidate (for the error message); explicit is True when RNN_LIBRARY is
    set, which is then the only candidate.
    """
    explicit = os.environ.get("RNN_LIBRARY")
    if explicit:
        return [(explicit, "RNN_LIBRARY")], True
    here = os.path.dirname(os.path.abspath(__file__))          # .../rnn
    found = []
    # 1. Installed by `cmake --install` with RNN_INSTALL_PYTHON=ON: the
    #    library directory of that installation, relative to this package.
    try:
        from . import _install  # pylint: disable=import-outside-toplevel
        libdir = os.path.normpath(os.path.join(here, _install.LIBDIR_FROM_PACKAGE))
        found.append((os.path.join(libdir, _SONAME), "the prefix cmake --install used"))
    except ImportError:
        pass
    # 2. A source checkout: build*/librnn.so beside python/.
    roots = [os.path.dirname(here), os.path.dirname(os.path.dirname(here))]
    for root in roots:
        trees = glob.glob(os.path.join(root, "build*", "librnn.so"))
        # build/ and build-test/ first; sanitized trees last (an ASan library
        # cannot be loaded into an uninstrumented interpreter).
        def rank(path):
            tree = os.path.basename(os.path.dirname(path))
            order = {"build": 0, "build-test": 1}.get(tree, 2)
            return (order + (10 if "san" in tree else 0), tree)
        found.extend((path, "a build tree of the source checkout")
                     for path in sorted(trees, key=rank))
    # 3. The prefix of this Python environment (a venv, ~/.local for
    #    pip install --user): librnn installed there with cmake --install.
    prefixes = [sys.prefix]
    user_base = getattr(site, "USER_BASE", None)
    if user_base and os.path.abspath(here).startswith(os.path.abspath(user_base) + os.sep):
        prefixes.insert(0, user_base)
    for prefix in prefixes:
        if os.path.realpath(prefix) in ("/usr", "/"):
            continue  # the system's own: the loader's business (4.)
        for libdir in _prefix_libdirs(prefix):
            found.append((os.path.join(libdir, _SONAME), "the Python prefix %s" % prefix))
    # 4. The system loader: LD_LIBRARY_PATH, the ld.so cache (/etc/ld.so.conf:
    #    /usr/local/lib after ldconfig, the Debian package's /usr/lib/<multiarch>).
    found.append((_SONAME, "the system loader (LD_LIBRARY_PATH, ld.so.cache, /usr/lib)"))
    return found, False


def _loaded_path(lib, name):
    """The file the loader opened for `lib` (loaded as `name`)."""
    if os.sep in name:
        return name
    class _LinkMap(ctypes.Structure):
        _fields_ = [("l_addr", ctypes.c_void_p), ("l_name", ctypes.c_char_p)]
    try:
        dlinfo = ctypes.CDLL(None).dlinfo
        dlinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        link_map = ctypes.POINTER(_LinkMap)()
        rtld_di_linkmap = 2
        if dlinfo(lib._handle, rtld_di_linkmap, ctypes.byref(link_map)) == 0 and \
                link_map and link_map.contents.l_name:
            return os.fsdecode(link_map.contents.l_name)
    except (AttributeError, OSError, ValueError):
        pass
    return name


def _load_library():
    candidates, explicit = _candidate_paths()
    tried = []
    for path, where in candidates:
        if os.sep in path and not os.path.exists(path):
            tried.append("  %s (%s): no such file" % (path, where))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            tried.append("  %s (%s): %s" % (path, where, exc))
            continue
        return lib, _loaded_path(lib, path)
    if explicit:
        hint = "RNN_LIBRARY=%s could not be loaded" % candidates[0][0]
    else:
        hint = ("%s not found. Install librnn (the librnn0 Debian package, or "
                "cmake --install), point RNN_LIBRARY at the library file, or add "
                "its directory to LD_LIBRARY_PATH" % _SONAME)
    raise ImportError("rnn: %s. Tried, in order:\n%s" % (hint, "\n".join(tried)))


def _last_error():
    text = _raw_last_error()
    return text.decode("utf-8", "replace") if text else ""


def _errcheck(result, func, args):
    if result != 0:
        # Read the thread-local message now, before any other librnn call.
        message = _last_error() or "%s: %s" % (func.__name__, _strerror(result))
        raise RNNError(result, message)
    return result


class _Missing:
    """Stands for a function the loaded library does not export."""

    def __init__(self, name, path):
        self.__name__ = name
        self._path = path

    def __call__(self, *args):
        raise RNNError(Status.RNN_E_UNSUPPORTED,
                       "%s: not exported by %s (a library older than this binding?)"
                       % (self.__name__, self._path))


class _Functions:
    """The declared C functions, as attributes (``C.rnn_forward``)."""

    def __init__(self, lib, path):
        self.missing = []
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                setattr(self, name, _Missing(name, path))
                self.missing.append(name)
                continue
            fn.argtypes = [ctypes.c_int if a is _status else a for a in argtypes]
            if restype is _status:
                fn.restype = ctypes.c_int
                fn.errcheck = _errcheck
            else:
                fn.restype = restype
            setattr(self, name, fn)

    def has(self, name):
        """True when the loaded library exports ``name``."""
        return name not in self.missing


LIB, LIBRARY_PATH = _load_library()
C = _Functions(LIB, LIBRARY_PATH)
_raw_last_error = C.rnn_last_error


def _strerror(status):
    return C.rnn_strerror(status).decode("utf-8", "replace")


def new_config(input_size, hidden_size):
    """An ``rnn_config`` with the library's defaults (``rnn_config_init``)."""
    cfg = RNNConfig()
    C.rnn_config_init(ctypes.byref(cfg), ctypes.sizeof(cfg), input_size, hidden_size)
    return cfg


def new_optim_config(kind, lr):
    """An ``rnn_optim_config`` with PyTorch's defaults (``rnn_optim_config_init``)."""
    cfg = RNNOptimConfig()
    C.rnn_optim_config_init(ctypes.byref(cfg), ctypes.sizeof(cfg), kind, lr)
    return cfg


def _check_abi():
    number = C.rnn_version_number()
    if number // 10000 != BINDING_VERSION[0]:
        raise ImportError("rnn: %s is librnn %s, this binding is for major version %d"
                          % (LIBRARY_PATH, C.rnn_version().decode(), BINDING_VERSION[0]))
    # The structs mirrored here must be a layout the library knows (any
    # release's, by the struct_size rule of rnn.h).
    try:
        new_config(1, 1)
        new_optim_config(RNN_OPTIM_SGD, 0.1)
    except RNNError as err:
        raise ImportError("rnn: %s does not accept this binding's structs: %s"
                          % (LIBRARY_PATH, err)) from None


_check_abi()


class Handle:
    """Owns one C object and frees it when the last reference goes.

    Objects that must outlive the Python wrapper hold this handle, not the
    wrapper: the NumPy views of the parameters keep the model's handle, so
    ``close()`` on the model frees it only once no view is left.
    """

    __slots__ = ("ptr", "_destroy", "__weakref__")

    def __init__(self, ptr, destroy):
        self.ptr = ptr
        self._destroy = destroy

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if ptr:
            self._destroy(ptr)


def new_handle():
    """A ``void *`` to pass as an ``rnn_*_t **out`` argument."""
    return ctypes.c_void_p()


def saved_bytes(ptr, size_fn, buffer_fn):
    """The bytes of a file saved through ``size_fn`` / ``buffer_fn``
    (rnn_save_size / rnn_save_buffer or their optimizer twins)."""
    size = ctypes.c_size_t()
    size_fn(ptr, ctypes.byref(size))
    buf = ctypes.create_string_buffer(size.value)
    written = ctypes.c_size_t()
    buffer_fn(ptr, buf, size.value, ctypes.byref(written))
    return buf.raw[:written.value]
