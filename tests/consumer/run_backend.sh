#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_backend.sh CONSUMER BLAS_DIR   (ctest: blas_switch_*)
#
# Runs the same consumer binary with BLAS_DIR first on LD_LIBRARY_PATH and
# checks that it works and that rnn_blas_info() names the libblas.so.3 of
# BLAS_DIR: the backend is picked at run time, without relinking.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 CONSUMER BLAS_DIR" >&2
    exit 2
fi
consumer=$1 dir=$2
out=$(LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$consumer")
printf '%s\n' "$out"
blas=$(printf '%s\n' "$out" | sed -n 's/^BLAS: //p')
case "$blas" in
    *"$dir/libblas.so"*) echo "blas switch to $dir: OK" ;;
    *) echo "FAIL: rnn_blas_info() does not name $dir/libblas.so.3: '$blas'"; exit 1 ;;
esac
