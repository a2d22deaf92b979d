# SPDX-License-Identifier: MIT
"""The Python API of rnn.LSTM and rnn.GRU: torch's constructors and return
values, backward's arguments and results, streaming the cell state
(State.get_cell / set_cell), to_torch / from_torch, rnn.load of saved
models and of torch state_dicts, and the errors of bad input. Values
against torch are test_torch_cells.py's."""

import numpy as np
import pytest
import torch

import rnn
import st_format


def _randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------
# Constructors and attributes: torch's positional order
# --------------------------------------------------------------------------

def test_lstm_takes_torch_positional_arguments():
    # input_size, hidden_size, num_layers, bias, batch_first, dropout,
    # bidirectional: nn.LSTM's order.
    model = rnn.LSTM(3, 5, 2, False, True, 0.25, True)
    net = torch.nn.LSTM(3, 5, 2, False, True, 0.25, True)
    assert (model.input_size, model.hidden_size, model.num_layers) == (3, 5, 2)
    assert (model.bias, model.batch_first, model.bidirectional) == (False, True, True)
    assert model.dropout == pytest.approx(0.25)
    assert model.proj_size == 0
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert list(model.state_dict()) == list(net.state_dict())


def test_gru_takes_torch_positional_arguments():
    model = rnn.GRU(4, 3, 3, True, False, 0.0, True)
    net = torch.nn.GRU(4, 3, 3, True, False, 0.0, True)
    assert (model.num_layers, model.bidirectional, model.bias) == (3, True, True)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert list(model.state_dict()) == list(net.state_dict())


def test_gru_has_no_proj_size_argument_like_torch():
    with pytest.raises(TypeError):
        rnn.GRU(3, 4, proj_size=2)


def test_lstm_refuses_proj_size_not_below_hidden_size():
    with pytest.raises((rnn.RNNError, ValueError)) as err:
        rnn.LSTM(3, 4, proj_size=4)
    assert "proj_size" in str(err.value)


# --------------------------------------------------------------------------
# forward / backward: what they return
# --------------------------------------------------------------------------

def test_lstm_forward_returns_y_and_the_pair_h_n_c_n():
    rng = np.random.default_rng(1)
    model = rnn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=2)
    out = model(_randn(rng, 5, 2, 3))
    assert isinstance(out, tuple) and len(out) == 2
    y, state = out
    assert isinstance(state, tuple) and len(state) == 2
    h_n, c_n = state
    assert y.shape == (5, 2, 8) and h_n.shape == (4, 2, 4) and c_n.shape == (4, 2, 4)
    # the last forward step of the top layer is h_n's row 2 (layer 1, forward)
    np.testing.assert_array_equal(y[-1, :, :4], h_n[2])


def test_projected_lstm_has_h_of_proj_size_and_c_of_hidden_size():
    rng = np.random.default_rng(9)
    model = rnn.LSTM(3, 6, 2, True, False, 0.0, True, 2, seed=4)   # proj_size=2
    assert model.proj_size == 2
    assert model.state_dict()["weight_hr_l1_reverse"].shape == (2, 6)
    assert model.state_dict()["weight_ih_l1"].shape == (24, 4)
    y, (h_n, c_n) = model(_randn(rng, 5, 2, 3))
    assert y.shape == (5, 2, 4) and h_n.shape == (4, 2, 2) and c_n.shape == (4, 2, 6)
    _, (dh0, dc0) = model.backward(None, h_n, c_n, need_dh0=True, need_dc0=True)
    assert dh0.shape == (4, 2, 2) and dc0.shape == (4, 2, 6)
    state = rnn.LSTM(3, 6, proj_size=2).state(batch=3)
    assert state.get().shape == (1, 3, 2) and state.get_cell().shape == (1, 3, 6)


def test_gru_forward_returns_y_and_h_n():
    rng = np.random.default_rng(2)
    model = rnn.GRU(3, 4, num_layers=2, batch_first=True, seed=3)
    y, h_n = model(_randn(rng, 2, 6, 3))
    assert y.shape == (2, 6, 4) and h_n.shape == (2, 2, 4)
    np.testing.assert_array_equal(y[:, -1], h_n[1])


