#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/backends.sh - the same rnn_bench under every CBLAS backend Debian
# installs, switched at run time with LD_LIBRARY_PATH (librnn and rnn_bench
# link only the generic libblas.so.3), at 1 and 2 threads.
#
#   bench/backends.sh [--quick] [--out DIR] [--threads "1 2"]
#                     [--backends "openblas-pthread blis-openmp ..."] [--config LIST]
#
# For each backend and thread count it prints a progress line, runs
#   LD_LIBRARY_PATH=/usr/lib/<arch>/<backend> OPENBLAS_NUM_THREADS=n ... \
#       rnn_bench --threads n --no-floor --config all --csv DIR/sweep-<backend>-t<n>.csv
# and checks that the library rnn_bench reports (the one serving cblas_sgemm
# in the process) is the one asked for: a mismatch fails the sweep. Serial
# backends (openblas-serial, blis-serial, ATLAS, reference) run at 1 thread
# only. The reference BLAS and ATLAS are 10-50x slower: they get fewer
# samples (said in the CSV). It installs the packages it needs (common.sh),
# builds in $BUILD_DIR (default build-bench/), and ends with a summary
# table: backend, threads, library path, GFLOP/s per config.
set -euo pipefail
. "$(dirname "$0")/common.sh"

quick=0
out=
threads="1 2"
threads_set=0
backends=
configs=all
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --out) out=$2; shift ;;
        --threads) threads=$2; threads_set=1; shift ;;
        --backends) backends=$2; shift ;;
        --config) configs=$2; shift ;;
        -h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "backends.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    # CI smoke: every backend must run; config d (seconds on the reference
    # BLAS) and the second thread count are left out.
    [ "$configs" = all ] && configs=a,b,c,e
    [ $threads_set = 1 ] || threads=1
fi
out=${out:-$BUILD_DIR/bench-results/sweep-$(date +%Y%m%d-%H%M%S)}

bench_deps
bench_build
mkdir -p "$out"
bench_describe "bench/backends.sh $*" >"$out/sweep-meta.txt"

# The runs: "name dir serial threads".
runs=()
for entry in "${BENCH_BACKENDS[@]}"; do
    IFS=: read -r name dir serial <<<"$entry"
    if [ -n "$backends" ] && [[ " $backends " != *" $name "* ]]; then
        continue
    fi
    for n in $threads; do
        if [ "$serial" = 1 ] && [ "$n" != 1 ]; then
            continue
        fi
        runs+=("$name $dir $serial $n")
    done
done

failed=0
total=${#runs[@]}
i=0
for run in "${runs[@]}"; do
    read -r name dir serial n <<<"$run"
    i=$((i + 1))
    csv=$out/sweep-$name-t$n.csv
    lib=$LIBDIR/$dir/libblas.so.3
    printf '[%d/%d] %-17s %d thread%s ... ' "$i" "$total" "$name" "$n" \
        "$([ "$n" = 1 ] && echo ' ' || echo s)" >&2
    if [ ! -e "$lib" ]; then
        echo "MISSING ($lib not installed)" >&2
        failed=1
        continue
    fi
    args=(--threads "$n" --no-floor --config "$configs" --label sweep --csv "$csv")
    if [ $quick = 1 ]; then
        args+=(--quick)
    else
        case $name in
            reference) args+=(--quick --peak-n 500) ;;  # one sample: 5 s a call on d
            atlas) args+=(--min-reps 3 --budget 0) ;;
            *) args+=(--min-reps 5 --budget 0.2) ;;
        esac
    fi
    start=$(date +%s.%N)
    # shellcheck disable=SC2046 # the variable assignments are meant to split
    if ! env LD_LIBRARY_PATH="$LIBDIR/$dir" $(bench_thread_env "$n") \
            "$RNN_BENCH" "${args[@]}" >"$out/sweep-$name-t$n.txt" 2>&1; then
        echo "FAILED (see $out/sweep-$name-t$n.txt)" >&2
        failed=1
        continue
    fi
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    got=$(sed -n 's/^# blas path: //p' "$csv" | head -n 1)
    reported=$(sed -n 's/^# threads: \([0-9]*\).*/\1/p' "$csv" | head -n 1)
    want=$(readlink -f "$lib")
    if [ "$(readlink -f "$got")" != "$want" ]; then
        echo "MISMATCH: asked for $want, rnn_bench ran on $got" >&2
        failed=1
        continue
    fi
    note=
    if [ "$serial" = 0 ] && [ "$reported" != "$n" ]; then
        note=" (the library reports $reported threads)"
    fi
    echo "ok, $secs s, served by $got$note" >&2
done

"$PYTHON" "$BENCH_DIR/report.py" sweep "$out" || failed=1
echo "sweep results: $out" >&2
exit $failed
