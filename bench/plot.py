#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/plot.py - PNG plots of a run_all.sh results directory.

    plot.py DIR OUTDIR

writes, for what DIR holds:
  backends.png  GFLOP/s of librnn by BLAS backend and config (forward and
                train, 1 and 2 threads; log scale)
  peers.png     PyTorch / librnn and oneDNN / librnn time ratios by config
                and operation (> 1: librnn is faster), per thread count;
                peers-lstm.png, peers-gru.png: the same for the LSTM and
                GRU cells (run_all.sh --cells)
  scaling.png   time per call against T, B and H around config c, for
                librnn, its BLAS floor, PyTorch and oneDNN (log-log)
  hotloops.png  where a training step's time goes, hot loop by hot loop
                (the phases of librnn's own calls, profiling build)
Uses matplotlib (Debian python3-matplotlib), no display needed.
"""
import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

COLORS = {"librnn": "#1f77b4", "blas": "#7f7f7f", "torch": "#d62728", "onednn": "#2ca02c"}


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("wrote", path)


def plot_backends(rows, path):
    sweep = [r for r in rows if r["label"] == "sweep" and r["impl"] == "librnn"]
    if not sweep:
        return
    threads = sorted({int(r["asked_threads"]) for r in sweep})
    backends = sorted({r["backend"] for r in sweep}, key=report.backend_rank)
    configs = sorted({r["config"] for r in sweep}, key=report.config_key)
    value = defaultdict(list)
    for r in sweep:
        value[(r["backend"], int(r["asked_threads"]), r["config"], r["op"])].append(r["gflops"])
    fig, axes = plt.subplots(2, len(threads), figsize=(6.5 * len(threads), 7.5),
                             squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    width = 0.8 / len(backends)
    everything = []
    for col, n in enumerate(threads):
        for row, op in enumerate(("forward", "train")):
            ax = axes[row][col]
            for b, backend in enumerate(backends):
                xs, ys = [], []
                for c, config in enumerate(configs):
                    vals = value.get((backend, n, config, "step" if config == "e" else op))
                    if vals:
                        xs.append(c + (b - (len(backends) - 1) / 2) * width)
                        ys.append(statistics.median(vals))
                        everything.append(ys[-1])
                if xs:
                    ax.bar(xs, ys, width, label=report.BACKEND_NAMES.get(backend, backend),
                           color=cmap(b % 10))
            ax.set_xticks(range(len(configs)))
            ax.set_xticklabels([c + " (step)" if c == "e" else c for c in configs])
            ax.set_yscale("log")
            ax.set_title("%s, %d thread%s" % (op, n, "s (serial backends: 1 thread only)"
                                               if n > 1 else ""))
            ax.grid(axis="y", which="both", alpha=0.3)
            if col == 0:
                ax.set_ylabel("GFLOP/s (log)")
    if everything:
        # log-scale bars start at the axis' bottom: keep every value above it
        axes[0][0].set_ylim(min(everything) * 0.6, max(everything) * 1.8)
    axes[0][0].legend(fontsize=8, ncol=2)
    fig.suptitle("librnn by BLAS backend (same binary, LD_LIBRARY_PATH)")
    save(fig, path)


def plot_peers(rows, path, cell="rnn"):
    s = report.Summary(report.peer_rows(rows, cell))
    threads = s.threads("librnn")
    if not threads:
        return
    fig, axes = plt.subplots(1, len(threads), figsize=(6.5 * len(threads), 4.5),
                             squeeze=False, sharey=True)
    everything = []
    for col, n in enumerate(threads):
        ax = axes[0][col]
        labels, ratios = [], defaultdict(list)
        for config in s.configs("librnn", n):
            for op in report.PEER_OPS:
                lib = s.get("librnn", n, config, op)
                if lib is None:
                    continue
                labels.append("%s\n%s" % (config, op))
                for peer in ("torch", "onednn"):
                    t = s.get(peer, n, config, op)
                    ratios[peer].append(t / lib if t else float("nan"))
        for k, peer in enumerate(("torch", "onednn")):
            if all(v != v for v in ratios[peer]):
                continue
            xs = [i + (k - 0.5) * 0.38 for i in range(len(labels))]
            ax.bar(xs, ratios[peer], 0.38, color=COLORS[peer],
                   label="%s / librnn" % report.IMPL_NAMES[peer])
            for x, v in zip(xs, ratios[peer]):
                if v == v:
                    everything.append(v)
                    ax.text(x, v * 1.04, "%.2g" % v, ha="center", va="bottom", fontsize=6)
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title("%s%d thread%s: time ratio (> 1: librnn faster)" %
                     ("" if cell == "rnn" else report.CELL_NAMES[cell] + ", ", n,
                      "s" if n > 1 else ""))
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if everything:
        # log-scale bars start at the axis' bottom: keep every ratio above it
        axes[0][0].set_ylim(min(everything) * 0.6, max(everything) * 1.8)
    save(fig, path)


def plot_scaling(rows, path):
    scan = [r for r in rows if r["label"].startswith("scan-")]
    if not scan:
        return
    axes_names = [a for a in ("T", "B", "H") if any(r["label"] == "scan-" + a for r in scan)]
    fig, axes = plt.subplots(1, len(axes_names), figsize=(5.2 * len(axes_names), 4.4),
                             squeeze=False)
    for col, axis in enumerate(axes_names):
        ax = axes[0][col]
        series = defaultdict(list)
        for r in scan:
            if r["label"] != "scan-" + axis or r["op"] not in ("forward", "train"):
                continue
            series[(r["impl"], r["op"])].append((r[axis], r["median_us"] / 1e3))
        for (impl, op), points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points],
                    marker="o" if op == "train" else "s", markersize=3,
                    linestyle="-" if op == "train" else "--", color=COLORS.get(impl),
                    label="%s %s" % (report.IMPL_NAMES.get(impl, impl), op))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(axis + {"T": " (sequence length)", "B": " (batch)",
                              "H": " (hidden size)"}[axis])
        ax.set_ylabel("ms per call (log)")
        others = {"T": "I=64 H=256 B=32", "B": "I=64 H=256 T=100", "H": "I=64 T=100 B=32"}
        ax.set_title("cost vs %s (%s, 1 thread)" % (axis, others[axis]), fontsize=9)
        ax.grid(which="both", alpha=0.3)
        if col == 0:
            ax.legend(fontsize=7)
    save(fig, path)


def plot_hotloops(rows, path):
    s = report.Summary([r for r in report.peer_rows(rows) if r["impl"] == "blas"])
    threads = s.threads("blas")
    if not threads:
        return
    n = threads[0]
    configs = [c for c in s.configs("blas", n)
               if s.get("blas", n, c, "train.parts") or s.get("blas", n, c, "step.parts")]
    if not configs:
        return
    parts = list(report.PART_ORDER)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(configs) + 2))
    for y, config in enumerate(configs):
        whole = "train.parts" if s.get("blas", n, config, "train.parts") else "step.parts"
        total = s.get("blas", n, config, whole)
        left = 0.0
        for k, part in enumerate(parts):
            if part.startswith("step") != (whole == "step.parts"):
                continue
            t = s.get("blas", n, config, part)
            if not t:
                continue
            share = 100.0 * t / total
            ax.barh(y, share, left=left, color=cmap(k % 20),
                    label=part if y == 0 or whole == "step.parts" else None)
            if share > 6:
                ax.text(left + share / 2, y, part, ha="center", va="center", fontsize=7)
            left += share
    ax.set_yticks(range(len(configs)))
    ax.set_yticklabels(["%s (%s)" % (c, "step" if s.get("blas", n, c, "step.parts") and
                                     not s.get("blas", n, c, "train.parts") else "train")
                        for c in configs])
    ax.invert_yaxis()
    ax.set_xlabel("% of the sum of the hot loops (phases of librnn's own calls)")
    ax.set_title("Where a training step (or a streaming step) spends its time, "
                 "%d thread%s" % (n, "s" if n > 1 else ""))
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, l in zip(handles, labels):
        seen.setdefault(l, h)
    ax.legend(seen.values(), seen.keys(), fontsize=7, ncol=4, loc="upper center",
              bbox_to_anchor=(0.5, -0.25))
    save(fig, path)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory, outdir = argv
    os.makedirs(outdir, exist_ok=True)
    rows = report.load(directory)
    plot_backends(rows, os.path.join(outdir, "backends.png"))
    plot_peers(rows, os.path.join(outdir, "peers.png"))
    for cell in report.cells_of(rows):
        plot_peers(rows, os.path.join(outdir, "peers-%s.png" % cell), cell)
    plot_scaling(rows, os.path.join(outdir, "scaling.png"))
    plot_hotloops(rows, os.path.join(outdir, "hotloops.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
