# SPDX-License-Identifier: MIT
"""The C tests' double-precision reference of the gated cells
(tests/reference_cells.c) against torch.nn.LSTM / nn.GRU in float64.

test_lstm.c and test_gru.c trust that reference: here it is compiled as it
is (with tests/reference.c) into a small shared library, called through
ctypes on the configurations of test_torch_cells.py, proj_size included
(which torch has even where librnn does not yet), and its outputs (y, h_n,
c_n, logits) and gradients (every parameter, dx, dh0, dc0) must equal
torch's to 1e-10 * max(1, |torch|).
"""

import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import ROOT  # noqa: E402
from test_torch_cells import GRU_CASES, LSTM_CASES, _case_id, _inputs, _run_torch, \
    _torch_logits

TOL = 1e-10
CELLS = {"lstm": 1, "gru": 2}   # RNN_CELL_LSTM, RNN_CELL_GRU
HEAD_MODES = {"last": 0, "all": 1}
_PD = ctypes.POINTER(ctypes.c_double)


class RefcModel(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int32) for name in
                ("cell", "I", "H", "L", "D", "P", "bias", "batch_first", "O", "head_mode")]


class RefcBatch(ctypes.Structure):
    _fields_ = [("T", ctypes.c_int32), ("B", ctypes.c_int32), ("x", _PD),
                ("lengths", ctypes.POINTER(ctypes.c_int32)), ("h0", _PD), ("c0", _PD)]


class RefcCotangents(ctypes.Structure):
    _fields_ = [(name, _PD) for name in ("dy", "dh_n", "dc_n", "dlogits")]


_RESULT_FIELDS = ("y", "h_n", "c_n", "logits", "dparams", "dx", "dh0", "dc0")


class RefcResult(ctypes.Structure):
    _fields_ = [(name, _PD) for name in _RESULT_FIELDS]


class RefTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 32), ("offset", ctypes.c_size_t),
                ("count", ctypes.c_size_t), ("ndim", ctypes.c_int32),
                ("rows", ctypes.c_int32), ("cols", ctypes.c_int32)]


