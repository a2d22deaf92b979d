# SPDX-License-Identifier: MIT
"""rnn.LSTM and rnn.GRU against torch.nn.LSTM and torch.nn.GRU, value for value.

Each case is a random configuration (seeded): layers 1-3, bidirectional,
bias on/off, batch_first, proj_size (LSTM), variable lengths (packed
sequences on torch's side), h0 / c0 given or None, a head or not. The
weights go from librnn to torch (model.to_torch()) or from torch to librnn
(rnn.LSTM.from_torch), both in float32; then forward (y, h_n, c_n, logits)
and backward with random cotangents (every parameter's gradient, dx, dh0,
dc0) are compared.

Tolerance: |librnn - torch| <= 1e-5 * max(1, max |torch|) over each tensor,
i.e. 1e-5 absolute for the unit-scale tensors that nearly all are (inputs
and cotangents are standard normal, weights torch's U(+-1/sqrt(H))), and
relative to the tensor's largest magnitude when that exceeds 1 (gradients
summed over many steps and sequences).
"""

import os
import sys

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rnn  # noqa: E402

TOL = 1e-5


def _case(rng, cell, **fixed):
    hidden = int(rng.integers(1, 9))
    case = dict(
        cell=cell,
        num_layers=int(rng.integers(1, 4)),
        bidirectional=bool(rng.integers(0, 2)),
        bias=bool(rng.integers(0, 3) > 0),
        batch_first=bool(rng.integers(0, 2)),
        input_size=int(rng.integers(1, 6)),
        hidden_size=hidden,
        proj_size=int(rng.integers(1, hidden)) if cell == "lstm" and hidden > 1
        and rng.integers(0, 3) == 0 else 0,
        seq_len=int(rng.integers(1, 8)),
        batch=int(rng.integers(1, 5)),
        lengths=bool(rng.integers(0, 2)),
        h0=bool(rng.integers(0, 2)),
        c0=cell == "lstm" and bool(rng.integers(0, 2)),
        grads=str(rng.choice(["all", "dy", "dh_n", "dc_n"] if cell == "lstm"
                             else ["all", "dy", "dh_n"])),
        head=[None, None, "last", "all"][int(rng.integers(0, 4))],
        weights=str(rng.choice(["to_torch", "from_torch"])),
        seed=int(rng.integers(0, 2**32)),
    )
    case.update(fixed)
    return case


def _cases(cell, seed, count):
    rng = np.random.default_rng(seed)
    cases = [
        # Edge shapes first, whatever the draws give.
        _case(rng, cell, seq_len=1, batch=1, lengths=False, h0=False, c0=False),
        _case(rng, cell, seq_len=1, batch=3, lengths=True, h0=True, bidirectional=True),
        _case(rng, cell, batch=1, seq_len=6, lengths=True, h0=True, num_layers=3),
        _case(rng, cell, batch=4, seq_len=7, lengths=True, bidirectional=True,
              batch_first=True, num_layers=2, c0=cell == "lstm", h0=False),
        _case(rng, cell, batch=4, seq_len=5, lengths=True, bidirectional=True,
              num_layers=3, bias=False, h0=True, head="all"),
        _case(rng, cell, batch=2, seq_len=5, hidden_size=1, input_size=1, proj_size=0),
    ]
    if cell == "lstm":
        cases += [
            _case(rng, cell, hidden_size=6, proj_size=1, num_layers=2, bidirectional=True,
                  lengths=True, h0=True, c0=True, batch=3, seq_len=6),
            _case(rng, cell, hidden_size=5, proj_size=4, num_layers=3, bias=False,
                  batch_first=True, head="last", lengths=True, batch=4, seq_len=5),
        ]
    cases += [_case(rng, cell) for _ in range(count)]
    return cases


LSTM_CASES = _cases("lstm", 20261202, 40)
GRU_CASES = _cases("gru", 20261203, 30)


def _case_id(case):
    flags = [k for k in ("bidirectional", "batch_first", "lengths", "h0", "c0") if case[k]]
    return "{cell}-L{num_layers}-I{input_size}H{hidden_size}P{proj_size}-T{seq_len}B{batch}" \
           "{nobias}{flags}-{grads}{head_s}-{weights}".format(
               nobias="" if case["bias"] else "-nobias",
               flags="".join("-" + f for f in flags),
               head_s="-head_" + case["head"] if case["head"] else "", **case)


