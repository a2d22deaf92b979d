#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_fuzz.sh - builds the libFuzzer targets with clang and fuzzes one of them
# (the replay of the checked-in corpus is a ctest test; this is the long run).
#
#   tests/fuzz/run_fuzz.sh build              build every target
#   tests/fuzz/run_fuzz.sh TARGET SECONDS [LIBFUZZER ARGS...]
#                                             fuzz TARGET (load | api)
#   tests/fuzz/run_fuzz.sh merge TARGET       add the inputs found by earlier
#                                             runs that reach new coverage to
#                                             tests/fuzz/corpus/TARGET/ (minimised)
#
# Needs clang with libFuzzer (Debian 12: apt-get install clang-14
# libclang-rt-14-dev). Environment: CLANG (default clang-14, else clang),
# FUZZ_DIR (build and working corpus, default build-fuzz/ at the top of the
# tree), FUZZ_JOBS (parallel fuzzing processes, default 1).
#
# Everything is compiled with -fsanitize=fuzzer,address,undefined and
# -fno-sanitize-recover: any ASan or UBSan report, leak or failed invariant
# (an abort in the target) is a crash. libFuzzer then writes the input to
# tests/fuzz/corpus/TARGET/crash-<sha1> (leak-, timeout-, oom- likewise),
# where the ctest replay test fuzz_replay_TARGET picks it up: commit it with
# the fix. New interesting inputs go to FUZZ_DIR/corpus-TARGET, never to the
# checked-in corpus unless merged.
# tests/fuzz/TARGET.dict, when present, is given to libFuzzer as its
# dictionary (load.dict: the words of a librnn safetensors header).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_src="$root/tests/fuzz"
out=${FUZZ_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-1}
targets=(load api)

pick_clang() {
    if [ -n "${CLANG:-}" ]; then
        echo "$CLANG"
    elif command -v clang-14 >/dev/null 2>&1; then
        echo clang-14
    elif command -v clang >/dev/null 2>&1; then
        echo clang
    else
        echo "run_fuzz.sh: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
        exit 1
    fi
}

# build TARGET: the library sources and the target in one instrumented binary.
build() {
    local target=$1 cc
    cc=$(pick_clang)
    mkdir -p "$out"
    local cjson_inc=/usr/include/cjson
    [ -d "$cjson_inc" ] || cjson_inc=/usr/include
    echo "building $out/fuzz_$target with $cc"
    "$cc" -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -fno-omit-frame-pointer \
        -DRNN_BUILDING_LIBRARY=1 \
        -I"$root/include" -I"$root/src" -I"$cjson_inc" -I"$fuzz_src" \
        "$root"/src/*.c "$fuzz_src/fuzz_$target.c" \
        -o "$out/fuzz_$target" \
        -lblas -llapacke -lcjson -lm
}

check_target() {
    local t
    for t in "${targets[@]}"; do
        [ "$1" = "$t" ] && return 0
    done
    echo "run_fuzz.sh: unknown target '$1' (known: ${targets[*]})" >&2
    exit 2
}

case "${1:-}" in
    build)
        for t in "${targets[@]}"; do build "$t"; done
        ;;
    merge)
        [ $# -eq 2 ] || { echo "usage: $0 merge TARGET" >&2; exit 2; }
        check_target "$2"
        build "$2"
        mkdir -p "$out/corpus-$2"
        # Keeps in the first directory what the others add to its coverage.
        OPENBLAS_NUM_THREADS=1 "$out/fuzz_$2" -merge=1 \
            "$fuzz_src/corpus/$2" "$out/corpus-$2"
        ;;
    ''|-h|--help|help)
        sed -n '4,27p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        [ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [LIBFUZZER ARGS...]" >&2; exit 2; }
        target=$1 seconds=$2
        shift 2
        check_target "$target"
        case "$seconds" in
            ''|*[!0-9]*) echo "run_fuzz.sh: SECONDS must be a number" >&2; exit 2 ;;
        esac
        build "$target"
        mkdir -p "$out/corpus-$target"
        dict=()
        [ -f "$fuzz_src/$target.dict" ] && dict=("-dict=$fuzz_src/$target.dict")
        parallel=()
        [ "$jobs" -gt 1 ] && parallel=("-jobs=$jobs" "-workers=$jobs")
        # One BLAS thread: the inputs are tiny and threads only add noise.
        # The first corpus directory receives new inputs; the checked-in one
        # is only read.
        OPENBLAS_NUM_THREADS=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "$out/fuzz_$target" \
            -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 \
            -artifact_prefix="$fuzz_src/corpus/$target/" \
            "${dict[@]}" "${parallel[@]}" "$@" \
            "$out/corpus-$target" "$fuzz_src/corpus/$target"
        ;;
esac
