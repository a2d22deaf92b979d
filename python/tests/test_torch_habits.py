# SPDX-License-Identifier: MIT
"""The habits of torch.nn.RNN users: one unbatched sequence, named_parameters,
and moving a model to and from torch in one line each way (no safetensors
package), checked against torch."""

import numpy as np
import pytest
import torch

import rnn

ATOL = 1e-5


def _pair(**config):
    model = rnn.RNN(seed=5, **config)
    module, head = model.to_torch()
    return model, module, head


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_one_unbatched_sequence_matches_torch(batch_first, bidirectional):
    model, module, _ = _pair(input_size=3, hidden_size=5, num_layers=2,
                             batch_first=batch_first, bidirectional=bidirectional)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    h0 = rng.standard_normal((model.num_layers * model.num_directions, 5)).astype(np.float32)
    y, h_n = model.forward(x, h0)
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    yt, h_nt = module(xt, h0t)
    assert y.shape == tuple(yt.shape) and h_n.shape == tuple(h_nt.shape)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(h_n, h_nt.detach().numpy(), atol=ATOL)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dh0 = model.backward(dy, need_dx=True, need_dh0=True)
    yt.backward(torch.tensor(dy))
    assert dx.shape == x.shape and dh0.shape == h0.shape
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=ATOL)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), atol=ATOL)
    for name, grad in model.grad_dict().items():
        np.testing.assert_allclose(grad, getattr(module, name).grad.numpy(), atol=ATOL)


@pytest.mark.parametrize("head_mode", ["last", "all"])
def test_one_unbatched_sequence_through_the_head(head_mode):
    model, module, head = _pair(input_size=2, hidden_size=4, output_size=3,
                                head_mode=head_mode)
    x = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    model.forward(x)
    logits = model.head_forward()
    y, _ = module(torch.tensor(x))
    want = head(y[-1] if head_mode == "last" else y).detach().numpy()
    assert logits.shape == want.shape
    np.testing.assert_allclose(logits, want, atol=ATOL)
    model.zero_grad()
    model.head_backward(np.ones_like(logits))
    model.backward(need_dx=False, need_dh0=False)
    assert np.any(model.grad_dict()["weight_hh_l0"] != 0)


def test_unbatched_sequence_with_lengths_is_refused():
    model = rnn.RNN(2, 3)
    with pytest.raises(ValueError, match="lengths"):
        model.forward(np.zeros((4, 2), np.float32), lengths=[4])


def test_named_parameters_are_the_state_dict_views_in_torch_order():
    model = rnn.RNN(2, 3, num_layers=2, bidirectional=True, output_size=1)
    module = torch.nn.RNN(2, 3, num_layers=2, bidirectional=True)
    names = [name for name, _ in model.named_parameters()]
    assert names == [name for name, _ in module.named_parameters()] + ["head.weight", "head.bias"]
    first = next(model.parameters())
    first[...] = 0.25
    assert np.all(model.state_dict()["weight_ih_l0"] == 0.25)
    assert sum(p.size for p in model.parameters()) == model.params.size


@pytest.mark.parametrize("config", [
    dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, nonlinearity="relu"),
    dict(input_size=2, hidden_size=5, bias=False, batch_first=True, output_size=2),
])
def test_to_torch_and_from_torch_round_trip_the_weights_and_the_outputs(config):
    model = rnn.RNN(seed=9, **config)
    module, head = model.to_torch()
    assert module.nonlinearity == model.nonlinearity and module.bias == model.bias
    assert (head is None) == (model.output_size == 0)
    x = np.random.default_rng(3).standard_normal(
        (2, 6, config["input_size"]) if model.batch_first else (6, 2, config["input_size"])
    ).astype(np.float32)
    y, h_n = model.forward(x)
    yt, h_nt = module(torch.tensor(x))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(h_n, h_nt.detach().numpy(), atol=ATOL)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.5)
    back = rnn.RNN.from_torch(module, head)
    assert back.config() == dict(model.config(), seed=0)
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value.numpy())
    if head is not None:
        np.testing.assert_array_equal(back.state_dict()["head.weight"], head.weight.detach().numpy())


# --------------------------------------------------------------------------
# train() / eval(), no_grad, dropout
# --------------------------------------------------------------------------

def _inputs(shape, seed=4):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("head_mode", ["last", "all"])
def test_eval_runs_the_inference_forward_with_the_same_outputs(head_mode):
    model = rnn.RNN(3, 6, num_layers=2, output_size=2, head_mode=head_mode, seed=2)
    x = _inputs((9, 4, 3))
    y, h_n = model.forward(x)
    logits = model.head_forward()
    assert model.eval() is model and not model.training
    y_eval, h_eval = model.forward(x)
    np.testing.assert_array_equal(y_eval, y)
    np.testing.assert_array_equal(h_eval, h_n)
    np.testing.assert_array_equal(model.head_forward(), logits)
    with pytest.raises(rnn.RNNError, match="rnn_forward_inference") as info:
        model.backward()
    assert info.value.status_name == "RNN_E_STATE"
    model.train()
    model.forward(x)
    model.head_backward(np.ones_like(logits))
    model.backward()


def test_no_grad_is_a_context_like_torch():
    model = rnn.RNN(2, 4)
    x = _inputs((5, 2, 2))
    with rnn.no_grad():
        with rnn.no_grad():
            model.forward(x)
        model.forward(x)
        with pytest.raises(rnn.RNNError, match="rnn_forward_inference"):
            model.backward(np.ones((5, 2, 4), np.float32))
    y, _ = model.forward(x)
    model.backward(np.ones_like(y))
    assert model.training


def test_dropout_matches_torch_semantics_and_eval_turns_it_off():
    model = rnn.RNN(3, 16, num_layers=3, dropout=0.5, seed=1)
    module, _ = model.to_torch()
    assert module.dropout == 0.5 and model.config()["dropout"] == 0.5
    x = _inputs((20, 8, 3))
    module.eval()
    want = module(torch.tensor(x))[0].detach().numpy()
    model.eval()
    np.testing.assert_allclose(model.forward(x)[0], want, atol=ATOL)
    model.train()
    model.seed_dropout(3)
    dropped = model.forward(x)[0]
    model.seed_dropout(3)
    np.testing.assert_array_equal(model.forward(x)[0], dropped)
    assert np.abs(dropped - want).max() > 1e-2
    back = rnn.RNN.from_torch(module)
    assert back.dropout == 0.5


def test_dropout_on_one_layer_is_refused():
    with pytest.raises(rnn.RNNError, match="num_layers is 1"):
        rnn.RNN(2, 3, dropout=0.3)
