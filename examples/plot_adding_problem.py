#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""examples/plot_adding_problem.py - the learning curves of adding_problem.

    adding_problem --csv curves.csv
    /usr/bin/python3 examples/plot_adding_problem.py curves.csv [docs/img/adding_problem.png]

Draws each cell's test MSE (solid) and training MSE (dotted, the mean over
the steps since the previous evaluation) against the training step, on a log
scale, with the baseline of always answering 1.0 (from the CSV's comment
line). Uses matplotlib (Debian python3-matplotlib), no display needed.
"""
import csv
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"rnn": "Elman (nn.RNN)", "lstm": "LSTM", "gru": "GRU"}
COLORS = {"rnn": "#ff7f0e", "lstm": "#1f77b4", "gru": "#d62728"}


def load(path):
    """(curves {cell: [(step, train, test)]}, baseline MSE or None, the
    comment line)."""
    curves, baseline, comment = {}, None, ""
    with open(path) as f:
        lines = []
        for line in f:
            if line.startswith("#"):
                comment = line[1:].strip()
                match = re.search(r"baseline_mse=([0-9.]+)", line)
                if match:
                    baseline = float(match.group(1))
            elif line.strip():
                lines.append(line)
    for row in csv.DictReader(lines):
        curves.setdefault(row["cell"], []).append(
            (int(row["step"]), float(row["train_mse"]), float(row["test_mse"])))
    return curves, baseline, comment


def main(argv):
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1] if len(argv) > 1 else os.path.join("docs", "img", "adding_problem.png")
    curves, baseline, comment = load(argv[0])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for cell, points in curves.items():
        steps = [p[0] for p in points]
        color = COLORS.get(cell)
        ax.plot(steps, [p[2] for p in points], color=color, linewidth=2,
                label="%s, test" % NAMES.get(cell, cell))
        ax.plot(steps, [p[1] for p in points], color=color, linewidth=1, linestyle=":",
                label="%s, train" % NAMES.get(cell, cell))
    if baseline is not None:
        ax.axhline(baseline, color="black", linewidth=1, linestyle="--",
                   label="always 1.0 (%.4f)" % baseline)
    ax.set_yscale("log")
    ax.set_xlabel("training step (same batches for every cell)")
    ax.set_ylabel("MSE")
    ax.set_title("The adding problem, librnn\n%s" % comment.replace("adding problem: ", ""),
                 fontsize=9)
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=110)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