def build_reference(directory):
    """tests/reference*.c built as a shared library in `directory` with the
    system's C compiler (the one that builds librnn), loaded."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (cc, gcc or $CC) to build the reference"
    out = os.path.join(str(directory), "libreference.so")
    tests = os.path.join(ROOT, "tests")
    subprocess.run([cc, "-std=c11", "-O1", "-shared", "-fPIC", "-I", os.path.join(ROOT, "include"),
                    "-I", tests, os.path.join(tests, "reference.c"),
                    os.path.join(tests, "reference_cells.c"), "-lm", "-o", out], check=True)
    lib = ctypes.CDLL(out)
    lib.refc_run.argtypes = [ctypes.POINTER(RefcModel), _PD, ctypes.POINTER(RefcBatch),
                             ctypes.POINTER(RefcCotangents), ctypes.POINTER(RefcResult)]
    lib.refc_run.restype = ctypes.c_int
    lib.refc_result_free.argtypes = [ctypes.POINTER(RefcResult)]
    for name in ("refc_param_count", "refc_y_count", "refc_h_count", "refc_c_count",
                 "refc_logits_count", "refc_x_count"):
        getattr(lib, name).restype = ctypes.c_size_t
    lib.refc_param_count.argtypes = [ctypes.POINTER(RefcModel)]
    for name in ("refc_y_count", "refc_logits_count", "refc_x_count"):
        getattr(lib, name).argtypes = [ctypes.POINTER(RefcModel), ctypes.c_int32, ctypes.c_int32]
    for name in ("refc_h_count", "refc_c_count"):
        getattr(lib, name).argtypes = [ctypes.POINTER(RefcModel), ctypes.c_int32]
    lib.refc_tensor_count.argtypes = [ctypes.POINTER(RefcModel)]
    lib.refc_tensor_count.restype = ctypes.c_int32
    lib.refc_tensor_at.argtypes = [ctypes.POINTER(RefcModel), ctypes.c_int32]
    lib.refc_tensor_at.restype = RefTensor
    return lib


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return build_reference(tmp_path_factory.mktemp("reference"))


def _ptr(array):
    return None if array is None else array.ctypes.data_as(_PD)


def _f64(array):
    return None if array is None else np.ascontiguousarray(array, dtype=np.float64)


def _torch_modules(case):
    torch.manual_seed(case["seed"] % 2**31)
    lstm = case["cell"] == "lstm"
    args = dict(num_layers=case["num_layers"], bias=case["bias"],
                batch_first=case["batch_first"], bidirectional=case["bidirectional"])
    if lstm:
        args["proj_size"] = case["proj_size"]
    net = (torch.nn.LSTM if lstm else torch.nn.GRU)(case["input_size"], case["hidden_size"],
                                                     **args).double()
    head = None
    if case["head"]:
        dirs = 2 if case["bidirectional"] else 1
        head = torch.nn.Linear(dirs * (case["proj_size"] or case["hidden_size"]), 3).double()
    return net, head


def check_reference_against_torch(lib, case):
    """Returns the largest scaled error over every tensor after asserting
    each is within TOL."""
    lstm = case["cell"] == "lstm"
    net, head = _torch_modules(case)
    model = RefcModel(CELLS[case["cell"]], case["input_size"], case["hidden_size"],
                      case["num_layers"], 2 if case["bidirectional"] else 1,
                      case["proj_size"], int(case["bias"]), int(case["batch_first"]),
                      3 if head is not None else 0, HEAD_MODES[case["head"] or "last"])

    # The layout: torch's state_dict (+ head) names, shapes and order.
    named = list(net.named_parameters())
    if head is not None:
        named += [("head.weight", head.weight), ("head.bias", head.bias)]
    tensors = [lib.refc_tensor_at(ctypes.byref(model), i)
               for i in range(lib.refc_tensor_count(ctypes.byref(model)))]
    assert [t.name.decode() for t in tensors] == [n for n, _ in named]
    for t, (name, p) in zip(tensors, named):
        assert (t.rows, t.cols if t.ndim == 2 else 1) == \
            (p.shape[0], p.shape[1] if p.dim() == 2 else 1), name
    params = np.concatenate([p.detach().numpy().ravel() for _, p in named])
    assert params.size == lib.refc_param_count(ctypes.byref(model))

    rng = np.random.default_rng(case["seed"])
    x, h0, c0, lengths = (_f64(a) if a is not None and a.dtype != np.int32 else a
                          for a in _inputs(case, rng))
    leaves, (y_t, hn_t, cn_t) = _run_torch(case, net, x, h0, c0, lengths)
    logits_t = _torch_logits(case, head, y_t, lengths) if head is not None else None
    outs_t = {"y": y_t, "h_n": hn_t, "c_n": cn_t, "logits": logits_t}
    cot = {name: rng.standard_normal(tuple(t.shape)) for name, t in outs_t.items()
           if t is not None}
    sum(((outs_t[name] * torch.from_numpy(c)).sum() for name, c in cot.items())).backward()

    T, B = case["seq_len"], case["batch"]
    lengths32 = None if lengths is None else np.ascontiguousarray(lengths, np.int32)
    batch = RefcBatch(T, B, _ptr(x), None if lengths32 is None
                      else lengths32.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                      _ptr(h0), _ptr(c0))
    cots = RefcCotangents(_ptr(cot["y"]), _ptr(cot["h_n"]), _ptr(cot.get("c_n")),
                          _ptr(cot.get("logits")))
    result = RefcResult()
    assert lib.refc_run(ctypes.byref(model), _ptr(params), ctypes.byref(batch),
                        ctypes.byref(cots), ctypes.byref(result)) == 0
    counts = {"y": lib.refc_y_count(ctypes.byref(model), T, B),
              "h_n": lib.refc_h_count(ctypes.byref(model), B),
              "c_n": lib.refc_c_count(ctypes.byref(model), B),
              "logits": lib.refc_logits_count(ctypes.byref(model), T, B),
              "dparams": params.size,
              "dx": lib.refc_x_count(ctypes.byref(model), T, B),
              "dh0": lib.refc_h_count(ctypes.byref(model), B),
              "dc0": lib.refc_c_count(ctypes.byref(model), B)}
    got = {name: np.ctypeslib.as_array(getattr(result, name), (counts[name],)).copy()
           for name in _RESULT_FIELDS if counts[name]}
    lib.refc_result_free(ctypes.byref(result))

    x_t, h0_t, c0_t = leaves
    want = {name: t.detach().numpy().ravel() for name, t in outs_t.items() if t is not None}
    want["dx"] = x_t.grad.numpy().ravel()
    want["dh0"] = h0_t.grad.numpy().ravel()
    if lstm:
        want["dc0"] = c0_t.grad.numpy().ravel()
    for t, (name, p) in zip(tensors, named):
        got["grad " + name] = got["dparams"][t.offset:t.offset + t.count]
        want["grad " + name] = p.grad.numpy().ravel()
    del got["dparams"]
    assert sorted(got) == sorted(want)
    worst = 0.0
    for name in want:
        err = float(np.max(np.abs(got[name] - want[name]))) / \
            max(1.0, float(np.max(np.abs(want[name]))))
        assert err <= TOL, "%s: reference vs torch %.3g > %.0e" % (name, err, TOL)
        worst = max(worst, err)
    return worst


@pytest.mark.parametrize("case", LSTM_CASES + GRU_CASES, ids=_case_id)
def test_reference_matches_torch_in_double(reference, case):
    check_reference_against_torch(reference, case)


if __name__ == "__main__":
    # The largest scaled error over all cases:
    #   /usr/bin/python3 python/tests/test_reference_vs_torch.py
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_reference(tmp)
        for cases in (LSTM_CASES, GRU_CASES):
            worst = max(check_reference_against_torch(lib, c) for c in cases)
            print("%s: %d cases, max |reference - torch| / max(1, |torch|) = %.2g"
                  % (cases[0]["cell"], len(cases), worst))
