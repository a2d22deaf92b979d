#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/threads.sh - librnn at 1 and 2 threads, and with its DEFAULT
# settings (no thread variable, no rnn_set_num_threads: librnn's automatic
# count, the BLAS's own default), beside oneDNN and PyTorch at 1 and 2
# threads, configs a-e, in rounds: each round runs every setting of a
# config one after the other (order reversed every other round), so that a
# change in the machine's load hits them all. The report (threads_report.py)
# gives medians over the rounds, the 2-thread / 1-thread speedups, librnn
# against the peers, GFLOP/s and % of the sgemm peak measured in the same
# run.
#
#   bench/threads.sh [--rounds N] [--configs "a b c d e"] [--out DIR]
#                    [--quick] [--no-torch]
#
#   --quick     one round, every program in its quick mode (checks that it
#               all runs; its numbers mean nothing)
#   --out DIR   results (default $BUILD_DIR/bench-results/threads-<date>)
#
# Settings ("setting" column of the report):
#   1t, 2t    OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / BLIS_NUM_THREADS = N
#             and --threads N (rnn_bench also calls rnn_set_num_threads(N))
#   default   librnn only: the thread variables unset, no --threads
set -euo pipefail
. "$(dirname "$0")/common.sh"

command_line="bench/threads.sh${*:+ $*}"
rounds=3
configs="a b c d e"
out=
quick=0
torch=1
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift ;;
        --configs) configs=$2; shift ;;
        --out) out=$2; shift ;;
        --quick) quick=1; rounds=1 ;;
        --no-torch) torch=0 ;;
        -h|--help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "threads.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
mode=(--min-reps 5 --budget 0.2)
[ $quick = 1 ] && mode=(--quick)
out=${out:-$BUILD_DIR/bench-results/threads-$(date +%Y%m%d-%H%M%S)}

bench_deps
bench_build
mkdir -p "$out"
{
    bench_describe "$command_line"
    echo "# thread environment (librnn, oneDNN at N): $(bench_thread_env N)"
    echo "# thread environment (PyTorch at N): $(bench_thread_env N torch)"
} >"$out/run-meta.txt"
bench_log "results in $out"

# The benchmark environment: the tests' OpenBLAS core and cache overrides
# are not a user's.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

settings="librnn-1 librnn-2 librnn-default"
[ -n "$ONEDNN_BENCH" ] && settings="$settings onednn-1 onednn-2"
[ $torch = 1 ] && settings="$settings torch-1 torch-2"

# run SETTING CONFIG ROUND
run() {
    local setting=$1 c=$2 r=$3 n=${1##*-} impl=${1%-*}
    local csv=$out/$c-$setting-r$r.csv log=$out/$c-$setting-r$r.txt
    local label=${n}t envs=() args=(--config "$c" --csv "$csv" "${mode[@]}")
    if [ "$n" = default ]; then
        label=default
        envs=(-u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u BLIS_NUM_THREADS
              -u GOTO_NUM_THREADS -u RNN_NUM_THREADS)
    else
        # shellcheck disable=SC2207 # the assignments are meant to split
        envs=($(bench_thread_env "$n" "$([ "$impl" = torch ] && echo torch)"))
        args+=(--threads "$n")
    fi
    args+=(--label "$label")
    local cmd
    case $impl in
        librnn) cmd=("$RNN_BENCH" --no-parts --no-floor) ;;
        onednn) cmd=("$ONEDNN_BENCH") ;;
        torch) cmd=("$PYTHON" "$BENCH_DIR/peers/torch_rnn.py") ;;
    esac
    if ! env "${envs[@]}" "${cmd[@]}" "${args[@]}" >"$log" 2>&1; then
        echo "FAILED: ${cmd[*]} ${args[*]} (see $log)" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

t0=$(date +%s)
for r in $(seq "$rounds"); do
    for c in $configs; do
        order=$settings
        [ $((r % 2)) = 0 ] && order=$(echo "$settings" | tr ' ' '\n' | tac | tr '\n' ' ')
        printf 'round %d, config %s:' "$r" "$c" >&2
        for s in $order; do
            printf ' %s' "$s" >&2
            run "$s" "$c" "$r"
        done
        echo " ($(($(date +%s) - t0)) s, load $(cut -d' ' -f1 /proc/loadavg))" >&2
    done
done
echo "# load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/run-meta.txt"
"$PYTHON" "$BENCH_DIR/threads_report.py" "$out" | tee "$out/report.md"
