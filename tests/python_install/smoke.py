# SPDX-License-Identifier: MIT
"""smoke.py EXPECTED_LIBRARY: an installed `rnn` package works.

Imports rnn, checks that it loaded EXPECTED_LIBRARY (same file after
resolving links), that the package and library versions agree, and trains the
seed task (is the sum of 10 N(0,1) numbers positive?) for 150 Adam steps: the
loss must fall and the accuracy on fresh sequences reach 0.75.
"""
import os
import sys

import numpy as np
import rnn


def main():
    want = os.path.realpath(sys.argv[1])
    got = os.path.realpath(rnn.library_path())
    assert got == want, "loaded %s, expected %s" % (got, want)
    assert rnn.__version__ == rnn.version(), (rnn.__version__, rnn.version())

    rng = np.random.default_rng(3)
    model = rnn.RNN(input_size=1, hidden_size=16, output_size=1, seed=1)
    opt = rnn.Optimizer(model, "adam", lr=1e-2)
    losses = []
    for _ in range(150):
        x = rng.standard_normal((10, 64, 1)).astype(np.float32)
        labels = (x.sum(axis=(0, 2)) > 0).astype(np.float32)[:, None]
        model.zero_grad()
        model.forward(x)
        loss, dlogits = rnn.bce_with_logits(model.head_forward(), labels)
        model.head_backward(dlogits)
        model.backward()
        opt.step()
        losses.append(float(loss))
    x = rng.standard_normal((10, 1000, 1)).astype(np.float32)
    labels = x.sum(axis=(0, 2)) > 0
    model.forward(x)
    accuracy = float(np.mean((model.head_forward()[:, 0] > 0) == labels))
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    print("rnn %s from %s: loss %.3f -> %.3f, accuracy %.3f"
          % (rnn.version(), rnn.library_path(), first, last, accuracy))
    assert last < 0.8 * first, "the loss did not fall"
    assert accuracy >= 0.75, "accuracy %.3f" % accuracy


if __name__ == "__main__":
    main()
