# SPDX-License-Identifier: MIT
"""The binding itself: ABI mirror, errors, views, streaming, optimizers."""

import ctypes
import gc
import os
import re
import shutil
import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest
import torch

import rnn
from rnn import _capi
from conftest import ROOT
from torch_ref import torch_rnn_like

HEADER = os.path.join(ROOT, "include", "rnn.h")


def _header_version():
    text = open(HEADER).read()
    return tuple(int(re.search(r"#define RNN_VERSION_%s (\d+)" % part, text).group(1))
                 for part in ("MAJOR", "MINOR", "PATCH"))


# --------------------------------------------------------------------------
# Version and ABI
# --------------------------------------------------------------------------

def test_versions_agree_with_the_header():
    major, minor, patch = _header_version()
    assert rnn.version() == "%d.%d.%d" % (major, minor, patch)
    assert rnn.version_number() == major * 10000 + minor * 100 + patch
    assert _capi.BINDING_VERSION == (major, minor, patch), "binding written for another header"
    assert rnn.__version__ == rnn.version()


def test_num_threads_round_trips_and_bad_counts_raise():
    rnn.set_num_threads(2)
    assert rnn.get_num_threads() == 2
    with pytest.raises(rnn.RNNError):
        rnn.set_num_threads(-1)
    assert rnn.get_num_threads() == 2
    rnn.set_num_threads(0)
    assert rnn.get_num_threads() >= 1


def test_library_path_and_blas_info():
    assert os.path.exists(rnn.library_path())
    if os.environ.get("RNN_LIBRARY"):
        assert rnn.library_path() == os.environ["RNN_LIBRARY"]
    info = rnn.blas_info()
    assert isinstance(info, str) and "blas" in info.lower()


def _import_rnn(env, cwd, pythonpath):
    env = dict(env, PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", "import rnn; print(rnn.library_path())"],
                          env=env, cwd=cwd, capture_output=True, text=True)


