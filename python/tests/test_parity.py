# SPDX-License-Identifier: MIT
"""librnn against PyTorch, value for value.

Each case builds a librnn model, copies its initial weights into
torch.nn.RNN through the state_dict (the names match), runs both forward in
float32 and then backward with random dy / dh_n, and compares y, h_n, dx,
dh0 and every weight gradient to 1e-5 absolute (inputs and upstream
gradients are unit scale, weights PyTorch's default U(+-1/sqrt(H))).
"""

import numpy as np
import pytest
import torch

import rnn
from torch_ref import grads_by_name, run_rnn, torch_rnn_like, valid_mask

ATOL = 1e-5


def _case(rng, **fixed):
    case = dict(
        num_layers=int(rng.integers(1, 4)),
        bidirectional=bool(rng.integers(0, 2)),
        nonlinearity=str(rng.choice(["tanh", "relu"])),
        bias=bool(rng.integers(0, 3) > 0),
        batch_first=bool(rng.integers(0, 2)),
        input_size=int(rng.integers(1, 6)),
        hidden_size=int(rng.integers(1, 9)),
        seq_len=int(rng.integers(1, 8)),
        batch=int(rng.integers(1, 5)),
        lengths=bool(rng.integers(0, 2)),
        h0=bool(rng.integers(0, 2)),
        grads=str(rng.choice(["dy+dh_n", "dy", "dh_n"])),
        seed=int(rng.integers(0, 2**32)),
    )
    case.update(fixed)
    return case


def _cases():
    rng = np.random.default_rng(20240611)
    cases = [
        # Edge shapes first, so that each is covered whatever the draws give.
        _case(rng, seq_len=1, batch=1, lengths=False, h0=False),
        _case(rng, seq_len=1, batch=3, lengths=True, h0=True, bidirectional=True),
        _case(rng, batch=1, seq_len=6, lengths=True, h0=True, num_layers=3),
        _case(rng, batch=4, seq_len=7, lengths=True, bidirectional=True, batch_first=True,
              num_layers=2, nonlinearity="relu"),
        _case(rng, batch=4, seq_len=5, lengths=True, bidirectional=True, batch_first=False,
              num_layers=3, bias=False, h0=True),
        _case(rng, batch=2, seq_len=5, lengths=False, bidirectional=False, num_layers=1,
              hidden_size=1, input_size=1),
    ]
    cases += [_case(rng) for _ in range(24)]
    return cases


CASES = _cases()


def _case_id(case):
    return "L{num_layers}{bi}-{nonlinearity}{nobias}{bf}-I{input_size}H{hidden_size}" \
           "T{seq_len}B{batch}{len}{h0}-{grads}".format(
               bi="bi" if case["bidirectional"] else "",
               nobias="-nobias" if not case["bias"] else "",
               bf="-bf" if case["batch_first"] else "",
               len="-len" if case["lengths"] else "",
               h0="-h0" if case["h0"] else "", **{k: v for k, v in case.items()
                                                  if k not in ("lengths", "h0")})


def test_the_cases_cover_the_required_variations():
    def has(pred):
        return any(pred(c) for c in CASES)
    assert len(CASES) >= 20
    for layers in (1, 2, 3):
        assert has(lambda c: c["num_layers"] == layers)
    for key in ("bidirectional", "bias", "batch_first", "lengths", "h0"):
        assert has(lambda c: c[key]) and has(lambda c: not c[key])
    assert has(lambda c: c["nonlinearity"] == "relu") and has(lambda c: c["nonlinearity"] == "tanh")
    assert has(lambda c: c["batch"] == 1) and has(lambda c: c["batch"] > 1 and c["lengths"])
    assert has(lambda c: c["seq_len"] == 1)


