# SPDX-License-Identifier: MIT
"""rnn.LSTM(proj_size=P) against torch.nn.LSTM(proj_size=P).

torch runs in float64 on librnn's float32 weights: outputs, h_n [L*D, B, P],
c_n [L*D, B, H] and every gradient (weight_hr_l{k} included, dx, dh0, dc0)
must agree to 1e-5, on random configurations (layers, directions, bias,
batch_first, lengths, h0/c0). Also: the model moves to and from torch, a
torch state_dict saved without metadata loads with its proj_size, and the
streamed steps match the forward.
"""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnn
import st_format

TOL = 1e-5


def _configs():
    rng = np.random.default_rng(2026)
    out = []
    for k in range(12):
        hidden = int(rng.integers(3, 9))
        out.append(dict(
            input_size=int(rng.integers(1, 6)), hidden_size=hidden,
            proj_size=int(rng.integers(1, hidden)),
            num_layers=1 + k % 2, bidirectional=bool(k // 2 % 2),
            bias=k % 5 != 4, batch_first=bool(k // 4 % 2),
            seq_len=int(rng.integers(1, 8)), batch=int(rng.integers(1, 5)),
            lengths=k % 3 == 2, states=k % 4 != 3, seed=k))
    return out


CONFIGS = _configs() + [
    # enough rows and steps that librnn's threads (when it has several)
    # cut the recurrences into batch slices
    dict(input_size=16, hidden_size=64, proj_size=24, num_layers=2, bidirectional=True,
         bias=True, batch_first=False, seq_len=40, batch=16, lengths=True, states=True,
         seed=12)]


def _id(cfg):
    return "L%(num_layers)d-bi%(bidirectional)d-H%(hidden_size)d-P%(proj_size)d-" \
           "bias%(bias)d-bf%(batch_first)d-T%(seq_len)d-B%(batch)d-len%(lengths)d" % cfg


def test_the_configs_cover_the_variations():
    def has(key, value):
        return any(c[key] == value for c in CONFIGS)
    for key in ("bidirectional", "bias", "batch_first", "lengths", "states"):
        assert has(key, True) and has(key, False), key
    assert has("num_layers", 1) and has("num_layers", 2)
    assert any(c["lengths"] and c["bidirectional"] for c in CONFIGS)


def _model(cfg):
    return rnn.LSTM(cfg["input_size"], cfg["hidden_size"], cfg["num_layers"], bias=cfg["bias"],
                    batch_first=cfg["batch_first"], bidirectional=cfg["bidirectional"],
                    proj_size=cfg["proj_size"], seed=cfg["seed"])


def _torch_forward(net, x, h0, c0, lengths, batch_first):
    """net (float64) on leaves made from the NumPy inputs; lengths through
    pack_padded_sequence, as the packed semantics librnn follows."""
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, h0, c0)]
    x_t, h0_t, c0_t = leaves
    if lengths is None:
        y_t, (hn_t, cn_t) = net(x_t, (h0_t, c0_t))
    else:
        seq_len = x.shape[1] if batch_first else x.shape[0]
        packed = pack_padded_sequence(x_t, torch.as_tensor(lengths, dtype=torch.int64),
                                      batch_first=batch_first, enforce_sorted=False)
        out, (hn_t, cn_t) = net(packed, (h0_t, c0_t))
        y_t, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=seq_len)
    return leaves, y_t, hn_t, cn_t


def _close(name, got, want):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    assert got.shape == want.shape, name
    err = np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))
    assert err <= TOL, "%s: max error %.3g" % (name, err)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_id)
def test_forward_and_gradients_match_torch(cfg):
    model = _model(cfg)
    net = model.to_torch()[0].double()
    assert net.proj_size == cfg["proj_size"]
    rng = np.random.default_rng(cfg["seed"])
    T, B, P, H = cfg["seq_len"], cfg["batch"], cfg["proj_size"], cfg["hidden_size"]
    LD = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    x = rng.standard_normal((B, T, cfg["input_size"]) if cfg["batch_first"]
                            else (T, B, cfg["input_size"])).astype(np.float32)
    h0 = rng.standard_normal((LD, B, P)).astype(np.float32)
    c0 = rng.standard_normal((LD, B, H)).astype(np.float32)
    if not cfg["states"]:
        h0[:] = 0.0
        c0[:] = 0.0
    lengths = rng.integers(1, T + 1, B).astype(np.int32) if cfg["lengths"] else None

    y, (h_n, c_n) = model(x, (h0, c0) if cfg["states"] else None, lengths)
    (x_t, h0_t, c0_t), y_t, hn_t, cn_t = _torch_forward(net, x, h0, c0, lengths,
                                                        cfg["batch_first"])
    assert h_n.shape == (LD, B, P) and c_n.shape == (LD, B, H)
    _close("y", y, y_t)
    _close("h_n", h_n, hn_t)
    _close("c_n", c_n, cn_t)

    dy = rng.standard_normal(y.shape).astype(np.float32)
    dh_n = rng.standard_normal(h_n.shape).astype(np.float32)
    dc_n = rng.standard_normal(c_n.shape).astype(np.float32)
    loss = (y_t * torch.from_numpy(dy).double()).sum() + \
        (hn_t * torch.from_numpy(dh_n).double()).sum() + \
        (cn_t * torch.from_numpy(dc_n).double()).sum()
    loss.backward()
    model.zero_grad()
    dx, (dh0, dc0) = model.backward(dy, dh_n, dc_n, need_dx=True, need_dh0=True,
                                    need_dc0=True)
    _close("dx", dx, x_t.grad)
    _close("dh0", dh0, h0_t.grad)
    _close("dc0", dc0, c0_t.grad)
    grads = model.grad_dict()
    names = [n for n, _ in net.named_parameters()]
    assert names == list(grads), "torch's parameter order"
    assert any(n.startswith("weight_hr_l") for n in names)
    for name, p in net.named_parameters():
        _close(name, grads[name], p.grad)


