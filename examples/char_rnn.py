#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""char_rnn.py - the character-level language model of char_rnn.c through
the Python binding, with token input: byte ids go straight into the model,
whose embedding table (vocab_size=V, as torch.nn.Embedding before nn.RNN)
turns them into vectors; no one-hot array is ever built.

Trains with truncated BPTT (B streams over equal segments of the text, chunks
of T steps, the state carried between chunks, the gradient not), softmax
cross-entropy on every step's head logits, Adam with the gradient norm
clipped to 5; then saves, reloads and samples byte by byte from the
reloaded model (State.step with one id per stream, State.head).

    RNN_LIBRARY=build/librnn.so PYTHONPATH=python \\
        python3 examples/char_rnn.py --text README.md --cell gru

Prints the mean loss every --report updates, the sample, and a last line of
key=value pairs. Exit status: 0 done, 2 bad command line or text, 3 the
final loss is not below the initial one.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

import rnn

CELLS = {"rnn": rnn.RNN, "lstm": rnn.LSTM, "gru": rnn.GRU}


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--text", action="append",
                   help="training text; repeat to concatenate files "
                        "(default: the README.md next to examples/)")
    p.add_argument("--cell", choices=sorted(CELLS), default="rnn")
    p.add_argument("--steps", type=int, default=500, help="updates")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embed", type=int, default=64, help="embedding size per byte")
    p.add_argument("--batch", type=int, default=16, help="parallel streams")
    p.add_argument("--chunk", type=int, default=64, help="steps per BPTT chunk")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--report", type=int, default=25)
    p.add_argument("--sample-len", type=int, default=400)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="char_rnn_py.safetensors")
    args = p.parse_args(argv)
    if not args.text:
        args.text = [os.path.join(os.path.dirname(here), "README.md")]
    return args


def main(argv):
    args = parse_args(argv)
    data = b"".join(open(path, "rb").read() for path in args.text)
    T, B = args.chunk, args.batch
    if len(data) < B * (T + 1):
        print("char_rnn.py: the text has %d bytes, too few for %d streams of %d steps"
              % (len(data), B, T), file=sys.stderr)
        return 2
    vocab = sorted(set(data))
    V = len(vocab)
    index_of = np.zeros(256, np.int64)
    index_of[vocab] = np.arange(V)
    tokens = index_of[np.frombuffer(data, np.uint8)]
    seg = (len(data) - 1) // B
    chunks_per_pass = seg // T

    klass = CELLS[args.cell]
    model = klass(args.embed, args.hidden, args.layers, vocab_size=V, output_size=V,
                  head_mode="all", seed=args.seed)
    model.init("xavier_uniform", args.seed)   # the embedding keeps N(0, 1)
    opt = rnn.Optimizer(model, "adam", lr=args.lr)
    print("text: %d bytes, vocabulary %d (uniform guess: loss %.4f)" % (len(data), V, math.log(V)))
    print("model: %r" % model)

    zeros = np.zeros((args.layers, B, args.hidden), np.float32)
    state = (zeros, zeros) if args.cell == "lstm" else zeros
    starts = np.arange(B) * seg
    initial = final = window = 0.0
    in_window = 0
    t0 = time.perf_counter()
    for step in range(args.steps):
        chunk = step % chunks_per_pass
        if chunk == 0:
            state = (zeros, zeros) if args.cell == "lstm" else zeros
        pos = starts[None, :] + chunk * T + np.arange(T)[:, None]   # [T, B]
        ids, targets = tokens[pos], tokens[pos + 1]
        model.zero_grad()
        _, state = model.forward(ids, state)
        loss, dlogits = rnn.cross_entropy(model.head_forward(), targets)
        model.head_backward(dlogits)
        model.backward()
        rnn.clip_grad_norm(model, 5.0)
        opt.step()
        if step == 0:
            initial = loss
        window += loss
        in_window += 1
        final = window / in_window
        if (step + 1) % args.report == 0 or step + 1 == args.steps:
            print("update %6d  loss %.4f" % (step + 1, final), flush=True)
            if step + 1 < args.steps:
                window, in_window = 0.0, 0
    train_time = time.perf_counter() - t0

    model.save(args.out)
    loaded = rnn.load(args.out)
    assert np.array_equal(loaded.params, model.params)
    rng = np.random.default_rng(args.seed)
    cur = int(tokens[0])
    out = [vocab[cur]]
    with loaded.state(1) as stream:
        for _ in range(max(args.sample_len - 1, 0)):
            stream.step([cur])
            logits = stream.head()[0].astype(np.float64) / args.temperature
            probs = np.exp(logits - logits.max())
            cur = int(rng.choice(V, p=probs / probs.sum()))
            out.append(vocab[cur])
    print("----\n%s\n----" % bytes(out).decode("utf-8", "replace"))
    print("initial_loss=%.4f final_loss=%.4f steps=%d train_time_s=%.3f chars_per_s=%.0f"
          % (initial, final, args.steps, train_time, args.steps * T * B / train_time))
    if not final < initial:
        print("char_rnn.py: the loss did not fall (initial %.4f, final %.4f)"
              % (initial, final), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
