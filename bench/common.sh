# shellcheck shell=bash disable=SC2034 # sourced: its variables are used by the callers
# SPDX-License-Identifier: MIT
#
# bench/common.sh - sourced by backends.sh and run_all.sh: the packages the
# benchmarks need, the build, and the BLAS backends Debian installs.
#
# Environment: BUILD_DIR (default build-bench/ at the top of the tree),
# PYTHON (default /usr/bin/python3: Debian's, the one with python3-torch),
# RNN_SKIP_DEPS=1 (do not check or install packages), JOBS.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$BENCH_DIR/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT_DIR/build-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIBDIR=/usr/lib/$MULTIARCH

# Every CBLAS backend Debian 12 packages, as "name:directory:serial". Each
# directory under $LIBDIR holds a libblas.so.3 (the update-alternatives
# candidates), so LD_LIBRARY_PATH=$LIBDIR/<directory> selects it at run time.
BENCH_BACKENDS=(
    openblas-pthread:openblas-pthread:0
    openblas-openmp:openblas-openmp:0
    openblas-serial:openblas-serial:1
    blis-pthread:blis-pthread:0
    blis-openmp:blis-openmp:0
    blis-serial:blis-serial:1
    atlas:atlas:1
    reference:blas:1
)

# The build, every backend, the peers (oneDNN, PyTorch) and the plots.
BENCH_DEPS=(
    build-essential cmake pkg-config
    libopenblas-dev liblapacke-dev libcjson-dev
    libopenblas0-pthread libopenblas0-openmp libopenblas0-serial
    libblis4-pthread libblis4-openmp libblis4-serial
    libatlas3-base libblas3
    libdnnl-dev
    python3 python3-numpy python3-torch python3-matplotlib
)

bench_log() { printf '\n==> %s\n' "$*" >&2; }

# Installs the missing packages of BENCH_DEPS (as root, or through sudo).
bench_deps() {
    [ "${RNN_SKIP_DEPS:-0}" = 1 ] && return 0
    "$ROOT_DIR/tools/apt-install-missing.sh" bench "${BENCH_DEPS[@]}"
}

# Release build of rnn_bench (and onednn_rnn when oneDNN is installed) in
# $BUILD_DIR. Quiet unless it fails.
bench_build() {
    local log
    log=$(mktemp)
    if ! { cmake -S "$ROOT_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
               -DBUILD_TESTING=OFF -DRNN_BUILD_BENCH=ON &&
           cmake --build "$BUILD_DIR" --parallel "$JOBS" --target rnn_bench &&
           if grep -q '^RNN_DNNL_LIBRARY:FILEPATH=/' "$BUILD_DIR/CMakeCache.txt"; then
               cmake --build "$BUILD_DIR" --parallel "$JOBS" --target onednn_rnn
           fi; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "bench: the build in $BUILD_DIR failed" >&2
        return 1
    fi
    rm -f "$log"
    RNN_BENCH=$BUILD_DIR/bench/rnn_bench
    ONEDNN_BENCH=$BUILD_DIR/bench/onednn_rnn
    [ -x "$ONEDNN_BENCH" ] || ONEDNN_BENCH=
}

# env assignments that pin every runtime to N threads, for one kind of
# program (torch, or anything else). How idle OpenMP threads wait matters on
# this shared 2-core machine, where other tenants' processes take cores away
# (measured, config c, 2 threads, load ~2.5):
#  - oneDNN (OpenMP only) with libgomp's default spinning: 7 ms -> 800 ms per
#    forward, a spinning thread stalls every barrier behind a descheduled
#    one; OMP_WAIT_POLICY=PASSIVE fixes that but costs ~400 us per call at
#    config a (wake-ups); GOMP_SPINCOUNT=10000 (spin ~10 us, then sleep) is
#    best at every size: 3.6 ms;
#  - PyTorch runs OpenMP threads (its own ops) beside OpenBLAS's pthreads
#    (its matrix products): spinning OpenMP threads take the cores from
#    OpenBLAS (config c 14-34 ms); PASSIVE gives 10.8 ms.
# So torch gets OMP_WAIT_POLICY=PASSIVE and the others GOMP_SPINCOUNT=10000
# (it only matters to OpenMP builds: oneDNN, openblas-openmp, blis-openmp).
# BENCH_OMP_ENV replaces both.
bench_thread_env() {
    local n=$1 kind=${2:-}
    local wait="GOMP_SPINCOUNT=10000"
    [ "$kind" = torch ] && wait="OMP_WAIT_POLICY=PASSIVE"
    echo "OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n BLIS_NUM_THREADS=$n GOTO_NUM_THREADS=$n" \
         "${BENCH_OMP_ENV:-$wait}"
}

# "# key: value" lines describing the run, for the report.
bench_describe() {
    echo "# command: $*"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# git: $(git -C "$ROOT_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "# cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "# cpus: $(nproc) online; $(lscpu 2>/dev/null | sed -n 's/^Flags:.*\(avx512f\).*/avx512f/p' | head -n 1)"
    echo "# kernel: $(uname -sr)"
    echo "# os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "# compiler: $(cc --version | head -n 1)"
    echo "# load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}