def test_from_torch_and_back_keep_the_weights():
    net = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2)
    model = rnn.LSTM.from_torch(net)
    assert model.proj_size == 2
    for name, value in net.state_dict().items():
        assert model.state_dict()[name].tobytes() == value.numpy().tobytes(), name
    back, head = model.to_torch()
    assert head is None and back.proj_size == 2
    for name, value in net.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name


@pytest.mark.parametrize("bias", [True, False])
def test_a_torch_state_dict_without_metadata_loads_with_its_proj_size(bias, tmp_path):
    net = torch.nn.LSTM(4, 7, num_layers=2, bidirectional=True, bias=bias, proj_size=3)
    path = tmp_path / "lstm.safetensors"
    st_format.save(path, {k: v.detach().numpy() for k, v in net.state_dict().items()},
                   metadata={"format": "pt"})
    model = rnn.load(path)
    assert isinstance(model, rnn.LSTM)
    assert (model.input_size, model.hidden_size, model.proj_size) == (4, 7, 3)
    assert model.num_layers == 2 and model.bidirectional and model.bias == bias
    x = np.random.default_rng(1).standard_normal((5, 2, 4)).astype(np.float32)
    y, (h_n, c_n) = model(x)
    with torch.no_grad():
        y_t, (hn_t, cn_t) = net.double()(torch.from_numpy(x).double())
    _close("y", y, y_t)
    _close("h_n", h_n, hn_t)
    _close("c_n", c_n, cn_t)

    # and a librnn file of it names weight_hr as torch does
    saved = tmp_path / "librnn.safetensors"
    model.save(saved)
    tensors, metadata, _ = st_format.parse(saved.read_bytes())
    assert metadata["proj_size"] == "3"
    assert "weight_hr_l1_reverse" in tensors


@pytest.mark.parametrize("packed", [False, True])
def test_streamed_steps_match_the_forward(packed):
    model = rnn.LSTM(3, 6, 2, proj_size=4, seed=5)
    if packed:
        model.pack_weights()
    x = np.random.default_rng(3).standard_normal((6, 2, 3)).astype(np.float32)
    y, (h_n, c_n) = model(x)
    with rnn.State(model, batch=2) as state:
        assert state.get().shape == (2, 2, 4) and state.get_cell().shape == (2, 2, 6)
        steps = np.stack([state.step(x[t]) for t in range(6)])
        np.testing.assert_allclose(steps, y, atol=1e-6)
        np.testing.assert_allclose(state.get(), h_n, atol=1e-6)
        np.testing.assert_allclose(state.get_cell(), c_n, atol=1e-6)
        state.reset(np.array([1, 0]))
        assert not state.get()[:, 0].any() and not state.get_cell()[:, 0].any()
        assert state.get()[:, 1].any() and state.get_cell()[:, 1].any()


@pytest.mark.parametrize("head_mode", ["last", "all"])
def test_the_head_reads_the_projected_outputs(head_mode):
    model = rnn.LSTM(3, 6, 1, bidirectional=True, proj_size=2, output_size=3,
                     head_mode=head_mode, seed=4)
    net, head = model.to_torch()
    assert head.in_features == 4                # D * P
    net, head = net.double(), head.double()
    x = np.random.default_rng(5).standard_normal((5, 2, 3)).astype(np.float32)
    model(x)
    logits = model.head_forward()
    y_t, _ = net(torch.from_numpy(x).double())
    if head_mode == "last":
        # a bidirectional model's "last" row: the last step of both directions
        logits_t = head(y_t[-1])
    else:
        logits_t = head(y_t)
    _close("logits", logits, logits_t)
    dlogits = np.random.default_rng(6).standard_normal(logits.shape).astype(np.float32)
    (logits_t * torch.from_numpy(dlogits).double()).sum().backward()
    model.zero_grad()
    model.head_backward(dlogits)
    model.backward()
    grads = model.grad_dict()
    _close("head.weight", grads["head.weight"], head.weight.grad)
    _close("head.bias", grads["head.bias"], head.bias.grad)
    for name, p in net.named_parameters():
        _close(name, grads[name], p.grad)