def test_lstm_takes_one_unbatched_sequence_like_torch():
    rng = np.random.default_rng(3)
    model = rnn.LSTM(3, 4, seed=4)
    x = _randn(rng, 5, 3)
    h0, c0 = _randn(rng, 1, 4), _randn(rng, 1, 4)
    y, (h_n, c_n) = model(x, (h0, c0))
    assert y.shape == (5, 4) and h_n.shape == (1, 4) and c_n.shape == (1, 4)
    dx, (dh0, dc0) = model.backward(np.ones_like(y), None, np.ones_like(c_n), need_dx=True,
                                    need_dh0=True, need_dc0=True)
    assert dx.shape == (5, 3) and dh0.shape == (1, 4) and dc0.shape == (1, 4)
    yb, (hb, cb) = model(x[:, None], (h0[:, None], c0[:, None]))
    np.testing.assert_array_equal(y, yb[:, 0])
    np.testing.assert_array_equal(c_n, cb[:, 0])
    _, (_, dc0b) = model.backward(np.ones_like(yb), None, np.ones_like(cb), need_dc0=True)
    np.testing.assert_array_equal(dc0, dc0b[:, 0])


def test_lstm_hx_parts_may_each_be_none():
    rng = np.random.default_rng(4)
    model = rnn.LSTM(2, 3, seed=5)
    x, h0, c0 = _randn(rng, 4, 2, 2), _randn(rng, 1, 2, 3), _randn(rng, 1, 2, 3)
    zeros = np.zeros((1, 2, 3), np.float32)
    y_h, _ = model(x, (h0, None))
    np.testing.assert_array_equal(y_h, model(x, (h0, zeros))[0])
    y_c, _ = model(x, (None, c0))
    np.testing.assert_array_equal(y_c, model(x, (zeros, c0))[0])
    np.testing.assert_array_equal(model(x)[0], model(x, (zeros, zeros))[0])


def test_lstm_backward_returns_dx_and_the_pair_dh0_dc0_when_asked():
    rng = np.random.default_rng(5)
    model = rnn.LSTM(3, 4, num_layers=2, seed=6)
    x = _randn(rng, 4, 2, 3)
    y, (h_n, c_n) = model(x)
    model.zero_grad()
    dx, (dh0, dc0) = model.backward(_randn(rng, *y.shape), _randn(rng, *h_n.shape),
                                    _randn(rng, *c_n.shape), need_dx=True,
                                    need_dh0=True, need_dc0=True)
    assert dx.shape == x.shape and dh0.shape == h_n.shape and dc0.shape == c_n.shape
    model(x)
    dx, (dh0, dc0) = model.backward(_randn(rng, *y.shape))
    assert dx is None and dh0 is None and dc0 is None


def test_dc_n_alone_is_something_to_propagate():
    rng = np.random.default_rng(6)
    model = rnn.LSTM(3, 4, seed=7)
    model(_randn(rng, 5, 2, 3))
    model.zero_grad()
    _, (dh0, dc0) = model.backward(None, None, _randn(rng, 1, 2, 4), need_dh0=True,
                                   need_dc0=True)
    assert np.abs(dc0).sum() > 0 and np.abs(dh0).sum() > 0
    assert all(np.abs(g).sum() > 0 for g in model.grad_dict().values())


def test_gru_backward_returns_dx_and_dh0():
    rng = np.random.default_rng(7)
    model = rnn.GRU(3, 4, seed=8)
    x = _randn(rng, 4, 2, 3)
    y, h_n = model(x)
    out = model.backward(_randn(rng, *y.shape), _randn(rng, *h_n.shape), need_dx=True,
                         need_dh0=True)
    assert len(out) == 2
    dx, dh0 = out
    assert dx.shape == x.shape and dh0.shape == h_n.shape


# --------------------------------------------------------------------------
# Streaming: State with the LSTM's cell state
# --------------------------------------------------------------------------

def test_lstm_state_steps_match_forward_with_c0_and_get_cell_gives_c_n():
    rng = np.random.default_rng(8)
    model = rnn.LSTM(3, 5, num_layers=2, seed=9)
    x, h0, c0 = _randn(rng, 6, 2, 3), _randn(rng, 2, 2, 5), _randn(rng, 2, 2, 5)
    y, (h_n, c_n) = model(x, (h0, c0))
    state = model.state(batch=2)
    state.set(h0)
    state.set_cell(c0)
    for t in range(6):
        np.testing.assert_allclose(state.step(x[t]), y[t], rtol=0, atol=1e-6)
    np.testing.assert_allclose(state.get(), h_n, rtol=0, atol=1e-6)
    np.testing.assert_allclose(state.get_cell(), c_n, rtol=0, atol=1e-6)
    state.reset()
    assert not state.get_cell().any() and not state.get().any()


def test_state_of_a_gru_has_no_cell():
    model = rnn.GRU(2, 3)
    state = model.state(batch=2)
    for call in (state.get_cell, lambda: state.set_cell(np.zeros((1, 2, 3), np.float32))):
        with pytest.raises(rnn.RNNError) as err:
            call()
        assert "cell state" in str(err.value)


