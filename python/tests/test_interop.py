# SPDX-License-Identifier: MIT
"""Model files move between librnn and PyTorch (safetensors).

The files are read and written here by st_format, a pure-Python
implementation of the format independent of librnn (Debian has no
python3-safetensors), so each side is checked by a second implementation.
"""

import os

import numpy as np
import pytest
import torch

import rnn
import st_format
from torch_ref import run_rnn, torch_rnn_like

CONFIGS = [
    dict(input_size=3, hidden_size=5),
    dict(input_size=2, hidden_size=4, num_layers=2, bidirectional=True, bias=False),
    dict(input_size=4, hidden_size=3, num_layers=3, nonlinearity="relu", batch_first=True),
    dict(input_size=2, hidden_size=6, num_layers=2, bidirectional=True, output_size=3),
]


def _id(cfg):
    return "-".join("%s=%s" % kv for kv in cfg.items())


def _torch_state(net, head=None):
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if head is not None:
        state["head.weight"] = head.weight.detach().clone()
        state["head.bias"] = head.bias.detach().clone()
    return state


def _x(model, seq_len=5, batch=3, seed=0):
    shape = (batch, seq_len, model.input_size) if model.batch_first else \
        (seq_len, batch, model.input_size)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_id)
def test_a_librnn_file_loads_into_torch(cfg, tmp_path):
    model = rnn.RNN(seed=17, **cfg)
    path = tmp_path / "model.safetensors"
    model.save(path)
    data = path.read_bytes()
    assert data == model.to_bytes()

    arrays, metadata = st_format.load(path)
    infos = model.tensors()
    assert sorted(arrays) == sorted(t.name for t in infos)
    for t in infos:
        assert arrays[t.name].dtype == np.float32 and arrays[t.name].shape == t.shape
        assert arrays[t.name].tobytes() == model.state_dict()[t.name].tobytes()
    assert metadata.get("format") == "librnn" and metadata.get("format_version") == "1"
    assert metadata.get("input_size") == str(model.input_size)
    assert metadata.get("hidden_size") == str(model.hidden_size)

    net = torch.nn.RNN(model.input_size, model.hidden_size, num_layers=model.num_layers,
                       nonlinearity=model.nonlinearity, bias=model.bias,
                       batch_first=model.batch_first, bidirectional=model.bidirectional)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()
                         if not k.startswith("head.")}, strict=True)
    x = _x(model)
    y, h_n = model.forward(x)
    _, _, y_t, hn_t = run_rnn(net, x, None, None, model.batch_first)
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(h_n, hn_t.detach().numpy(), atol=1e-5)
    if model.output_size:
        head = torch.nn.Linear(model.num_directions * model.hidden_size, model.output_size)
        head.load_state_dict({"weight": torch.from_numpy(arrays["head.weight"]),
                              "bias": torch.from_numpy(arrays["head.bias"])})
        np.testing.assert_allclose(model.head_forward(),
                                   head(y_t[-1]).detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("layers, bidirectional, bias", [(1, False, True), (2, True, True),
                                                        (3, False, False)])
def test_a_torch_state_dict_loads_in_librnn(layers, bidirectional, bias, tmp_path):
    net = torch.nn.RNN(3, 4, num_layers=layers, bidirectional=bidirectional, bias=bias)
    state = _torch_state(net)
    path = tmp_path / "torch.safetensors"
    # What safetensors.torch.save_file writes: {"format": "pt"} metadata.
    st_format.save(path, {k: v.numpy() for k, v in state.items()}, metadata={"format": "pt"})

    model = rnn.RNN.load(path)                  # configuration inferred from the tensors
    assert (model.input_size, model.hidden_size, model.num_layers) == (3, 4, layers)
    assert model.bidirectional == bidirectional and model.bias == bias
    assert model.nonlinearity == "tanh" and not model.batch_first and model.output_size == 0
    for name, value in state.items():
        assert model.state_dict()[name].tobytes() == value.numpy().tobytes(), name
    x = _x(model)
    y, _ = model.forward(x)
    _, _, y_t, _ = run_rnn(net, x, None, None, False)
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=1e-5)


def test_load_params_takes_a_torch_file_into_a_configured_model(tmp_path):
    net = torch.nn.RNN(2, 5, num_layers=2, nonlinearity="relu", batch_first=True)
    head = torch.nn.Linear(5, 2)
    state = _torch_state(net, head)
    path = tmp_path / "torch.safetensors"
    st_format.save(path, {k: v.numpy() for k, v in state.items()})
    model = rnn.RNN(2, 5, num_layers=2, nonlinearity="relu", batch_first=True, output_size=2,
                    seed=1)
    model.load_params(path)
    for name, value in state.items():
        assert model.state_dict()[name].tobytes() == value.numpy().tobytes(), name
    x = _x(model)
    model.forward(x)
    _, _, y_t, _ = run_rnn(net, x, None, None, True)
    np.testing.assert_allclose(model.head_forward(), head(y_t[:, -1]).detach().numpy(), atol=1e-5)

    data = st_format.dump({k: v.numpy() for k, v in state.items()})
    other = rnn.RNN(2, 5, num_layers=2, nonlinearity="relu", batch_first=True, output_size=2,
                    seed=2)
    other.load_params_bytes(data)
    np.testing.assert_array_equal(other.params, model.params)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_id)