def test_library_lookup_finds_a_build_tree_beside_the_package(tmp_path):
    """Without RNN_LIBRARY, build*/librnn.so around the package is found
    (build/ before build-test/ before the others)."""
    shutil.copytree(os.path.dirname(rnn.__file__), tmp_path / "python" / "rnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    real = os.path.realpath(rnn.library_path())
    for tree in ("build-zzz", "build-test"):
        (tmp_path / tree).mkdir()
        os.symlink(real, tmp_path / tree / "librnn.so")
    env = {k: v for k, v in os.environ.items() if k != "RNN_LIBRARY"}
    run = _import_rnn(env, tmp_path, str(tmp_path / "python"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "build-test" / "librnn.so")


def test_an_explicit_rnn_library_is_honoured_or_import_fails(tmp_path):
    bogus = str(tmp_path / "nope" / "librnn.so")
    run = _import_rnn(dict(os.environ, RNN_LIBRARY=bogus), tmp_path,
                      os.path.dirname(os.path.dirname(rnn.__file__)))
    assert run.returncode != 0
    assert "ImportError" in run.stderr and bogus in run.stderr


_LAYOUT_PROGRAM = r"""
#include <stddef.h>
#include <stdio.h>
#include "rnn.h"
#define F(T, f) printf(#T " " #f " %zu %zu\n", offsetof(T, f), sizeof(((T *)0)->f))
int main(void)
{
    printf("rnn_config sizeof %zu 0\n", sizeof(rnn_config));
    F(rnn_config, struct_size); F(rnn_config, input_size); F(rnn_config, hidden_size);
    F(rnn_config, num_layers); F(rnn_config, bidirectional); F(rnn_config, nonlinearity);
    F(rnn_config, bias); F(rnn_config, batch_first); F(rnn_config, output_size);
    F(rnn_config, head_mode); F(rnn_config, reserved); F(rnn_config, seed);
    F(rnn_config, dropout); F(rnn_config, cell); F(rnn_config, proj_size);
    F(rnn_config, vocab_size); F(rnn_config, has_padding_idx); F(rnn_config, padding_idx);
    printf("rnn_optim_config sizeof %zu 0\n", sizeof(rnn_optim_config));
    F(rnn_optim_config, struct_size); F(rnn_optim_config, kind); F(rnn_optim_config, nesterov);
    F(rnn_optim_config, lr); F(rnn_optim_config, momentum); F(rnn_optim_config, dampening);
    F(rnn_optim_config, weight_decay); F(rnn_optim_config, beta1); F(rnn_optim_config, beta2);
    F(rnn_optim_config, eps); F(rnn_optim_config, amsgrad); F(rnn_optim_config, reserved);
    printf("rnn_tensor_info sizeof %zu 0\n", sizeof(rnn_tensor_info));
    F(rnn_tensor_info, struct_size); F(rnn_tensor_info, name); F(rnn_tensor_info, offset);
    F(rnn_tensor_info, count); F(rnn_tensor_info, ndim); F(rnn_tensor_info, shape);
    printf("rnn_forward_args sizeof %zu 0\n", sizeof(rnn_forward_args));
    F(rnn_forward_args, struct_size); F(rnn_forward_args, seq_len); F(rnn_forward_args, batch);
    F(rnn_forward_args, x); F(rnn_forward_args, ids); F(rnn_forward_args, lengths);
    F(rnn_forward_args, h0); F(rnn_forward_args, c0); F(rnn_forward_args, y);
    F(rnn_forward_args, h_n); F(rnn_forward_args, c_n); F(rnn_forward_args, logits);
    F(rnn_forward_args, inference); F(rnn_forward_args, reserved);
    printf("rnn_backward_args sizeof %zu 0\n", sizeof(rnn_backward_args));
    F(rnn_backward_args, struct_size); F(rnn_backward_args, dy); F(rnn_backward_args, dh_n);
    F(rnn_backward_args, dc_n); F(rnn_backward_args, dx); F(rnn_backward_args, dh0);
    F(rnn_backward_args, dc0);
    return 0;
}
"""


def test_ctypes_structs_mirror_the_header_exactly(tmp_path):
    """Compiles a probe against include/rnn.h: every field's offset and size,
    and every struct's size, must equal the ctypes mirror's."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (it built librnn)"
    src = tmp_path / "layout.c"
    src.write_text(_LAYOUT_PROGRAM)
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", os.path.dirname(HEADER), str(src), "-o", str(exe)],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    mirrors = {"rnn_config": _capi.RNNConfig, "rnn_optim_config": _capi.RNNOptimConfig,
               "rnn_tensor_info": _capi.RNNTensorInfo,
               "rnn_forward_args": _capi.RNNForwardArgs,
               "rnn_backward_args": _capi.RNNBackwardArgs}
    seen = {name: [] for name in mirrors}
    for line in out.splitlines():
        struct, field, offset, size = line.split()
        cls = mirrors[struct]
        if field == "sizeof":
            assert ctypes.sizeof(cls) == int(offset), struct
            continue
        seen[struct].append(field)
        desc = getattr(cls, field)
        assert (desc.offset, desc.size) == (int(offset), int(size)), "%s.%s" % (struct, field)
    for name, cls in mirrors.items():
        assert seen[name] == [f[0] for f in cls._fields_], "field order of " + name


def test_status_values_and_error_names():
    assert [s.value for s in rnn.Status] == list(range(9))
    assert issubclass(rnn.RNNError, Exception)
    for status in rnn.Status:
        assert _capi.C.rnn_strerror(status.value)


# --------------------------------------------------------------------------
# Errors: RNNError with the library's message, ValueError before the call
# --------------------------------------------------------------------------

def test_c_errors_raise_rnnerror_with_the_message():
    model = rnn.RNN(3, 4)
    x = np.zeros((2, 1, 3), np.float32)
    with pytest.raises(rnn.RNNError) as info:
        _capi.C.rnn_forward(model._ptr, 2, 0, x, None, None, None, None)   # batch 0
    err = info.value
    assert err.status == rnn.Status.RNN_E_SHAPE == 3
    assert err.status_name == "RNN_E_SHAPE"
    assert err.message.startswith("rnn_forward") and "batch" in err.message
    assert err.message in str(err) and "RNN_E_SHAPE" in str(err)


def test_wrong_struct_size_is_rejected_by_the_library():
    cfg = _capi.new_config(2, 3)
    cfg.struct_size -= 4                        # between two layouts
    out = _capi.new_handle()
    with pytest.raises(rnn.RNNError) as info:
        _capi.C.rnn_create(ctypes.byref(out), ctypes.byref(cfg))
    assert info.value.status_name == "RNN_E_INVALID_ARG"
    assert "rnn_create" in info.value.message and "struct_size" in info.value.message
    assert not out.value
    tinfo = _capi.RNNTensorInfo()               # struct_size left 0
    with pytest.raises(rnn.RNNError, match="rnn_tensor_at.*struct_size"):
        _capi.C.rnn_tensor_at(rnn.RNN(2, 3)._ptr, 0, ctypes.byref(tinfo))


def test_invalid_config_reports_the_field():
    with pytest.raises(rnn.RNNError, match="rnn_create: input_size") as info:
        rnn.RNN(0, 4)
    assert info.value.status == rnn.Status.RNN_E_INVALID_ARG
    with pytest.raises(rnn.RNNError, match="num_layers"):
        rnn.RNN(2, 4, num_layers=0)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.RNN(2, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="head_mode"):
        rnn.RNN(2, 4, output_size=1, head_mode="first")


def test_calls_out_of_order_raise_state_errors():
    model = rnn.RNN(2, 3, output_size=1)
    with pytest.raises(rnn.RNNError) as info:
        model.backward()
    assert info.value.status_name == "RNN_E_STATE" and "rnn_backward" in info.value.message
    with pytest.raises(rnn.RNNError, match="rnn_head_forward") as info:
        model.head_forward()
    assert info.value.status_name == "RNN_E_STATE"


def test_head_and_streaming_unsupported_cases():
    model = rnn.RNN(2, 3)
    model.forward(np.zeros((2, 1, 2)))
    with pytest.raises(rnn.RNNError, match="rnn_head_forward") as info:
        model.head_forward()
    assert info.value.status_name == "RNN_E_UNSUPPORTED"
    with pytest.raises(rnn.RNNError, match="rnn_state_create") as info:
        rnn.RNN(2, 3, bidirectional=True).state(2)
    assert info.value.status_name == "RNN_E_UNSUPPORTED"
    with pytest.raises(rnn.RNNError, match="rnn_step_head"):
        model.state(1).head()


def test_error_message_is_per_thread():
    box = {}

    def fail():
        try:
            rnn.RNN(2, -1)
        except rnn.RNNError as exc:
            box["msg"] = exc.message
    rnn.clear_error()
    t = threading.Thread(target=fail)
    t.start()
    t.join()
    assert "hidden_size" in box["msg"]
    assert rnn.last_error() == ""          # this thread saw no failure


@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((2,))), "3 dimensions"),
    (dict(x=np.zeros((2, 1, 1, 3))), "3 dimensions"),
    (dict(x=np.zeros((2, 1, 4))), "input_size is 3"),
    (dict(x=np.zeros((0, 1, 3))), "T > 0"),
    (dict(x=np.zeros((2, 1, 3), complex)), "real numbers"),
    (dict(x=np.zeros((2, 1, 3)), h0=np.zeros((1, 2, 4))), r"h0 must have shape \(1, 1, 4\)"),
    (dict(x=np.zeros((2, 1, 3)), lengths=[3]), r"lengths must be in \[1, T=2\]"),
    (dict(x=np.zeros((2, 1, 3)), lengths=[0]), "lengths must be in"),
    (dict(x=np.zeros((2, 2, 3)), lengths=[1]), r"lengths must have shape \(2,\)"),
    (dict(x=np.zeros((2, 1, 3)), lengths=[1.5]), "integers"),
])
def test_bad_arguments_raise_valueerror_before_the_call(bad, match):
    model = rnn.RNN(3, 4)
    with pytest.raises(ValueError, match=match):
        model.forward(**bad)


def test_backward_and_head_shapes_are_checked():
    model = rnn.RNN(3, 4, output_size=2)
    y, h_n = model.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="dy must have shape"):
        model.backward(dy=np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="dh_n must have shape"):
        model.backward(dh_n=np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="dlogits must have shape"):
        model.head_backward(np.zeros((5, 2, 2)))


def test_inputs_are_converted():
    model = rnn.RNN(2, 3, seed=1)
    x64 = np.random.default_rng(0).standard_normal((4, 2, 2))
    y1, _ = model.forward(x64)                                  # float64
    y2, _ = model.forward(np.asfortranarray(x64.astype(np.float32)))   # not C-contiguous
    y3, _ = model.forward(torch.tensor(x64, requires_grad=True))       # torch, with grad
    y4, _ = model.forward(x64.tolist())                         # nested lists
    for y in (y2, y3, y4):
        np.testing.assert_array_equal(y, y1)
    assert y1.dtype == np.float32 and y1.flags.c_contiguous


def test_raw_functions_refuse_wrong_arrays():
    model = rnn.RNN(2, 3)
    with pytest.raises(ctypes.ArgumentError):
        _capi.C.rnn_forward(model._ptr, 1, 1, np.zeros((1, 1, 2)), None, None, None, None)  # f64
    with pytest.raises(ctypes.ArgumentError):
        _capi.C.rnn_forward(model._ptr, 1, 1, np.zeros((1, 1, 4), np.float32)[..., ::2],
                            None, None, None, None)                                     # strided


# --------------------------------------------------------------------------
# Parameters and gradients: views on the flat buffers
# --------------------------------------------------------------------------

def test_params_view_writes_are_seen_by_the_library():
    model = rnn.RNN(3, 4, seed=5)
    params = model.params
    assert params.dtype == np.float32 and params.shape == (len(params),)
    params[:] = 0.0
    sd = model.state_dict()
    sd["bias_ih_l0"][:] = 0.25
    sd["bias_hh_l0"][:] = 0.5
    y, h_n = model.forward(np.random.default_rng(0).standard_normal((3, 2, 3)))
    np.testing.assert_allclose(y, np.tanh(0.75), rtol=1e-6)
    np.testing.assert_allclose(h_n, np.tanh(0.75), rtol=1e-6)


def test_library_writes_are_seen_through_the_views():
    model = rnn.RNN(2, 3, seed=5)
    params, grads = model.params, model.grads
    before = params.copy()
    y, _ = model.forward(np.ones((3, 2, 2)))
    model.backward(np.ones_like(y))
    assert np.abs(grads).sum() > 0
    model.sgd_step(0.5)
    np.testing.assert_allclose(params, before - 0.5 * grads, rtol=1e-6, atol=1e-7)
    model.zero_grad()
    assert not grads.any()


def test_state_dict_views_follow_the_tensor_table():
    model = rnn.RNN(3, 4, num_layers=2, bidirectional=True, output_size=2, seed=1)
    names = [t.name for t in model.tensors()]
    torch_names = list(torch.nn.RNN(3, 4, num_layers=2, bidirectional=True).state_dict())
    assert names == torch_names + ["head.weight", "head.bias"]
    sd = model.state_dict()
    assert sd["weight_ih_l1_reverse"].shape == (4, 8)
    assert sd["head.weight"].shape == (2, 8) and sd["head.bias"].shape == (2,)
    total = 0
    for t in model.tensors():
        assert model.tensor(t.name) == t
        assert np.shares_memory(sd[t.name], model.params)
        total += t.count
    assert total == model.params.size
    with pytest.raises(rnn.RNNError, match="rnn_tensor_find"):
        model.tensor("weight_ih_l9")


def test_views_keep_the_model_alive():
    model = rnn.RNN(2, 3, seed=9)
    handle = weakref.ref(model._handle)
    params = model.params
    w = model.state_dict()["weight_hh_l0"]
    expected = params.copy()
    model.close()
    del model
    gc.collect()
    assert handle() is not None, "model freed while views exist"
    np.testing.assert_array_equal(params, expected)
    w[0, 0] = 1.0
    del params, w
    gc.collect()
    assert handle() is None, "model not freed once the views are gone"


def test_close_and_context_manager():
    with rnn.RNN(2, 3) as model:
        model.forward(np.zeros((1, 1, 2)))
        handle = weakref.ref(model._handle)
    gc.collect()
    assert handle() is None
    with pytest.raises(ValueError, match="closed"):
        model.forward(np.zeros((1, 1, 2)))
    model.close()                                   # idempotent


def test_load_state_dict_accepts_torch_and_checks_shapes():
    net = torch.nn.RNN(3, 5, num_layers=2)
    model = rnn.RNN(3, 5, num_layers=2, seed=4)
    model.load_state_dict(net.state_dict())
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value.numpy())
    before = model.params.copy()
    bad = {k: v.numpy() for k, v in net.state_dict().items()}
    bad["weight_hh_l1"] = np.zeros((5, 4))
    bad["weight_ih_l0"] = np.zeros((5, 3))          # valid, but must not be written
    with pytest.raises(ValueError, match="weight_hh_l1 has shape"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model.params, before)
    with pytest.raises(ValueError, match="missing keys"):
        model.load_state_dict({"weight_ih_l0": np.zeros((5, 3))})
    result = model.load_state_dict({"weight_ih_l0": np.zeros((5, 3)), "extra": 1}, strict=False)
    assert result.unexpected_keys == ["extra"] and "weight_hh_l0" in result.missing_keys
    assert not model.state_dict()["weight_ih_l0"].any()


def test_gradients_accumulate_until_zero_grad():
    model = rnn.RNN(2, 3, seed=2)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    y, _ = model.forward(x)
    model.backward(np.ones_like(y))
    once = model.grads.copy()
    model.backward(np.ones_like(y))
    np.testing.assert_allclose(model.grads, 2 * once, rtol=1e-6)
    model.zero_grad()
    model.backward(np.ones_like(y), need_dx=False, need_dh0=False)
    np.testing.assert_allclose(model.grads, once, rtol=1e-6)


# --------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------

@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("layers, act", [(1, "tanh"), (3, "relu")])
def test_step_equals_forward(layers, act, packed):
    T, B, I, H = 7, 3, 2, 5
    rng = np.random.default_rng(layers)
    model = rnn.RNN(I, H, num_layers=layers, nonlinearity=act, output_size=2, seed=8)
    if packed:
        model.pack_weights()
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((layers, B, H)).astype(np.float32)
    y, h_n = model.forward(x, h0=h0)
    state = model.state(B)
    state.set(h0)
    steps = np.stack([state.step(x[t]) for t in range(T)])
    np.testing.assert_allclose(steps, y, atol=1e-6)
    np.testing.assert_allclose(state.get(), h_n, atol=1e-6)
    np.testing.assert_allclose(state.head(), model.head_forward(), atol=1e-6)
    assert state.batch == B


def test_packed_steps_follow_load_state_dict():
    # load_state_dict writes through the views: the binding re-packs
    model = rnn.RNN(3, 4, seed=1)
    model.pack_weights()
    other = rnn.RNN(3, 4, seed=2)
    x = np.full((1, 3), 0.5, np.float32)
    want = other.state(1).step(x)
    model.load_state_dict(other.state_dict())
    np.testing.assert_allclose(model.state(1).step(x), want, atol=1e-6)
    model.unpack_weights()
    np.testing.assert_allclose(model.state(1).step(x), want, atol=1e-6)


def test_state_reset_mask():
    T, B, I, H = 4, 3, 2, 3
    rng = np.random.default_rng(3)
    model = rnn.RNN(I, H, num_layers=2, seed=6)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    with model.state(B) as state:
        for t in range(T):
            state.step(x[t])
        before = state.get()
        state.reset(np.array([True, False, True]))
        after = state.get()
        assert not after[:, [0, 2]].any()
        np.testing.assert_array_equal(after[:, 1], before[:, 1])
        # A reset stream restarts: its next output is that of a fresh sequence.
        y_t = state.step(x[0])
        y, _ = model.forward(x[:1])
        np.testing.assert_allclose(y_t[[0, 2]], y[0, [0, 2]], atol=1e-6)
        state.reset()
        assert not state.get().any()
        with pytest.raises(ValueError, match="mask"):
            state.reset([1, 0])


def test_threads_step_their_own_states_on_one_model():
    T, B, I, H = 50, 2, 3, 16
    model = rnn.RNN(I, H, num_layers=2, seed=12)
    xs = [np.random.default_rng(s).standard_normal((T, B, I)).astype(np.float32) for s in range(4)]
    expected = [model.forward(x)[0] for x in xs]
    results = [None] * len(xs)

    def run(i):
        state = model.state(B)
        results[i] = np.stack([state.step(xs[i][t]) for t in range(T)])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


# --------------------------------------------------------------------------
# Optimizers, clipping, diagnostics
# --------------------------------------------------------------------------

def _sum_sign_batch(rng, T=8, B=64):
    x = rng.standard_normal((T, B, 1)).astype(np.float32)
    return x, (x.sum(axis=(0, 2)) > 0).astype(np.float32)[:, None]


@pytest.mark.parametrize("kind, hyper", [("adam", dict(lr=0.02)),
                                          ("sgd", dict(lr=0.1, momentum=0.9)),
                                          ("adamw", dict(lr=0.02, betas=(0.8, 0.99)))])
def test_optimizer_reduces_the_loss_on_a_toy_task(kind, hyper):
    rng = np.random.default_rng(0)
    model = rnn.RNN(1, 16, output_size=1, seed=42)
    opt = rnn.Optimizer(model, kind, **hyper)
    x_val, y_val = _sum_sign_batch(np.random.default_rng(99), B=256)

    def val_loss():
        model.forward(x_val)
        return rnn.bce_with_logits(model.head_forward(), y_val, need_grad=False)[0]
    start = val_loss()
    for _ in range(150):
        x, labels = _sum_sign_batch(rng)
        opt.zero_grad()
        model.forward(x)
        _, dlogits = rnn.bce_with_logits(model.head_forward(), labels)
        model.head_backward(dlogits)
        model.backward()
        rnn.clip_grad_norm(model, 5.0)
        opt.step()
    end = val_loss()
    assert opt.step_count == 150
    assert end < 0.5 * start, "%s: validation loss %.3f -> %.3f" % (kind, start, end)


@pytest.mark.parametrize("kind, hyper, torch_cls", [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), torch.optim.SGD),
    ("sgd", dict(lr=0.1, momentum=0.5, dampening=0.3), torch.optim.SGD),
    ("adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1), torch.optim.Adam),
    ("adamw", dict(lr=0.01, weight_decay=0.05), torch.optim.AdamW),
    ("adam", dict(lr=0.01, betas=(0.8, 0.95), amsgrad=True), torch.optim.Adam),
    ("adamw", dict(lr=0.01, weight_decay=0.05, amsgrad=True), torch.optim.AdamW),
])
def test_optimizer_hyperparameters_match_torch(kind, hyper, torch_cls):
    rng = np.random.default_rng(7)
    model = rnn.RNN(2, 3, seed=3)
    net, _ = torch_rnn_like(model)
    opt = rnn.Optimizer(model, kind, **hyper)
    opt_t = torch_cls(net.parameters(), **hyper)
    params_t = dict(net.named_parameters())
    for _ in range(5):
        for name, grad in model.grad_dict().items():
            g = rng.standard_normal(grad.shape).astype(np.float32)
            grad[...] = g
            params_t[name].grad = torch.from_numpy(g.copy())
        opt.step()
        opt_t.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, params_t[name].detach().numpy(), atol=2e-6, err_msg=name)


def test_optimizer_lr_and_errors():
    model = rnn.RNN(2, 3)
    opt = rnn.Optimizer(model, "sgd", lr=0.5)
    assert opt.kind == "sgd" and opt.lr == pytest.approx(0.5)
    model.grads[:] = 1.0
    before = model.params.copy()
    opt.lr = 0.25
    assert opt.lr == pytest.approx(0.25)
    opt.step()
    np.testing.assert_allclose(model.params, before - 0.25, rtol=1e-6)
    with pytest.raises(TypeError, match="momentun"):
        rnn.Optimizer(model, "sgd", lr=0.1, momentun=0.9)
    with pytest.raises(ValueError, match="kind"):
        rnn.Optimizer(model, "rmsprop")
    with pytest.raises(rnn.RNNError, match="rnn_optim_create.*lr") as info:
        rnn.Optimizer(model, "adam", lr=-1.0)
    assert info.value.status_name == "RNN_E_INVALID_ARG"
    with pytest.raises(rnn.RNNError, match="rnn_optim_set_lr"):
        opt.lr = float("nan")


def test_nonfinite_gradients_are_refused():
    model = rnn.RNN(2, 3)
    opt = rnn.Optimizer(model, "adam", lr=0.1)
    model.grad_dict()["bias_hh_l0"][1] = np.nan
    before = model.params.copy()
    with pytest.raises(rnn.RNNError) as info:
        opt.step()
    assert info.value.status_name == "RNN_E_NONFINITE"
    assert "bias_hh_l0" in info.value.message
    np.testing.assert_array_equal(model.params, before)
    with pytest.raises(rnn.RNNError, match="RNN_E_NONFINITE"):
        rnn.clip_grad_norm(model, 1.0)
    with pytest.raises(rnn.RNNError, match="bias_hh_l0"):
        model.check_grads()
    model.check_params()
    model.state_dict()["weight_hh_l0"][0, 0] = np.inf
    with pytest.raises(rnn.RNNError, match="weight_hh_l0"):
        model.check_params()


def test_clip_grad_norm_matches_numpy():
    model = rnn.RNN(2, 4, num_layers=2, seed=1)
    rng = np.random.default_rng(2)
    model.grads[:] = rng.standard_normal(model.grads.shape)
    expected = float(np.linalg.norm(model.grads.astype(np.float64)))
    norm = rnn.clip_grad_norm(model, 1.0)
    assert norm == pytest.approx(expected, rel=1e-5)
    assert float(np.linalg.norm(model.grads)) == pytest.approx(1.0, rel=1e-4)
    assert rnn.clip_grad_norm(model, 10.0) == pytest.approx(1.0, rel=1e-4)   # no change now


def test_spectral_radius_and_init_schemes():
    model = rnn.RNN(3, 6, num_layers=2, bidirectional=True, seed=3)
    radius = model.spectral_radius()
    assert radius.shape == (4,)
    sd = model.state_dict()
    names = ["weight_hh_l0", "weight_hh_l0_reverse", "weight_hh_l1", "weight_hh_l1_reverse"]
    for r, name in zip(radius, names):
        assert r == pytest.approx(np.abs(np.linalg.eigvals(sd[name])).max(), rel=1e-4)
    model.init("orthogonal", seed=1)
    for name in names:
        w = sd[name]
        np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(model.spectral_radius(), 1.0, atol=1e-4)
    model.init("uniform", seed=7)
    same = rnn.RNN(3, 6, num_layers=2, bidirectional=True, seed=7)
    np.testing.assert_array_equal(model.params, same.params)
    with pytest.raises(ValueError, match="scheme"):
        model.init("he")


def test_same_seed_same_weights_and_config_roundtrip():
    a = rnn.RNN(4, 5, num_layers=2, nonlinearity="relu", bias=False, batch_first=True,
                output_size=3, head_mode="all", seed=123)
    b = rnn.RNN(**a.config())
    np.testing.assert_array_equal(a.params, b.params)
    assert b.config() == a.config()
    assert "relu" in repr(a)


def test_cross_entropy_with_every_row_ignored_is_zero():
    loss, grad = rnn.cross_entropy(np.ones((3, 4)), [-100, -100, -100])
    assert loss == 0.0 and not grad.any()


def test_loss_argument_checks():
    with pytest.raises(ValueError, match="targets must have shape"):
        rnn.bce_with_logits(np.zeros(3), np.zeros(4))
    with pytest.raises(rnn.RNNError, match="rnn_loss_bce_with_logits.*outside"):
        rnn.bce_with_logits(np.zeros(3), [0, 2, 1])
    with pytest.raises(rnn.RNNError, match="rnn_loss_cross_entropy") as info:
        rnn.cross_entropy(np.zeros((2, 3)), [0, 3])
    assert info.value.status_name == "RNN_E_INVALID_ARG"
    with pytest.raises(ValueError, match="reduction"):
        rnn.mse(np.zeros(2), np.zeros(2), reduction="none")
    loss, grad = rnn.mse([1.0, 3.0], [0.0, 0.0], need_grad=False)
    assert loss == pytest.approx(5.0) and grad is None


def test_save_cleanup_removes_leftovers_of_interrupted_saves(tmp_path):
    model = rnn.RNN(2, 3)
    path = tmp_path / "m.safetensors"
    model.save(path)
    (tmp_path / "m.safetensors.tmp.Ab3dE9").write_bytes(b"half a file")
    (tmp_path / "m.safetensors.tmp.notmine").write_bytes(b"not the pattern")
    assert rnn.save_cleanup(path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors",
                                                          "m.safetensors.tmp.notmine"]
    assert rnn.save_cleanup(path) == 0
    with pytest.raises(rnn.RNNError):
        rnn.save_cleanup(tmp_path / "missing-dir" / "m.safetensors")


def test_a_loaded_optimizer_reports_its_hyperparameters():
    model = rnn.RNN(2, 3)
    opt = rnn.Optimizer(model, "adamw", lr=0.03, betas=(0.8, 0.95), weight_decay=0.2)
    loaded = rnn.Optimizer.from_bytes(opt.to_bytes(), model)
    assert loaded.kind == "adamw"
    assert loaded.lr == pytest.approx(0.03)
    loaded.lr = 0.5
    assert loaded.lr == 0.5


def test_backward_gives_input_gradients_only_when_asked_like_torch():
    model = rnn.RNN(2, 3)
    y, _ = model.forward(np.ones((4, 2, 2), np.float32))
    assert model.backward(np.ones_like(y)) == (None, None)
    dx, dh0 = model.backward(np.ones_like(y), need_dx=True, need_dh0=True)
    assert dx.shape == (4, 2, 2) and dh0.shape == (1, 2, 3)
    with pytest.raises(rnn.RNNError, match="nothing to propagate"):
        model.backward()


@pytest.mark.parametrize("kind, hyper", [
    ("adam", dict(lr=0.03, betas=(0.7, 0.9), eps=1e-5, weight_decay=0.1, amsgrad=True)),
    ("sgd", dict(lr=0.2, momentum=0.5, dampening=0.25, weight_decay=0.01, nesterov=False)),
])
def test_loaded_optimizer_reports_every_hyperparameter(kind, hyper, tmp_path):
    model = rnn.RNN(2, 3, seed=3)
    opt = rnn.Optimizer(model, kind, **hyper)
    model.grads[:] = 0.5
    opt.step()
    opt.save(tmp_path / "opt.safetensors")
    loaded = rnn.Optimizer.load(tmp_path / "opt.safetensors", model)
    assert loaded.kind == kind
    want = dict(hyper)
    got = loaded.defaults
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_allclose(np.asarray(got[name], dtype=np.float64),
                                   np.asarray(value, dtype=np.float64), rtol=1e-6,
                                   err_msg=name)
