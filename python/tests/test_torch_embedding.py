# SPDX-License-Identifier: MIT
"""Token input against torch: a librnn model with vocab_size (its embedding
table first) against torch.nn.Embedding followed by nn.RNN / nn.LSTM /
nn.GRU holding the same weights (to_torch): outputs, final states and every
gradient, embedding.weight's included (the padding row's zero), over
configurations where V is small next to T*B (librnn's projected table) and
large (gathered rows); streaming, moving to and from torch and files, and
the refusals."""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnn
import st_format

ATOL = 1e-5

# cell, V, I, H, layers, bidirectional, batch_first, padding_idx, lengths, T, B
CONFIGS = [
    ("rnn", 7, 3, 5, 1, False, False, None, False, 6, 4),
    ("rnn", 50, 3, 5, 1, False, False, 0, False, 3, 2),
    ("rnn", 6, 4, 3, 2, True, True, 2, True, 5, 3),
    ("rnn", 40, 2, 4, 2, False, True, -1, False, 4, 2),
    ("relu", 5, 3, 4, 1, True, False, None, True, 6, 3),
    ("relu", 30, 3, 4, 2, False, False, 1, False, 2, 3),
    ("lstm", 7, 3, 5, 1, False, False, None, False, 6, 4),
    ("lstm", 50, 3, 5, 1, False, True, 3, False, 3, 2),
    ("lstm", 6, 4, 3, 2, True, False, 0, True, 5, 3),
    ("lstm", 40, 2, 4, 2, True, True, None, False, 4, 2),
    ("lstm", 4, 3, 4, 1, False, False, -2, True, 8, 2),
    ("lstm", 100, 5, 6, 3, False, False, None, False, 3, 3),
    ("gru", 7, 3, 5, 1, False, False, None, False, 6, 4),
    ("gru", 50, 3, 5, 1, False, True, 4, False, 3, 2),
    ("gru", 6, 4, 3, 2, True, False, 5, True, 5, 3),
    ("gru", 40, 2, 4, 2, True, True, None, False, 4, 2),
    ("gru", 4, 3, 4, 1, False, False, 0, True, 8, 2),
    ("gru", 100, 5, 6, 3, False, False, None, False, 3, 3),
    ("rnn", 3, 2, 3, 1, False, False, None, False, 20, 5),
    ("gru", 300, 8, 7, 1, True, False, 7, False, 2, 2),
    ("lstmp", 6, 3, 5, 2, True, False, 1, True, 5, 3),   # proj_size 2
    ("lstmp", 60, 3, 5, 1, False, True, None, False, 3, 2),
]


def _id(config):
    cell, V, _, _, L, bi, bf, pad, lengths, T, B = config
    return "%s-V%d-L%d%s%s-pad%s%s-T%dB%d" % (cell, V, L, "-bi" if bi else "",
                                            "-bf" if bf else "", pad,
                                            "-len" if lengths else "", T, B)


def _model(cell, V, I, H, L, bi, bf, pad, seed=3):
    common = dict(num_layers=L, bidirectional=bi, batch_first=bf, vocab_size=V,
                  padding_idx=pad, seed=seed)
    if cell in ("rnn", "relu"):
        return rnn.RNN(I, H, nonlinearity="relu" if cell == "relu" else "tanh", **common)
    if cell == "lstmp":
        return rnn.LSTM(I, H, proj_size=2, **common)
    return (rnn.LSTM if cell == "lstm" else rnn.GRU)(I, H, **common)