def _inputs(case, rng, model):
    T, B, I = case["seq_len"], case["batch"], case["input_size"]
    D, H, L = model.num_directions, model.hidden_size, model.num_layers
    x = rng.standard_normal((B, T, I) if case["batch_first"] else (T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((L * D, B, H)).astype(np.float32) if case["h0"] else None
    lengths = None
    if case["lengths"]:
        lengths = rng.integers(1, T + 1, size=B).astype(np.int32)
        lengths[rng.integers(0, B)] = T if B > 1 and rng.integers(0, 2) else lengths[0]
    return x, h0, lengths


def _model(case, **extra):
    return rnn.RNN(case["input_size"], case["hidden_size"], num_layers=case["num_layers"],
                   nonlinearity=case["nonlinearity"], bias=case["bias"],
                   batch_first=case["batch_first"], bidirectional=case["bidirectional"],
                   seed=case["seed"], **extra)


def _assert_close(name, got, expected, atol=ATOL):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, "%s: shape %s, torch %s" % (name, got.shape, expected.shape)
    err = float(np.max(np.abs(got - expected))) if got.size else 0.0
    assert err <= atol, "%s: max |librnn - torch| = %.3g > %.1g" % (name, err, atol)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_forward_and_backward_match_torch(case):
    rng = np.random.default_rng(case["seed"])
    model = _model(case)
    net, _ = torch_rnn_like(model)
    x, h0, lengths = _inputs(case, rng, model)

    y, h_n = model.forward(x, h0=h0, lengths=lengths)
    x_t, h0_t, y_t, hn_t = run_rnn(net, x, h0, lengths, case["batch_first"])
    _assert_close("y", y, y_t.detach().numpy())
    _assert_close("h_n", h_n, hn_t.detach().numpy())

    dy = rng.standard_normal(y.shape).astype(np.float32) if "dy" in case["grads"] else None
    dh_n = rng.standard_normal(h_n.shape).astype(np.float32) if "dh_n" in case["grads"] else None
    model.zero_grad()
    dx, dh0 = model.backward(dy, dh_n, need_dx=True, need_dh0=True)

    # Padded positions of dy are ignored by both: pad_packed_sequence gives
    # constant zeros there, and librnn drops them.
    objective = 0
    if dy is not None:
        objective = objective + (y_t * torch.from_numpy(dy)).sum()
    if dh_n is not None:
        objective = objective + (hn_t * torch.from_numpy(dh_n)).sum()
    objective.backward()

    _assert_close("dx", dx, x_t.grad.numpy())
    _assert_close("dh0", dh0, h0_t.grad.numpy())
    expected = grads_by_name(net)
    got = model.grad_dict()
    assert list(got) == list(expected), "tensor names/order differ from torch's state_dict"
    for name in expected:
        _assert_close("grad " + name, got[name], expected[name])


def test_padded_steps_give_zero_output_and_input_gradient():
    model = rnn.RNN(3, 4, num_layers=2, bidirectional=True, seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 3)).astype(np.float32)
    lengths = [5, 2, 1]
    y, _ = model.forward(x, lengths=lengths)
    dx, _ = model.backward(np.ones_like(y), need_dx=True)
    for b, n in enumerate(lengths):
        assert not y[n:, b].any()
        assert not dx[n:, b].any()


HEAD_CASES = [
    dict(head_mode="last", num_layers=1, bidirectional=False, batch_first=False, lengths=False,
         also_dy=False),
    dict(head_mode="last", num_layers=2, bidirectional=True, batch_first=True, lengths=True,
         also_dy=False),
    dict(head_mode="last", num_layers=1, bidirectional=True, batch_first=False, lengths=True,
         also_dy=True),
    dict(head_mode="all", num_layers=1, bidirectional=False, batch_first=False, lengths=False,
         also_dy=False),
    dict(head_mode="all", num_layers=2, bidirectional=True, batch_first=True, lengths=True,
         also_dy=True),
    dict(head_mode="all", num_layers=3, bidirectional=False, batch_first=False, lengths=True,
         also_dy=False),
]


@pytest.mark.parametrize("hc", HEAD_CASES,
                         ids=lambda hc: "-".join(k if v is True else str(v)
                                                 for k, v in hc.items() if v is not False))
def test_head_matches_torch_linear(hc):
    T, B, I, H, O = 6, 4, 3, 5, 3
    rng = np.random.default_rng(len(str(hc)))
    model = rnn.RNN(I, H, num_layers=hc["num_layers"], bidirectional=hc["bidirectional"],
                    batch_first=hc["batch_first"], output_size=O, head_mode=hc["head_mode"],
                    seed=11)
    net, head = torch_rnn_like(model)
    bf = hc["batch_first"]
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(np.float32)
    lengths = np.array([6, 1, 4, 3], np.int32) if hc["lengths"] else None

    y, _ = model.forward(x, lengths=lengths)
    logits = model.head_forward()
    x_t, _, y_t, _ = run_rnn(net, x, None, lengths, bf)
    if hc["head_mode"] == "last":
        last = np.full(B, T) if lengths is None else lengths
        rows = [(y_t[b, n - 1] if bf else y_t[n - 1, b]) for b, n in enumerate(last)]
        logits_t = head(torch.stack(rows))
    else:
        mask = torch.from_numpy(valid_mask(T, B, lengths, bf))[..., None]
        logits_t = head(y_t) * mask      # librnn: 0 (and no gradient) at padded steps
    _assert_close("logits", logits, logits_t.detach().numpy())

    dlogits = rng.standard_normal(logits.shape).astype(np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32) if hc["also_dy"] else None
    model.zero_grad()
    model.head_backward(dlogits)
    dx, _ = model.backward(dy, need_dx=True)
    objective = (logits_t * torch.from_numpy(dlogits)).sum()
    if dy is not None:
        objective = objective + (y_t * torch.from_numpy(dy)).sum()
    objective.backward()
    _assert_close("dx", dx, x_t.grad.numpy())
    expected = grads_by_name(net, head)
    got = model.grad_dict()
    assert sorted(got) == sorted(expected)
    for name in expected:
        _assert_close("grad " + name, got[name], expected[name])


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------

def _torch_loss(fn, inp, *args):
    leaf = torch.tensor(inp, requires_grad=True)
    loss = fn(leaf, *args)
    loss.backward()
    return loss.item(), leaf.grad.numpy()


def _assert_loss(got, expected):
    (loss, grad), (loss_t, grad_t) = got, expected
    assert loss == pytest.approx(loss_t, rel=1e-5, abs=1e-6)
    _assert_close("dloss", grad, grad_t, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1,), (7,), (4, 3), (5, 2, 2)])
