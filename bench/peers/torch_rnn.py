#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The peer benchmark in PyTorch: rnn_bench's configurations through
torch.nn.RNN, nn.LSTM or nn.GRU (--cell rnn|lstm|gru; Debian's
python3-torch, CPU).

    /usr/bin/python3 bench/peers/torch_rnn.py --config all --threads 1 [--cell lstm] [--csv FILE]

Same options, timer (warm-up, calls grouped into samples, operations
interleaved round by round, medians) and CSV columns as rnn_bench and
onednn_rnn (bench/bench_common.c; keep them in sync). Operations:
  forward  rnn(x) under torch.inference_mode()
  train    y, _ = rnn(x); y.backward(dy), x.requires_grad so dx is computed
           too (as librnn's and oneDNN's train do); gradients accumulate
  step     y, h = rnn(x_t, h) with x_t of one step, under inference_mode
  infer    the same call as forward, under the op name of librnn's
           rnn_forward_inference: this forward already is torch's inference,
           librnn's is not, so each librnn op gets a peer row of its own
           name, timed in its own samples (config e too: one step, h0 zero)
"""
import argparse
import math
import os
import re
import sys
import time

# bench_common.c: the configurations of DESIGN.md, (I, H, T, B, L, D, step_only)
STANDARD = {
    "a": (1, 32, 10, 1, 1, 1, False),
    "b": (1, 32, 10, 1000, 1, 1, False),
    "c": (64, 256, 100, 32, 1, 1, False),
    "d": (256, 1024, 50, 64, 1, 1, False),
    "e": (64, 256, 1, 1, 1, 1, True),
}
TRAIN_FACTOR = 3.0
HEADER = ("impl,label,backend,library,threads,config,I,H,T,B,L,D,act,op,kind,"
          "reps,inner,median_us,min_us,max_us,flops,gflops,pct_peak,samples_per_s,cell")
# bench_common.c: the gates of each cell (flops scale with them).
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

FULL = dict(sample_s=5e-3, budget_s=0.3, min_reps=7, max_reps=200, warmup_s=0.05,
            warmup_calls=2, cap_s=3.0)
QUICK = dict(sample_s=2e-4, budget_s=0.0, min_reps=1, max_reps=1, warmup_s=0.0,
             warmup_calls=1, cap_s=0.0)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", action="append", default=[],
                   help="a,b,c,d,e or all (comma-separated, repeatable)")
    p.add_argument("--shape", action="append", default=[],
                   help="I,H,T,B[,L[,D]] (repeatable)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--act", choices=("tanh", "relu"), default="tanh")
    p.add_argument("--cell", choices=tuple(GATES), default="rnn")
    p.add_argument("--ops", default="forward,train,step,infer")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--min-reps", type=int)
    p.add_argument("--budget", type=float)
    p.add_argument("--csv")
    p.add_argument("--label", default="")
    args = p.parse_args(argv)
    shapes = []
    for group in args.config:
        for name in group.split(","):
            names = list(STANDARD) if name == "all" else [name]
            for n in names:
                if n not in STANDARD:
                    p.error("unknown config %r" % n)
                shapes.append((n,) + STANDARD[n])
    for text in args.shape:
        v = [int(t) for t in text.split(",")]
        if len(v) < 4:
            p.error("--shape wants I,H,T,B[,L[,D]]")
        v += [1, 1][len(v) - 4:]
        shapes.append(("custom", v[0], v[1], v[2], v[3], v[4], v[5], False))
    if not shapes:
        shapes = [(n,) + STANDARD[n] for n in STANDARD]
    args.shapes = shapes
    plan = dict(QUICK if args.quick else FULL)
    if args.min_reps is not None:
        plan["min_reps"] = args.min_reps
        plan["max_reps"] = max(plan["max_reps"], args.min_reps)
    if args.budget is not None:
        plan["budget_s"] = args.budget
        plan["max_reps"] = max(plan["max_reps"], 200)
    args.plan = plan
    args.op_set = set(args.ops.split(","))
    if args.act == "relu" and args.cell != "rnn":
        p.error("--act relu is the Elman cell's only")
    return args


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "?"


def warm_up(fn, plan):
    start = time.perf_counter()
    single = math.inf
    calls = 0
    while calls < plan["warmup_calls"] or time.perf_counter() - start < plan["warmup_s"]:
        a = time.perf_counter()
        fn()
        single = min(single, time.perf_counter() - a)
        calls += 1
    if single < plan["sample_s"]:
        return min(int(math.ceil(plan["sample_s"] / max(single, 1e-9))), 10000000)
    return 1


def measure_many(fns, plan):
    """Interleaved rounds, one sample of each operation per round."""
    inner = [warm_up(fn, plan) for fn in fns]
    samples = [[] for _ in fns]
    cap = max(plan["max_reps"], plan["min_reps"])
    start = time.perf_counter()
    rounds = 0
    while rounds < cap:
        spent = time.perf_counter() - start
        if rounds >= plan["min_reps"] and spent >= plan["budget_s"] * len(fns):
            break
        if rounds >= 3 and plan["cap_s"] > 0 and spent >= plan["cap_s"] * len(fns):
            break
        for k, fn in enumerate(fns):
            a = time.perf_counter()
            for _ in range(inner[k]):
                fn()
            samples[k].append((time.perf_counter() - a) / inner[k])
        rounds += 1
    out = []
    for k in range(len(fns)):
        s = sorted(samples[k])
        n = len(s)
        median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
        out.append(dict(median=median, min=s[0], max=s[-1], reps=n, inner=inner[k]))
    return out


def forward_flops(I, H, T, B, L, D, gates):
    flops = 0.0
    for layer in range(L):
        inp = I if layer == 0 else D * H
        flops += D * 2.0 * T * B * gates * H * (inp + H)
    return flops


def make_model(cell, I, H, L, D, act):
    if cell == "lstm":
        return torch.nn.LSTM(I, H, num_layers=L, bidirectional=(D == 2))
    if cell == "gru":
        return torch.nn.GRU(I, H, num_layers=L, bidirectional=(D == 2))
    return torch.nn.RNN(I, H, num_layers=L, nonlinearity=act, bidirectional=(D == 2))


def fmt_time(s):
    if s < 1e-6:
        return "%.0f ns" % (s * 1e9)
    if s < 1e-3:
        return "%.2f us" % (s * 1e6)
    if s < 1.0:
        return "%.2f ms" % (s * 1e3)
    return "%.2f s" % s


def csv_field(text):
    return str(text).replace(",", ";").replace('"', ";").replace("\n", ";")


def loaded_blas():
    """Path of the libblas.so.3 this process loaded (Debian's torch links the
    generic BLAS, so the BLAS backend switches under torch as well)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if re.search(r"/lib(open)?blas[^/]*\.so", path):
                    return os.path.realpath(path)
    except OSError:
        pass
    return "?"