def _ids(rng, V, T, B, bf, pad):
    ids = rng.integers(0, V, size=(B, T) if bf else (T, B), dtype=np.int64)
    flat = ids.reshape(-1)
    flat[1] = flat[0]                  # a repeated id
    if pad is not None:
        flat[2] = pad % V              # the padding id appears
    return ids


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_matches_torch_embedding_and_rnn(config):
    cell, V, I, H, L, bi, bf, pad, with_lengths, T, B = config
    model = _model(cell, V, I, H, L, bi, bf, pad)
    embedding, module, head = model.to_torch()
    assert head is None
    rng = np.random.default_rng(len(_id(config)))
    ids = _ids(rng, V, T, B, bf, pad)
    lengths = [T - b % 2 for b in range(B)] if with_lengths else None
    D = 2 if bi else 1
    lstm = cell.startswith("lstm")
    h0 = rng.standard_normal((L * D, B, 2 if cell == "lstmp" else H)).astype(np.float32)
    c0 = rng.standard_normal((L * D, B, H)).astype(np.float32)
    hx_t = torch.tensor(h0, requires_grad=True)
    cx_t = torch.tensor(c0, requires_grad=True)

    emb = embedding(torch.as_tensor(ids))
    state = (hx_t, cx_t) if lstm else hx_t
    if lengths is None:
        y_t, final_t = module(emb, state)
    else:
        packed = pack_padded_sequence(emb, torch.as_tensor(lengths), batch_first=bf,
                                      enforce_sorted=False)
        out, final_t = module(packed, state)
        y_t, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)
    if lstm:
        y, (h_n, c_n) = model.forward(ids, (h0, c0), lengths=lengths)
        hn_t, cn_t = final_t
        np.testing.assert_allclose(c_n, cn_t.detach().numpy(), atol=ATOL)
    else:
        y, h_n = model.forward(ids, h0, lengths=lengths)
        hn_t = final_t
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(h_n, hn_t.detach().numpy(), atol=ATOL)

    dy = rng.standard_normal(y.shape).astype(np.float32)
    if lengths is not None:  # padded steps are constants (ignored by both)
        mask = np.arange(T)[:, None] < np.asarray(lengths)[None, :]
        dy *= (mask.T if bf else mask)[..., None]
    dh_n = rng.standard_normal(h_n.shape).astype(np.float32)
    model.zero_grad()
    if lstm:
        dc_n = rng.standard_normal(c_n.shape).astype(np.float32)
        _, (dh0, dc0) = model.backward(dy, dh_n, dc_n, need_dh0=True, need_dc0=True)
        torch.autograd.backward([y_t, hn_t, cn_t], [torch.tensor(dy), torch.tensor(dh_n),
                                                    torch.tensor(dc_n)])
        np.testing.assert_allclose(dc0, cx_t.grad.numpy(), atol=ATOL)
    else:
        dh0 = model.backward(dy, dh_n, need_dh0=True)[1]
        torch.autograd.backward([y_t, hn_t], [torch.tensor(dy), torch.tensor(dh_n)])
    np.testing.assert_allclose(dh0, hx_t.grad.numpy(), atol=ATOL)
    grads = model.grad_dict()
    assert set(grads) == {"embedding.weight"} | {n for n, _ in module.named_parameters()}
    np.testing.assert_allclose(grads["embedding.weight"], embedding.weight.grad.numpy(),
                               atol=ATOL)
    for name, param in module.named_parameters():
        np.testing.assert_allclose(grads[name], param.grad.numpy(), atol=ATOL, err_msg=name)
    if pad is not None:
        assert not np.any(grads["embedding.weight"][pad % V])
        assert not np.any(model.state_dict()["embedding.weight"][pad % V])
        assert model.padding_idx == pad % V


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_sequence_head_and_streaming_match_the_forward(cell):
    model = _model(cell, 9, 3, 4, 2, False, False, 0)
    model = type(model).from_bytes(model.to_bytes())   # through a saved file
    assert model.vocab_size == 9 and model.padding_idx == 0
    ids = np.array([3, 3, 0, 8, 1, 5], dtype=np.int64)
    y, _ = model.forward(ids)
    assert y.shape == (6, 4)
    embedding, module, _ = model.to_torch()
    y_t, _ = module(embedding(torch.as_tensor(ids)))
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=ATOL)
    with model.state(1) as stream:
        for t, token in enumerate(ids):
            np.testing.assert_allclose(stream.step([token])[0], y[t], atol=ATOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_from_torch_and_a_torch_written_file_give_the_same_model(cell, tmp_path):
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    embedding = torch.nn.Embedding(12, 3, padding_idx=4)
    module = kind(3, 5, num_layers=2)
    klass = {"rnn": rnn.RNN, "lstm": rnn.LSTM, "gru": rnn.GRU}[cell]
    model = klass.from_torch(module, embedding=embedding)
    assert model.vocab_size == 12 and model.padding_idx == 4
    ids = np.random.default_rng(4).integers(0, 12, size=(5, 2))
    want = module(embedding(torch.as_tensor(ids)))[0].detach().numpy()
    np.testing.assert_allclose(model.forward(ids)[0], want, atol=ATOL)
    # torch's own names in one state_dict (no librnn metadata): vocab_size
    # is read off embedding.weight's rows
    arrays = {"embedding.weight": embedding.weight.detach().numpy()}
    arrays.update({k: v.detach().numpy() for k, v in module.state_dict().items()})
    path = tmp_path / "torch.safetensors"
    st_format.save(str(path), arrays)
    loaded = rnn.load(path)
    assert type(loaded) is klass and loaded.vocab_size == 12 and loaded.padding_idx is None
    np.testing.assert_allclose(loaded.forward(ids)[0], want, atol=ATOL)


def test_bad_token_input_is_refused():
    model = rnn.GRU(3, 4, vocab_size=6, padding_idx=2)
    with pytest.raises(ValueError, match="integer token ids"):
        model.forward(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"ids\[1, 0\] = 6 is outside \[0, vocab_size 6\)"):
        model.forward(np.array([[0, 1], [6, 2]]))
    with pytest.raises(ValueError, match="= -1 is outside"):
        model.forward(np.array([[0, -1]]))
    model.forward(np.array([[0, 1], [5, 2]]))
    with pytest.raises(ValueError, match="no gradient"):
        model.backward(np.ones((2, 2, 4), np.float32), need_dx=True)
    with model.state(2) as stream:
        with pytest.raises(ValueError, match="ids_t"):
            stream.step([1, 9])
        with pytest.raises(ValueError, match="integer"):
            stream.step(np.zeros((2, 3), np.float32))
    dense = rnn.GRU(3, 4)   # ids [T, B] to it read as one sequence x [T, I]
    with pytest.raises(ValueError, match="input_size is 3"):
        dense.forward(np.array([[0, 1], [5, 2]]))
    with pytest.raises(rnn.RNNError, match="padding_idx"):
        rnn.RNN(3, 4, vocab_size=6, padding_idx=6)
