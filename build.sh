#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build.sh - one entry point for building and testing librnn on Debian 12.
#
#   ./build.sh deps            install the missing Debian packages (root or sudo)
#   ./build.sh build           Release build in build/
#   ./build.sh demo [ARGS...]  deps + Release build + run build/seed_sum_sign ARGS
#   ./build.sh test            deps + the CI test suite: a -Werror build with
#                              the static library (build-test/), then an
#                              ASan+UBSan build (build-asan/), ctest in each
#   ./build.sh coverage        deps + gcovr + a --coverage build (build-cov/),
#                              ctest, line/branch figures of src/ written to
#                              docs/coverage.md (fails below 90% of lines)
#   ./build.sh docs            deps + the API reference from include/rnn.h
#                              (Doxygen) in build-docs/html; fails on any
#                              warning (an undocumented declaration)
#   ./build.sh deb             deps + Debian packages librnn0 and librnn-dev
#                              (cpack -G DEB) in build-deb/
#   ./build.sh clean           remove the build directories
#
# Environment: JOBS (default: nproc), RNN_SKIP_DEPS=1 (skip the package check),
# RNN_VALGRIND=0 (test: skip the valgrind re-runs of the unit tests);
# CMAKE_GENERATOR and the usual CC/CFLAGS are honoured by cmake.
set -euo pipefail

cd "$(dirname "$0")"

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Everything the build, the tests, the Python binding and the benchmarks
# need on a fresh Debian 12. dpkg-dev and file: the Debian packages (cpack -G
# DEB, deb_install); python3-venv/-setuptools/-wheel/-pip: installing the
# binding offline (python_venv_install); luajit: the FFI example
# (lua_ffi_seed); doxygen: the API reference (docs, api_docs); python3-matplotlib: the
# plots (bench/plot.py, examples/plot_adding_problem.py). libblis4-openmp and libblas3 (the reference
# BLAS) are the second and third BLAS backends the tests switch to at run
# time; configuring the tests without them is an error.
DEPS=(
    build-essential g++ cmake pkg-config binutils
    libopenblas-dev liblapacke-dev libcmocka-dev libcjson-dev libblis4-openmp
    libblas3
    python3 python3-numpy python3-torch python3-pytest python3-matplotlib
    valgrind
    libopenmpi-dev openmpi-bin
    abigail-tools
    dpkg-dev file
    python3-venv python3-setuptools python3-wheel python3-pip
    luajit
    doxygen
)

# Only `coverage` needs these.
COVERAGE_DEPS=(gcovr)

log() { printf '\n==> %s\n' "$*"; }

cmd_deps() {
    if [ "${RNN_SKIP_DEPS:-0}" = 1 ]; then
        return 0
    fi
    tools/apt-install-missing.sh deps "${DEPS[@]}" || exit 1
}

# configure DIR [cmake args...]
configure() {
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@"
}

build_dir() {
    cmake --build "$1" --parallel "$JOBS"
}

cmd_build() {
    configure build -DCMAKE_BUILD_TYPE=Release
    build_dir build
}

cmd_demo() {
    cmd_deps
    log "Release build in build/"
    cmd_build
    log "build/seed_sum_sign $*"
    ./build/seed_sum_sign "$@"
}