def main(argv):
    args = parse_args(argv)
    if args.threads > 0:
        # torch's own threads are OpenMP, its BLAS (libblas.so.3, OpenBLAS by
        # default) reads its variable when it is loaded: set both before.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    global torch
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    backend = "torch-" + torch.__version__.split("+")[0]
    library = os.path.dirname(torch.__file__)
    match = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    blas = "%s: %s" % (match.group(1) if match else "?", loaded_blas())
    table = sys.stderr if args.csv == "-" else sys.stdout
    csv = sys.stdout if args.csv == "-" else (open(args.csv, "w") if args.csv else None)
    meta = ["# torch_rnn: %s (%s), %s mode" % (backend, library,
                                                "quick" if args.quick else "full"),
            "# threads: %d (torch.get_num_threads; OpenBLAS/BLIS from the environment)"
            % threads,
            "# blas: BLAS_INFO=%s; mkldnn %s" % (blas, torch.backends.mkldnn.is_available()),
            "# load at start: %s" % loadavg()]
    for out in {table, csv} - {None}:
        print("\n".join(meta), file=out)
    if csv:
        print(HEADER, file=csv)
    act = args.act
    for (name, I, H, T, B, L, D, step_only) in args.shapes:
        rnn = make_model(args.cell, I, H, L, D, act)
        x = torch.rand(T, B, I) * 2 - 1
        xg = x.clone().requires_grad_(True)
        dy = (torch.rand(T, B, D * H) * 2 - 1) * 0.1
        xt = x[:1].clone()
        # The LSTM's state is the pair (h, c).
        zeros = torch.zeros(L * D, B, H)
        state = {"h": (zeros, zeros.clone()) if args.cell == "lstm" else zeros}

        def forward():
            with torch.inference_mode():
                rnn(x)

        def train():
            y, _ = rnn(xg)
            y.backward(dy)

        def step():
            with torch.inference_mode():
                _, state["h"] = rnn(xt, state["h"])

        fwd = forward_flops(I, H, T, B, L, D, GATES[args.cell])
        ops = []
        if not step_only and "forward" in args.op_set:
            ops.append(("forward", forward, fwd))
        if not step_only and "train" in args.op_set:
            ops.append(("train", train, TRAIN_FACTOR * fwd))
        if D == 1 and (step_only or "step" in args.op_set):
            ops.append(("step", step, fwd / T))
        if "infer" in args.op_set:
            ops.append(("infer", forward, fwd))
        results = measure_many([fn for _, fn, _ in ops], args.plan)
        print("\nconfig %s: I=%d H=%d T=%d B=%d layers=%d dirs=%d %s %s" %
              (name, I, H, T, B, L, D, args.cell, act), file=table)
        print("  %-18s %10s %10s %10s %8s %11s" %
              ("", "median", "min", "max", "GFLOP/s", "samples/s"), file=table)
        for (op, _, flops), r in zip(ops, results):
            gflops = flops / r["median"] * 1e-9
            print("  %-18s %10s %10s %10s %8.2f %11.0f" %
                  (op, fmt_time(r["median"]), fmt_time(r["min"]), fmt_time(r["max"]),
                   gflops, B / r["median"]), file=table)
            if csv:
                row = ["torch", csv_field(args.label), backend, csv_field(library),
                       threads, name, I, H, T, B, L, D, act, op, "whole", r["reps"],
                       r["inner"], "%.4f" % (r["median"] * 1e6), "%.4f" % (r["min"] * 1e6),
                       "%.4f" % (r["max"] * 1e6), "%.0f" % flops, "%.3f" % gflops, "",
                       "%.1f" % (B / r["median"]), args.cell]
                print(",".join(str(v) for v in row), file=csv, flush=True)
        table.flush()
    for out in {table, csv} - {None}:
        print("# load at end: %s" % loadavg(), file=out)
    if csv and csv is not sys.stdout:
        csv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
