# SPDX-License-Identifier: MIT
"""The PyTorch side of the parity tests: a torch.nn.RNN (and nn.Linear head)
holding a librnn model's weights, run with the same semantics."""

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def torch_rnn_like(model):
    """torch.nn.RNN with the configuration and weights of ``model`` (its
    state_dict names match librnn's), plus nn.Linear for the head or None."""
    net = torch.nn.RNN(model.input_size, model.hidden_size, num_layers=model.num_layers,
                       nonlinearity=model.nonlinearity, bias=model.bias,
                       batch_first=model.batch_first, bidirectional=model.bidirectional)
    weights = model.state_dict()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()
                         if not k.startswith("head.")}, strict=True)
    head = None
    if model.output_size:
        head = torch.nn.Linear(model.num_directions * model.hidden_size, model.output_size)
        head.load_state_dict({"weight": torch.from_numpy(weights["head.weight"].copy()),
                              "bias": torch.from_numpy(weights["head.bias"].copy())})
    return net, head


def run_rnn(net, x, h0, lengths, batch_first):
    """Forward of ``net`` on NumPy inputs with autograd leaves.

    Returns (x_t, h0_t, y_t, hn_t): h0_t is a zero leaf when h0 is None (the
    same numbers torch uses for a missing h0) so that dh0 exists; with
    lengths the batch goes through pack_padded_sequence(enforce_sorted=False)
    and pad_packed_sequence(total_length=T), which leaves zeros at padded steps.
    """
    x_t = torch.tensor(x, requires_grad=True)
    seq_len = x.shape[1] if batch_first else x.shape[0]
    batch = x.shape[0] if batch_first else x.shape[1]
    dirs = 2 if net.bidirectional else 1
    if h0 is None:
        h0 = np.zeros((net.num_layers * dirs, batch, net.hidden_size), np.float32)
    h0_t = torch.tensor(h0, requires_grad=True)
    if lengths is None:
        y_t, hn_t = net(x_t, h0_t)
    else:
        packed = pack_padded_sequence(x_t, torch.as_tensor(np.asarray(lengths, np.int64)),
                                      batch_first=batch_first, enforce_sorted=False)
        out, hn_t = net(packed, h0_t)
        y_t, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=seq_len)
    return x_t, h0_t, y_t, hn_t


def valid_mask(seq_len, batch, lengths, batch_first):
    """float32 [T, B] (or [B, T]) mask: 1 at steps t < lengths[b]."""
    lengths = np.full(batch, seq_len) if lengths is None else np.asarray(lengths)
    mask = (np.arange(seq_len)[:, None] < lengths[None, :]).astype(np.float32)
    return mask.T.copy() if batch_first else mask


def grads_by_name(net, head=None):
    """name -> NumPy gradient of every torch parameter, librnn's names."""
    out = {name: p.grad.numpy().copy() for name, p in net.named_parameters()}
    if head is not None:
        out["head.weight"] = head.weight.grad.numpy().copy()
        out["head.bias"] = head.bias.grad.numpy().copy()
    return out