def test_set_cell_checks_the_shape():
    state = rnn.LSTM(2, 3, num_layers=2).state(batch=2)
    with pytest.raises(ValueError) as err:
        state.set_cell(np.zeros((2, 2, 4), np.float32))
    assert "[L, B, H]" in str(err.value)


# --------------------------------------------------------------------------
# Moving weights to and from torch
# --------------------------------------------------------------------------

@pytest.mark.parametrize("klass", [rnn.LSTM, rnn.GRU])
def test_to_torch_and_from_torch_copy_every_weight(klass):
    model = klass(3, 4, num_layers=2, bidirectional=True, bias=False, batch_first=True,
                  seed=10, output_size=2)
    net, head = model.to_torch()
    assert type(net) is {rnn.LSTM: torch.nn.LSTM, rnn.GRU: torch.nn.GRU}[klass]
    assert net.batch_first and net.bidirectional and not net.bias and net.num_layers == 2
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), model.state_dict()[name])
    np.testing.assert_array_equal(head.weight.detach().numpy(),
                                  model.state_dict()["head.weight"])
    back = klass.from_torch(net, head)
    assert type(back) is klass and back.output_size == 2
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value)


def test_from_torch_refuses_another_cell():
    with pytest.raises(ValueError) as err:
        rnn.GRU.from_torch(torch.nn.LSTM(2, 3))
    assert "LSTM" in str(err.value)
    with pytest.raises(ValueError):
        rnn.LSTM.from_torch(torch.nn.GRU(2, 3))


def test_rnnbase_from_torch_picks_the_cell():
    assert type(rnn.RNNBase.from_torch(torch.nn.LSTM(2, 3))) is rnn.LSTM
    assert type(rnn.RNNBase.from_torch(torch.nn.GRU(2, 3))) is rnn.GRU


# --------------------------------------------------------------------------
# rnn.load: saved models and torch files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("klass", [rnn.LSTM, rnn.GRU])
def test_rnn_load_gives_back_the_saved_cell(klass, tmp_path):
    rng = np.random.default_rng(11)
    model = klass(3, 4, num_layers=2, bidirectional=True, batch_first=True, seed=12,
                  output_size=2, head_mode="all")
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = rnn.load(path)
    assert type(loaded) is klass
    assert loaded.config() == model.config()
    x = _randn(rng, 2, 5, 3)
    out, out_loaded = model(x), loaded(x)
    np.testing.assert_array_equal(out[0], out_loaded[0])
    assert klass.load(path).hidden_size == 4
    other = rnn.GRU if klass is rnn.LSTM else rnn.LSTM
    with pytest.raises((ValueError, rnn.RNNError)):
        other.load(path)


@pytest.mark.parametrize("torch_klass, proj_size", [(torch.nn.LSTM, 0), (torch.nn.LSTM, 2),
                                                    (torch.nn.GRU, 0)])
def test_rnn_load_infers_the_cell_of_a_torch_state_dict(torch_klass, proj_size, tmp_path):
    extra = {"proj_size": proj_size} if proj_size else {}
    net = torch_klass(3, 5, num_layers=2, bidirectional=True, **extra)
    path = tmp_path / "torch.safetensors"
    st_format.save(path, {k: v.detach().numpy() for k, v in net.state_dict().items()})
    model = rnn.load(path)
    assert type(model) is {torch.nn.LSTM: rnn.LSTM, torch.nn.GRU: rnn.GRU}[torch_klass]
    assert (model.input_size, model.hidden_size, model.num_layers) == (3, 5, 2)
    assert model.bidirectional and model.proj_size == proj_size
    x = np.random.default_rng(13).standard_normal((4, 2, 3)).astype(np.float32)
    y_t, _ = net(torch.from_numpy(x))
    np.testing.assert_allclose(model(x)[0], y_t.detach().numpy(), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

def test_c0_given_to_a_gru_is_refused_clearly():
    model = rnn.GRU(3, 4)
    x = np.zeros((5, 2, 3), np.float32)
    h0 = np.zeros((1, 2, 4), np.float32)
    with pytest.raises(ValueError) as err:
        model(x, (h0, h0))
    assert "cell state" in str(err.value) and "(h0, c0)" in str(err.value)


def test_lstm_hx_must_be_a_pair():
    model = rnn.LSTM(3, 4)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError) as err:
        model(x, np.zeros((1, 2, 4), np.float32))
    assert "(h0, c0)" in str(err.value)


def test_lstm_c0_and_dc_n_shapes_are_checked():
    model = rnn.LSTM(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError) as err:
        model(x, (None, np.zeros((1, 2, 4), np.float32)))
    assert "c0" in str(err.value)
    model(x)
    with pytest.raises(ValueError) as err:
        model.backward(None, None, np.zeros((2, 2, 5), np.float32))
    assert "dc_n" in str(err.value)