# run_ctest DIR [ctest args...]: runs ctest (its summary "100% tests passed,
# 0 tests failed out of N" is printed as usual) and adds its counts to
# TOTAL_PASSED / TOTAL_FAILED for the closing line of `test`.
TOTAL_PASSED=0
TOTAL_FAILED=0
run_ctest() {
    local dir=$1 rc=0 summary total failed log
    shift
    # A private copy of the output: several people may test one tree at once.
    log=$(mktemp)
    ctest --test-dir "$dir" --output-on-failure --parallel "$JOBS" "$@" 2>&1 |
        tee "$log" || rc=$?
    summary=$(grep -aE 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [ -n "$summary" ]; then
        failed=$(printf '%s\n' "$summary" | sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/')
        total=$(printf '%s\n' "$summary" | sed -E 's/.*out of ([0-9]+).*/\1/')
        TOTAL_PASSED=$((TOTAL_PASSED + total - failed))
        TOTAL_FAILED=$((TOTAL_FAILED + failed))
    elif [ $rc -eq 0 ]; then
        echo "build.sh: ctest in $dir ran no test" >&2
        rc=1
    fi
    if [ $rc -ne 0 ] && [ -z "$summary" ]; then
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    return $rc
}

cmd_test() {
    cmd_deps
    local status=0

    local valgrind=ON
    if [ "${RNN_VALGRIND:-1}" = 0 ]; then
        valgrind=OFF
    fi

    log "build-test/: RelWithDebInfo, -Werror, shared + static, valgrind=$valgrind"
    configure build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRNN_WERROR=ON -DRNN_BUILD_STATIC=ON -DBUILD_TESTING=ON -DRNN_VALGRIND=$valgrind
    build_dir build-test
    log "ctest in build-test/"
    run_ctest build-test || status=1

    # The install/consumer, backend-switch and Python tests are not
    # registered in a sanitized build (an instrumented librnn.so cannot be
    # loaded by uninstrumented programs); the label filter is a second guard.
    log "build-asan/: ASan + UBSan"
    configure build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRNN_WERROR=ON -DRNN_SANITIZE=ON -DBUILD_TESTING=ON -DRNN_VALGRIND=OFF
    build_dir build-asan
    log "ctest in build-asan/"
    run_ctest build-asan --label-exclude 'install|python|valgrind' || status=1

    if [ $status -ne 0 ]; then
        log "build.sh test: FAILED (see the ctest output above)"
    else
        log "build.sh test: both configurations passed"
    fi
    # Closing line over both configurations.
    echo "tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
    return $status
}

# Everything but the valgrind re-runs (same code, 30x slower) and the TSan
# program (its runtime and gcov's do not mix: it crashes at start in a
# --coverage build) feeds the figures; the report is
# cmake/RnnCoverage.cmake's rnn_coverage target.
cmd_coverage() {
    DEPS+=("${COVERAGE_DEPS[@]}")
    cmd_deps
    log "build-cov/: Debug, --coverage"
    configure build-cov -DCMAKE_BUILD_TYPE=Debug -DRNN_COVERAGE=ON \
        -DRNN_WERROR=ON -DBUILD_TESTING=ON -DRNN_VALGRIND=OFF
    build_dir build-cov
    find build-cov -name '*.gcda' -delete
    log "ctest in build-cov/"
    local status=0
    run_ctest build-cov --label-exclude 'valgrind|tsan' || status=1
    log "coverage report"
    cmake --build build-cov --target rnn_coverage || status=1
    return $status
}

cmd_docs() {
    cmd_deps
    log "build-docs/: API reference (Doxygen)"
    configure build-docs -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DRNN_BUILD_EXAMPLES=OFF -DRNN_BUILD_BENCH=OFF
    cmake --build build-docs --target docs
    echo "open build-docs/html/index.html"
}

cmd_deb() {
    cmd_deps
    log "build-deb/: Release for /usr, static too, then cpack -G DEB"
    configure build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DRNN_BUILD_STATIC=ON -DBUILD_TESTING=OFF -DRNN_BUILD_EXAMPLES=OFF -DRNN_BUILD_BENCH=OFF
    build_dir build-deb
    (cd build-deb && cpack -G DEB)
    ls -1 build-deb/*.deb
}

cmd_clean() {
    rm -rf build build-test build-asan build-cov build-docs build-deb
}

usage() {
    cat <<'USAGE'
usage: ./build.sh COMMAND
  deps            install the missing Debian packages (as root, or with sudo)
  build           Release build in build/
  demo [ARGS...]  deps + Release build + run build/seed_sum_sign ARGS
  test            deps + the CI suite: -Werror build (shared + static, valgrind)
                  in build-test/, then ASan + UBSan in build-asan/, ctest in each
  coverage        deps + gcovr + coverage build in build-cov/, ctest, figures
                  of src/ to docs/coverage.md
  docs            deps + API reference (Doxygen) in build-docs/html
  deb             deps + Debian packages librnn0, librnn-dev in build-deb/
  clean           remove the build directories
USAGE
}

case "${1:-}" in
    deps)  cmd_deps ;;
    build) cmd_build ;;
    demo)  shift; cmd_demo "$@" ;;
    test)  cmd_test ;;
    coverage) cmd_coverage ;;
    docs)  cmd_docs ;;
    deb)   cmd_deb ;;
    clean) cmd_clean ;;
    ''|-h|--help|help) usage ;;
    *)     echo "build.sh: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
