#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/threads_report.py DIR - the markdown tables of bench/threads.sh.

Reads DIR/*.csv (rnn_bench, onednn_rnn and torch_rnn.py rows, the setting
in the label column: 1t, 2t, default), takes the median over the rounds of
each (program, setting, config, op), and prints:
  1. per config and op, the times (ms) of every setting, librnn's 2t/1t and
     default/1t speedups (> 1: faster than librnn at one thread), and
     librnn against oneDNN and PyTorch at the same thread count (peer time
     / librnn time, > 1: librnn faster);
  2. librnn's GFLOP/s and % of the sgemm peak rnn_bench measured in the
     same run at that thread count.
"""
import csv
import glob
import os
import statistics
import sys

OPS = {"a": ("forward", "train"), "b": ("forward", "train"),
       "c": ("forward", "train"), "d": ("forward", "train"),
       "e": ("step",)}


def load(directory):
    times, gflops, pct = {}, {}, {}
    for path in sorted(glob.glob(os.path.join(directory, "*.csv"))):
        with open(path, newline="") as f:
            lines = [line for line in f if not line.startswith("#")]
        for row in csv.DictReader(lines):
            if row.get("kind") != "whole" or row["impl"] not in ("librnn", "onednn", "torch"):
                continue
            key = (row["impl"], row["label"], row["config"], row["op"])
            times.setdefault(key, []).append(float(row["median_us"]))
            if row.get("gflops"):
                gflops.setdefault(key, []).append(float(row["gflops"]))
            if row.get("pct_peak"):
                pct.setdefault(key, []).append(float(row["pct_peak"]))
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}
    return med(times), med(gflops), med(pct)


def ms(us):
    return "-" if us is None else f"{us / 1000:.3f}" if us < 100 else f"{us / 1000:.2f}"


def ratio(num, den):
    return "-" if num is None or den is None else f"{num / den:.2f}x"


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    directory = argv[0]
    times, gflops, pct = load(directory)
    t = lambda impl, s, c, op: times.get((impl, s, c, op))
    meta = os.path.join(directory, "run-meta.txt")
    if os.path.exists(meta):
        with open(meta) as f:
            print("".join("    " + line for line in f if line.startswith("#")))
    rounds = max((len(glob.glob(os.path.join(directory, f"{c}-librnn-1-r*.csv")))
                  for c in OPS), default=0)
    print(f"Medians of {rounds} round(s); times in ms. speedup = librnn 1t time / "
          "this setting's time; vs peer = peer time / librnn time at the same "
          "thread count (> 1: librnn faster).\n")
    print("| config | op | librnn 1t | librnn 2t | librnn default | 2t/1t | "
          "default/1t | oneDNN 1t | oneDNN 2t | oneDNN 2t/1t | vs oneDNN 1t | "
          "vs oneDNN 2t | torch 1t | torch 2t | vs torch 2t |")
    print("|---" * 15 + "|")
    for c, ops in OPS.items():
        for op in ops:
            l1, l2, ld = (t("librnn", s, c, op) for s in ("1t", "2t", "default"))
            if l1 is None:
                continue
            o1, o2 = t("onednn", "1t", c, op), t("onednn", "2t", c, op)
            p1, p2 = t("torch", "1t", c, op), t("torch", "2t", c, op)
            print(f"| {c} | {op} | {ms(l1)} | {ms(l2)} | {ms(ld)} | "
                  f"{ratio(l1, l2)} | {ratio(l1, ld)} | {ms(o1)} | {ms(o2)} | "
                  f"{ratio(o1, o2)} | {ratio(o1, l1)} | {ratio(o2, l2)} | "
                  f"{ms(p1)} | {ms(p2)} | {ratio(p2, l2)} |")
    print("\nlibrnn's speed (GFLOP/s, and % of the sgemm peak measured in the "
          "same run at that thread count):\n")
    print("| config | op | 1t GFLOP/s | 1t % peak | 2t GFLOP/s | 2t % peak | "
          "default GFLOP/s |")
    print("|---" * 7 + "|")
    for c, ops in OPS.items():
        for op in ops:
            g = [gflops.get(("librnn", s, c, op)) for s in ("1t", "2t", "default")]
            p = [pct.get(("librnn", s, c, op)) for s in ("1t", "2t")]
            if g[0] is None:
                continue
            f = lambda v: "-" if v is None else f"{v:.1f}"
            print(f"| {c} | {op} | {f(g[0])} | {f(p[0])}% | {f(g[1])} | "
                  f"{f(p[1])}% | {f(g[2])} |")


if __name__ == "__main__":
    main(sys.argv[1:])
