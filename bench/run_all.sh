#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run_all.sh - one command for the whole comparison, measured in one
# run on one machine:
#   1. librnn (rnn_bench, with its BLAS floor and hot loops), PyTorch
#      (peers/torch_rnn.py) and oneDNN (onednn_rnn), config by config, one
#      after the other (order reversed every other round), at each thread
#      count, in 4 rounds: the report gives peer / librnn time ratios
#      (medians over the rounds);
#   2. the BLAS backend sweep (backends.sh);
#   3. scaling of the cost with T, B and H around config c, for all three;
#   4. the report (report.md: tables) and the plots (img/*.png).
#
#   bench/run_all.sh [--quick] [--publish] [--out DIR] [--rounds N]
#                    [--threads "1 2"] [--configs "a b c d e"]
#                    [--cells "rnn lstm gru"] [--no-sweep] [--no-scan]
#
#   --quick    CI smoke, under a minute: 1 thread, configs a b c e, one
#              round, every program in its quick mode. It checks that
#              everything runs; its numbers mean nothing.
#   --publish  copy the plots to docs/img/ and the tables into the
#              generated block of docs/benchmarks.md
#   --out DIR  results directory (default $BUILD_DIR/bench-results/<date>)
#   --configs  the standard configs of step 1 (default all five; quick a b c e)
#   --cells    the cells of step 1 (default rnn, the Elman cell): each config
#              is timed for each cell in turn, in the same round; LSTM and
#              GRU results go to their own tables (and, with --publish, to
#              their own generated block of docs/benchmarks.md). The sweep
#              and the scan (steps 2, 3) time the Elman cell only: add
#              --no-sweep --no-scan for a run of the gated cells alone.
#
# Threads are pinned for every program alike: OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS, BLIS_NUM_THREADS = N and --threads N (torch.set_num_threads,
# omp_set_num_threads); how idle OpenMP threads wait is set per kind of
# program (common.sh, bench_thread_env). The full run takes about 12 minutes
# on 2 cores.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command_line="bench/run_all.sh${*:+ $*}"
quick=0
publish=0
out=
rounds=
threads=
configs=
cells=rnn
sweep=1
scan=1
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --publish) publish=1 ;;
        --out) out=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --threads) threads=$2; shift ;;
        --no-sweep) sweep=0 ;;
        --no-scan) scan=0 ;;
        --configs) configs=$2; shift ;;
        --cells) cells=$2; shift ;;
        -h|--help) sed -n '3,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_all.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    rounds=${rounds:-1}
    threads=${threads:-1}
    configs=${configs:-"a b c e"}
    mode=(--quick)
else
    rounds=${rounds:-4}
    threads=${threads:-"1 2"}
    configs=${configs:-"a b c d e"}
    # Fewer samples per program, more rounds: the rounds are spread over
    # minutes, so a change in the other tenants' load hits every program.
    mode=(--min-reps 5 --budget 0.2)
fi
out=${out:-$BUILD_DIR/bench-results/$(date +%Y%m%d-%H%M%S)}
t0=$(date +%s)

bench_deps
bench_build
mkdir -p "$out"
{
    bench_describe "$command_line"
    echo "# thread environment (librnn, oneDNN): $(bench_thread_env N)"
    echo "# thread environment (PyTorch): $(bench_thread_env N torch)"
} >"$out/run-meta.txt"
bench_log "results in $out"

elapsed() { echo "$(($(date +%s) - t0)) s"; }

