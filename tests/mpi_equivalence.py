#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# mpi_equivalence.py - the ctest test mpi_equivalence (cmake/RnnMpi.cmake):
# data parallelism in examples/mpi_train.c computes the update of one big
# batch.
#
#   1 rank,  global batch B         -> one.safetensors
#   2 ranks, B/2 rows each          -> two.safetensors, plus a parameter
#                                      hash printed by each rank (--check)
#   1 rank,  batch B/2 (control)    -> half.safetensors
#
# Passes when
#   - both ranks of the 2-rank run print the same hash (the replicas never
#     diverged);
#   - every parameter of two.safetensors equals one.safetensors to
#     |a - b| <= ATOL + RTOL |a| (they differ only in the order of float
#     additions);
#   - the control differs from one.safetensors by far more than that
#     tolerance, so the comparison can tell a different training apart.
#
# The runs use SGD: its update is linear in the gradient, so the rounding
# differences of the two summation orders stay at float level (about 1e-8
# here). Adam divides by the root of the gradient's second moment, which
# turns a different rounding of a gradient that is nearly zero through
# cancellation into a visibly different step (up to lr in the worst case);
# with Adam the same comparison gives 3e-8 on most seeds but 1.4e-6 on
# one element for seed 1. Both ranks still apply bit-identical Adam steps.
#
# Only the standard library: safetensors is an 8-byte little-endian header
# length, a JSON header, then raw little-endian data.
#
# usage: mpi_equivalence.py --exe MPI_TRAIN --mpiexec MPIEXEC
#            [--np-flag -n] [--preflag FLAG ...] [--workdir DIR]
#            [-- extra mpi_train options]

import argparse
import array
import json
import os
import re
import struct
import subprocess
import sys

ATOL = 1e-5
RTOL = 1e-4
CONTROL_MIN = 1e-3  # the control must differ by at least this much


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} has dtype {info['dtype']}, not F32")
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(body[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (tuple(info["shape"]), values)
    return tensors


def compare(a, b):
    """(max |a-b|, worst (|a-b| - RTOL|a|), name of that tensor)."""
    if set(a) != set(b):
        raise SystemExit(f"different tensors: {sorted(a)} vs {sorted(b)}")
    max_abs, worst, worst_name = 0.0, float("-inf"), ""
    for name in sorted(a):
        shape_a, va = a[name]
        shape_b, vb = b[name]
        if shape_a != shape_b:
            raise SystemExit(f"{name}: shape {shape_a} vs {shape_b}")
        for x, y in zip(va, vb):
            d = abs(x - y)
            max_abs = max(max_abs, d)
            excess = d - RTOL * abs(x)
            if excess > worst:
                worst, worst_name = excess, name
    return max_abs, worst, worst_name


def run(cmd, env):
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"exit status {proc.returncode}")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exe", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--np-flag", default="-n")
    parser.add_argument("--preflag", action="append", default=[])
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # two ranks share the cores
    common = ["--steps", "30", "--input", "3", "--hidden", "24", "--layers",
              "2", "--seq-len", "8", "--batches", "4", "--optim", "sgd",
              "--check"] + args.extra

    def mpi_train(ranks, batch, out):
        path = os.path.join(args.workdir, out)
        if os.path.exists(path):
            os.remove(path)
        cmd = [args.mpiexec, args.np_flag, str(ranks)] + args.preflag + \
              [args.exe, "--batch", str(batch), "--out", path] + common
        return path, run(cmd, env)

    one, _ = mpi_train(1, args.batch, "one.safetensors")
    two, out2 = mpi_train(2, args.batch, "two.safetensors")
    half, _ = mpi_train(1, args.batch // 2, "half.safetensors")

    hashes = dict(re.findall(r"^rank=(\d+) params_fnv1a=([0-9a-f]+)", out2, re.M))
    if sorted(hashes) != ["0", "1"]:
        raise SystemExit(f"expected one hash line from each of 2 ranks, got {hashes}")
    if len(set(hashes.values())) != 1:
        raise SystemExit(f"the ranks ended with different parameters: {hashes}")

    a = load_safetensors(one)
    max_abs, worst, name = compare(a, load_safetensors(two))
    control_abs, _, _ = compare(a, load_safetensors(half))
    n = sum(len(v) for _, v in a.values())
    print(f"{n} parameters; 2 ranks x {args.batch // 2} vs 1 rank x {args.batch}: "
          f"max |diff| {max_abs:.3g} (tolerance {ATOL:g} + {RTOL:g}|w|); "
          f"control (1 rank x {args.batch // 2}): max |diff| {control_abs:.3g}")
    ok = worst <= ATOL and control_abs >= CONTROL_MIN
    if worst > ATOL:
        print(f"FAIL: {name} differs beyond the tolerance")
    if control_abs < CONTROL_MIN:
        print("FAIL: the control run is as close as the 2-rank run: the "
              "comparison cannot tell trainings apart")
    print(f"rank_hashes=identical max_abs_diff={max_abs:.3g} "
          f"control_abs_diff={control_abs:.3g} result={'pass' if ok else 'fail'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