def test_the_cases_cover_the_required_variations():
    for cases, cell in ((LSTM_CASES, "lstm"), (GRU_CASES, "gru")):
        def has(pred):
            return any(pred(c) for c in cases)
        assert len(cases) >= 30
        for layers in (1, 2, 3):
            assert has(lambda c: c["num_layers"] == layers)
        for key in ("bidirectional", "bias", "batch_first", "lengths", "h0"):
            assert has(lambda c: c[key]) and has(lambda c: not c[key])
        assert has(lambda c: c["head"] == "last") and has(lambda c: c["head"] == "all")
        assert has(lambda c: c["weights"] == "from_torch")
        assert has(lambda c: c["weights"] == "to_torch")
        if cell == "lstm":
            assert has(lambda c: c["c0"]) and has(lambda c: not c["c0"])
            assert has(lambda c: c["h0"] and not c["c0"])
            assert has(lambda c: c["c0"] and not c["h0"])
            assert has(lambda c: c["grads"] == "dc_n")
            assert has(lambda c: c["proj_size"] > 0) and has(lambda c: c["proj_size"] == 0)
            assert has(lambda c: c["proj_size"] > 0 and c["num_layers"] > 1
                       and c["bidirectional"])


def _models(case):
    """The librnn model and the torch module (+ nn.Linear head or None) with
    the same weights, copied one way or the other."""
    lstm = case["cell"] == "lstm"
    klass, torch_klass = (rnn.LSTM, torch.nn.LSTM) if lstm else (rnn.GRU, torch.nn.GRU)
    args = dict(num_layers=case["num_layers"], bias=case["bias"],
                batch_first=case["batch_first"], bidirectional=case["bidirectional"])
    if lstm:
        args["proj_size"] = case["proj_size"]
    output_size = 3 if case["head"] else 0
    if case["weights"] == "to_torch":
        model = klass(case["input_size"], case["hidden_size"], seed=case["seed"],
                      output_size=output_size, head_mode=case["head"] or "last", **args)
        net, head = model.to_torch()
        assert isinstance(net, torch_klass)
        return model, net, head
    torch.manual_seed(case["seed"] % 2**31)
    net = torch_klass(case["input_size"], case["hidden_size"], **args)
    hout = case["proj_size"] or case["hidden_size"]
    dirs = 2 if case["bidirectional"] else 1
    head = torch.nn.Linear(dirs * hout, output_size) if output_size else None
    model = klass.from_torch(net, head, head_mode=case["head"] or "last")
    assert isinstance(model, klass)
    return model, net, head


def _inputs(case, rng):
    T, B, I = case["seq_len"], case["batch"], case["input_size"]
    D, L, H = 2 if case["bidirectional"] else 1, case["num_layers"], case["hidden_size"]
    hout = case["proj_size"] or H
    x = rng.standard_normal((B, T, I) if case["batch_first"] else (T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((L * D, B, hout)).astype(np.float32) if case["h0"] else None
    c0 = rng.standard_normal((L * D, B, H)).astype(np.float32) if case["c0"] else None
    lengths = None
    if case["lengths"]:
        lengths = rng.integers(1, T + 1, size=B).astype(np.int32)
        lengths[rng.integers(0, B)] = T if B > 1 and rng.integers(0, 2) else lengths[0]
    return x, h0, c0, lengths


def _leaf(array, shape, dtype):
    """An autograd leaf: the array, or zeros (torch's value for a missing
    state) so that its gradient exists."""
    return torch.tensor(array if array is not None else np.zeros(shape, dtype),
                        requires_grad=True)


def _run_torch(case, net, x, h0, c0, lengths):
    """torch's forward; returns the leaves (x, h0, c0 or None) and (y, h_n,
    c_n or None), padded steps of y zero (pad_packed_sequence)."""
    lstm = case["cell"] == "lstm"
    T, B = case["seq_len"], case["batch"]
    D, L, H = 2 if case["bidirectional"] else 1, case["num_layers"], case["hidden_size"]
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = _leaf(h0, (L * D, B, case["proj_size"] or H), x.dtype)
    c0_t = _leaf(c0, (L * D, B, H), x.dtype) if lstm else None
    hx = (h0_t, c0_t) if lstm else h0_t
    if lengths is None:
        y_t, state = net(x_t, hx)
    else:
        packed = pack_padded_sequence(x_t, torch.as_tensor(lengths.astype(np.int64)),
                                      batch_first=case["batch_first"], enforce_sorted=False)
        out, state = net(packed, hx)
        y_t, _ = pad_packed_sequence(out, batch_first=case["batch_first"], total_length=T)
    hn_t, cn_t = state if lstm else (state, None)
    return (x_t, h0_t, c0_t), (y_t, hn_t, cn_t)


def _torch_logits(case, head, y_t, lengths):
    T, B, bf = case["seq_len"], case["batch"], case["batch_first"]
    if case["head"] == "last":
        last = np.full(B, T) if lengths is None else lengths
        return head(torch.stack([y_t[b, n - 1] if bf else y_t[n - 1, b]
                                 for b, n in enumerate(last)]))
    valid = np.arange(T)[:, None] < (np.full(B, T) if lengths is None else lengths)[None, :]
    mask = torch.from_numpy((valid.T if bf else valid).astype(y_t.detach().numpy().dtype))
    mask = mask[..., None]
    return head(y_t) * mask          # librnn: 0 (and no gradient) at padded steps


def _max_error(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, "shape %s, torch %s" % (got.shape, expected.shape)
    if not got.size:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(expected))))
    return float(np.max(np.abs(got.astype(np.float64) - expected))) / scale