# run_one LOGNAME PROGRAM ARGS...: runs with the thread environment of $n
# (common.sh: bench_thread_env, by kind of program), output kept in
# $out/LOGNAME.txt, fails the script on error.
run_one() {
    local log=$out/$1.txt kind=
    shift
    [[ $log == *-torch.txt ]] && kind=torch
    # shellcheck disable=SC2046 # the variable assignments are meant to split
    if ! env $(bench_thread_env "$n" "$kind") "$@" >"$log" 2>&1; then
        echo "FAILED: $* (see $log)" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

# 1. librnn / PyTorch / oneDNN, config by config.
peers="librnn torch"
[ -n "$ONEDNN_BENCH" ] || echo "run_all: onednn_rnn was not built (libdnnl-dev missing?): no oneDNN column" >&2
[ -n "$ONEDNN_BENCH" ] && peers="$peers onednn"
count=0
for n in $threads; do for r in $(seq "$rounds"); do for c in $configs; do
    for cell in $cells; do count=$((count + 1)); done
done; done; done
k=0
for n in $threads; do
    for r in $(seq "$rounds"); do
        for c in $configs; do for cell in $cells; do
            k=$((k + 1))
            printf '[%d/%d] %d thread%s, round %d, config %s, %s:' "$k" "$count" "$n" \
                "$([ "$n" = 1 ] && echo '' || echo s)" "$r" "$c" "$cell" >&2
            # The Elman cell's files keep the names of runs before --cells.
            base=peers-t$n-r$r-$c
            [ "$cell" = rnn ] || base=peers-t$n-r$r-$cell-$c
            # The parts and the single BLAS calls are reported in the
            # first round only; later rounds time librnn and its floor.
            parts=()
            [ "$r" -gt 1 ] && parts=(--no-parts)
            common=(--threads "$n" --config "$c" --cell "$cell" --label "peers-r$r"
                    "${mode[@]}")
            # Odd rounds run librnn first, even rounds last.
            order=$peers
            [ $((r % 2)) = 0 ] && order=$(echo "$peers" | tr ' ' '\n' | tac | tr '\n' ' ')
            for p in $order; do
                printf ' %s' "$p" >&2
                case $p in
                    librnn) run_one "$base-librnn" "$RNN_BENCH" "${common[@]}" "${parts[@]}" \
                                --csv "$out/$base-librnn.csv" ;;
                    torch) run_one "$base-torch" "$PYTHON" "$BENCH_DIR/peers/torch_rnn.py" \
                               "${common[@]}" --csv "$out/$base-torch.csv" ;;
                    onednn) run_one "$base-onednn" "$ONEDNN_BENCH" "${common[@]}" \
                                --csv "$out/$base-onednn.csv" ;;
                esac
            done
            echo " ($(elapsed))" >&2
        done; done
    done
done
bench_log "time ratios (peer / librnn, > 1: librnn faster)"
"$PYTHON" "$BENCH_DIR/report.py" peers "$out" >&2

# 2. The backend sweep.
if [ $sweep = 1 ]; then
    bench_log "BLAS backend sweep ($(elapsed))"
    sweep_mode=()
    [ $quick = 1 ] && sweep_mode=(--quick)
    RNN_SKIP_DEPS=1 "$BENCH_DIR/backends.sh" "${sweep_mode[@]}" --threads "$threads" \
        --out "$out/sweep" >/dev/null
fi

# 3. Scaling with T, B and H around config c (I=64, H=256, T=100, B=32),
# one thread, librnn (and its floor), PyTorch and oneDNN.
if [ $scan = 1 ]; then
    bench_log "scaling with T, B, H ($(elapsed))"
    n=1
    declare -A scan_values
    if [ $quick = 1 ]; then
        scan_values=([T]="10 50" [B]="1 16" [H]="32 128")
        scan_plan=(--quick)
    else
        scan_values=([T]="10 25 50 100 200 400" [B]="1 4 16 64 256"
                     [H]="32 64 128 256 512 1024")
        scan_plan=(--min-reps 5 --budget 0.1)
    fi
    for axis in T B H; do
        shapes=()
        for v in ${scan_values[$axis]}; do
            # config c with one size changed: --shape I,H,T,B
            case $axis in
                T) shapes+=(--shape "64,256,$v,32") ;;
                B) shapes+=(--shape "64,256,100,$v") ;;
                H) shapes+=(--shape "64,$v,100,32") ;;
            esac
        done
        printf 'scan %s = %s:' "$axis" "${scan_values[$axis]}" >&2
        # shellcheck disable=SC2054 # forward,train is one argument
        common=(--threads 1 --ops forward,train --label "scan-$axis" "${shapes[@]}" "${scan_plan[@]}")
        for p in $peers; do
            printf ' %s' "$p" >&2
            case $p in
                librnn) run_one "scan-$axis-librnn" "$RNN_BENCH" "${common[@]}" --no-parts \
                            --peak-n 0 --csv "$out/scan-$axis-librnn.csv" ;;
                torch) run_one "scan-$axis-torch" "$PYTHON" "$BENCH_DIR/peers/torch_rnn.py" \
                           "${common[@]}" --csv "$out/scan-$axis-torch.csv" ;;
                onednn) run_one "scan-$axis-onednn" "$ONEDNN_BENCH" "${common[@]}" \
                            --csv "$out/scan-$axis-onednn.csv" ;;
            esac
        done
        echo " ($(elapsed))" >&2
    done
fi

# 4. Report and plots.
bench_log "report and plots ($(elapsed))"
"$PYTHON" "$BENCH_DIR/report.py" markdown "$out" -o "$out/report.md"
"$PYTHON" "$BENCH_DIR/plot.py" "$out" "$out/img"
if [ $publish = 1 ]; then
    mkdir -p "$ROOT_DIR/docs/img"
    cp "$out"/img/*.png "$ROOT_DIR/docs/img/"
    "$PYTHON" "$BENCH_DIR/report.py" publish "$out" "$ROOT_DIR/docs/benchmarks.md"
    bench_log "published: docs/benchmarks.md, docs/img/"
fi
bench_log "done in $(elapsed): $out/report.md, $out/img/"