def test_round_trip_librnn_torch_librnn_is_bit_identical(cfg, tmp_path):
    model = rnn.RNN(seed=99, **cfg)
    first = tmp_path / "librnn.safetensors"
    model.save(first)

    # librnn file -> torch modules -> torch state_dict -> file
    arrays, _ = st_format.load(first)
    net, head = torch_rnn_like(rnn.RNN(seed=0, **cfg))      # same shapes, other weights
    net.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()
                         if not k.startswith("head.")})
    if head is not None:
        head.load_state_dict({"weight": torch.from_numpy(arrays["head.weight"]),
                              "bias": torch.from_numpy(arrays["head.bias"])})
    second = tmp_path / "torch.safetensors"
    st_format.save(second, {k: v.numpy() for k, v in _torch_state(net, head).items()})

    # file -> librnn, by inference and into a configured model
    loaded = rnn.RNN.load(second)
    configured = rnn.RNN(seed=99, **cfg)     # the same configuration (seed included) ...
    configured.params[:] = 0.0                # ... but its weights come from the file
    configured.load_params(second)
    assert loaded.params.tobytes() == model.params.tobytes()
    assert configured.params.tobytes() == model.params.tobytes()
    third = tmp_path / "again.safetensors"
    configured.save(third)

    original, _, _ = st_format.parse(first.read_bytes())
    final, _, _ = st_format.parse(third.read_bytes())
    assert list(final) == list(original)
    for name in original:
        assert final[name] == original[name], name            # dtype, shape, raw bytes
    assert third.read_bytes() == first.read_bytes()           # same model: same file


def test_bytes_round_trip_keeps_the_configuration():
    model = rnn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True, output_size=2,
                    head_mode="all", seed=8)
    copy = rnn.RNN.from_bytes(model.to_bytes())
    assert {k: v for k, v in copy.config().items() if k != "seed"} == \
        {k: v for k, v in model.config().items() if k != "seed"}
    assert copy.params.tobytes() == model.params.tobytes()


def test_loading_checks_the_file(tmp_path):
    model = rnn.RNN(3, 4, seed=1)
    before = model.params.copy()
    wrong = tmp_path / "wrong.safetensors"
    st_format.save(wrong, {k: np.zeros(v.shape[::-1] if v.ndim == 2 else v.shape)
                           for k, v in model.state_dict().items()})
    with pytest.raises(rnn.RNNError) as info:
        model.load_params(wrong)
    assert info.value.status_name == "RNN_E_FORMAT"
    assert "rnn_load_params" in info.value.message and "weight_" in info.value.message
    np.testing.assert_array_equal(model.params, before)

    good = model.to_bytes()
    with pytest.raises(rnn.RNNError) as info:
        rnn.RNN.from_bytes(good[:len(good) - 4])
    assert info.value.status_name == "RNN_E_FORMAT"
    with pytest.raises(rnn.RNNError) as info:
        rnn.RNN.load(tmp_path / "missing.safetensors")
    assert info.value.status_name == "RNN_E_IO" and "rnn_load" in info.value.message


def test_save_reports_io_errors(tmp_path):
    with pytest.raises(rnn.RNNError) as info:
        rnn.RNN(2, 3).save(tmp_path / "no-such-dir" / "model.safetensors")
    assert info.value.status_name == "RNN_E_IO" and "rnn_save" in info.value.message
    assert not os.path.exists(tmp_path / "no-such-dir")


def test_optimizer_state_resumes_exactly(tmp_path):
    def grads(step, model):
        rng = np.random.default_rng(step)
        model.grads[:] = rng.standard_normal(model.grads.shape)

    a = rnn.RNN(2, 3, seed=4)
    b = rnn.RNN(2, 3, seed=4)
    opt_a = rnn.Optimizer(a, "adam", lr=0.01, betas=(0.8, 0.9))
    for step in range(3):
        grads(step, a)
        opt_a.step()
    path = tmp_path / "optim.safetensors"
    opt_a.save(path)
    assert opt_a.to_bytes() == path.read_bytes()
    b.params[:] = a.params
    c = rnn.RNN(2, 3, seed=4)
    c.params[:] = a.params
    opt_b = rnn.Optimizer.load(path, b)
    opt_c = rnn.Optimizer.from_bytes(opt_a.to_bytes(), c)
    assert opt_b.step_count == 3 and opt_c.step_count == 3
    for step in range(3, 6):
        for model in (a, b, c):
            grads(step, model)
        for opt in (opt_a, opt_b, opt_c):
            opt.step()
    assert b.params.tobytes() == a.params.tobytes()
    assert c.params.tobytes() == a.params.tobytes()
    with pytest.raises(rnn.RNNError) as info:
        rnn.Optimizer.from_bytes(path.read_bytes()[:-4], c)
    assert info.value.status_name == "RNN_E_FORMAT"