def _assert_close(name, got, expected):
    err = _max_error(got, expected)
    assert err <= TOL, "%s: max |librnn - torch| / max(1, max |torch|) = %.3g > %.0e" \
        % (name, err, TOL)


def check_against_torch(case):
    """Runs one case; returns {tensor name: scaled max error} after asserting
    each is within TOL."""
    rng = np.random.default_rng(case["seed"])
    lstm = case["cell"] == "lstm"
    model, net, head = _models(case)
    x, h0, c0, lengths = _inputs(case, rng)

    errors = {}

    def close(name, got, expected):
        errors[name] = _max_error(got, expected)
        _assert_close(name, got, expected)

    if lstm:
        y, (h_n, c_n) = model(x, (h0, c0), lengths=lengths)
    else:
        y, h_n = model(x, h0, lengths=lengths)
    leaves, (y_t, hn_t, cn_t) = _run_torch(case, net, x, h0, c0, lengths)
    close("y", y, y_t.detach().numpy())
    close("h_n", h_n, hn_t.detach().numpy())
    if lstm:
        close("c_n", c_n, cn_t.detach().numpy())
    logits_t = None
    if head is not None:
        logits_t = _torch_logits(case, head, y_t, lengths)
        close("logits", model.head_forward(), logits_t.detach().numpy())

    which = case["grads"]
    def cotangent(name, shape):
        return rng.standard_normal(shape).astype(np.float32) \
            if which in ("all", name) else None
    dy = cotangent("dy", y.shape)
    dh_n = cotangent("dh_n", h_n.shape)
    dc_n = cotangent("dc_n", c_n.shape) if lstm else None
    dlogits = rng.standard_normal(logits_t.shape).astype(np.float32) \
        if head is not None else None

    model.zero_grad()
    if dlogits is not None:
        model.head_backward(dlogits)
    if lstm:
        dx, (dh0, dc0) = model.backward(dy, dh_n, dc_n, need_dx=True, need_dh0=True,
                                        need_dc0=True)
    else:
        dx, dh0 = model.backward(dy, dh_n, need_dx=True, need_dh0=True)
    objective = 0
    for out_t, cot in ((y_t, dy), (hn_t, dh_n), (cn_t, dc_n), (logits_t, dlogits)):
        if cot is not None:
            objective = objective + (out_t * torch.from_numpy(cot)).sum()
    objective.backward()

    x_t, h0_t, c0_t = leaves
    close("dx", dx, x_t.grad.numpy())
    close("dh0", dh0, h0_t.grad.numpy())
    if lstm:
        close("dc0", dc0, c0_t.grad.numpy())
    # torch leaves .grad None where the objective does not reach (weight_hr
    # with T = 1 and dc_n alone): zero, as librnn says
    expected = {name: p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
                for name, p in net.named_parameters()}
    if head is not None:
        expected["head.weight"] = head.weight.grad.numpy()
        expected["head.bias"] = head.bias.grad.numpy()
    got = model.grad_dict()
    assert list(got) == list(expected), "tensor names/order differ from torch's"
    for name in expected:
        close("grad " + name, got[name], expected[name])
    return errors


@pytest.mark.parametrize("case", LSTM_CASES, ids=_case_id)
def test_lstm_matches_torch(case):
    check_against_torch(case)


@pytest.mark.parametrize("case", GRU_CASES, ids=_case_id)
def test_gru_matches_torch(case):
    check_against_torch(case)


if __name__ == "__main__":
    # The largest scaled error of each kind of tensor over all the cases run:
    #   RNN_LIBRARY=build/librnn.so /usr/bin/python3 python/tests/test_torch_cells.py
    torch.set_num_threads(1)
    for cases in (LSTM_CASES, GRU_CASES):
        worst = {}
        for case in cases:
            for name, err in check_against_torch(case).items():
                kind = name.split("_l")[0] if name.startswith("grad") else name
                worst[kind] = max(worst.get(kind, 0.0), err)
        print(cases[0]["cell"], len(cases), "cases:",
              ", ".join("%s %.2g" % kv for kv in sorted(worst.items())))