def test_bce_with_logits_matches_torch(reduction, shape):
    rng = np.random.default_rng(sum(shape))
    logits = (4 * rng.standard_normal(shape)).astype(np.float32)
    logits.flat[0] = 30.0                                   # saturated, both signs
    if logits.size > 1:
        logits.flat[1] = -30.0
    targets = rng.uniform(0, 1, shape).astype(np.float32)   # soft labels too
    targets.flat[0] = 1.0
    expected = _torch_loss(torch.nn.BCEWithLogitsLoss(reduction=reduction), logits,
                           torch.from_numpy(targets))
    _assert_loss(rnn.bce_with_logits(logits, targets, reduction=reduction), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("shape", [(1, 4), (9, 5), (3, 4, 6)])
def test_cross_entropy_matches_torch(reduction, ignore_index, shape):
    rng = np.random.default_rng(shape[0] * 31 + shape[-1])
    logits = (3 * rng.standard_normal(shape)).astype(np.float32)
    classes = shape[-1]
    targets = rng.integers(0, classes, size=shape[:-1]).astype(np.int64)
    if targets.size > 1:
        targets.flat[0] = ignore_index                      # at least one ignored row
    if targets.size > 2:
        targets.flat[1] = ignore_index
    expected_loss, expected_grad = _torch_loss(
        torch.nn.CrossEntropyLoss(ignore_index=ignore_index, reduction=reduction),
        logits.reshape(-1, classes), torch.from_numpy(targets.reshape(-1)))
    got = rnn.cross_entropy(logits, targets, ignore_index=ignore_index, reduction=reduction)
    _assert_loss(got, (expected_loss, expected_grad.reshape(shape)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1,), (6,), (3, 5)])
def test_mse_matches_torch(reduction, shape):
    rng = np.random.default_rng(len(shape) * 7 + shape[0])
    pred = rng.standard_normal(shape).astype(np.float32)
    target = rng.standard_normal(shape).astype(np.float32)
    expected = _torch_loss(torch.nn.MSELoss(reduction=reduction), pred, torch.from_numpy(target))
    _assert_loss(rnn.mse(pred, target, reduction=reduction), expected)


def test_head_loss_backward_end_to_end_matches_torch():
    """head -> cross-entropy over every step -> backward, against torch."""
    T, B, I, H, O = 5, 3, 2, 4, 3
    rng = np.random.default_rng(5)
    model = rnn.RNN(I, H, output_size=O, head_mode="all", seed=21)
    net, head = torch_rnn_like(model)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    targets = rng.integers(0, O, size=(T, B)).astype(np.int32)
    targets[0, 1] = -100
    model.forward(x)
    loss, dlogits = rnn.cross_entropy(model.head_forward(), targets)
    model.head_backward(dlogits)
    model.backward()
    x_t, _, y_t, _ = run_rnn(net, x, None, None, False)
    loss_t = torch.nn.functional.cross_entropy(head(y_t).reshape(-1, O),
                                               torch.from_numpy(targets.reshape(-1)).long())
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-5)
    expected = grads_by_name(net, head)
    for name, grad in model.grad_dict().items():
        _assert_close("grad " + name, grad, expected[name])
