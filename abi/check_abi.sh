#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check_abi.sh check  LIBRNN_SO ABI_DIR   compare librnn.so with the baseline
# check_abi.sh update LIBRNN_SO ABI_DIR INCLUDE_DIR SOURCE_DIR
#                                         write a new baseline
#
# The ABI baseline of librnn 0.x (run by ctest as abi_baseline; regenerated
# with `cmake --build <build> --target rnn_abi_update`, see
# docs/reliability.md):
#   ABI_DIR/librnn.abi      abidw (Debian abigail-tools) of a RelWithDebInfo
#                           librnn.so: exported functions, the types they
#                           reach from include/ (internal types are dropped:
#                           they are opaque to callers), enumerator values
#   ABI_DIR/librnn.symbols  the exported symbol names, one a line
#
# check fails when a function of the baseline is removed or changed (its
# parameters, return type, or any type it reaches: struct layout and size,
# enumerator values), and when a symbol of the list is no longer exported.
# Additions (new functions, enumerators appended to an enum) pass:
# abidiff runs with --no-added-syms, which leaves them out of the verdict.
# So do fields appended to the four versioned structs (ABI_DIR/growth.suppr,
# the growth rule of rnn.h).
#
# Why not just the ABIDIFF_ABI_INCOMPATIBLE_CHANGE bit (8) of abidiff's exit
# status: abigail 2.2 sets it only for removed symbols. A struct whose
# layout changed, or a parameter whose type changed, only sets
# ABIDIFF_ABI_CHANGE (4) - the same bit an added function sets. Hiding the
# additions first makes every remaining reported change a failure:
#   bit 1 ABIDIFF_ERROR, bit 2 ABIDIFF_USAGE_ERROR: the check could not run
#   bit 4 ABIDIFF_ABI_CHANGE: a change to something the baseline has
#   bit 8 ABIDIFF_ABI_INCOMPATIBLE_CHANGE: a removed function or variable
set -euo pipefail

ABIDW=${ABIDW:-abidw}
ABIDIFF=${ABIDIFF:-abidiff}
NM=${NM:-nm}

exports() {
    "$NM" -D --defined-only "$1" | awk 'NF >= 3 && $3 ~ /^rnn_/ { print $3 }' |
        sed 's/@.*//' | LC_ALL=C sort -u
}

case "${1:-}" in
check)
    [ $# -eq 3 ] || { echo "usage: $0 check LIBRNN_SO ABI_DIR" >&2; exit 2; }
    so=$2 dir=$3
    failed=0
    rc=0
    symbols=$(mktemp)
    trap 'rm -f "$symbols"' EXIT
    "$ABIDIFF" --no-added-syms --suppressions "$dir/growth.suppr" \
        "$dir/librnn.abi" "$so" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL: abidiff exit status $rc (1 error, 2 usage error, 4 ABI change," \
             "8 incompatible change): the ABI of librnn.so differs from $dir/librnn.abi"
        echo "      in something it already had (see above). If the change is intended," \
             "bump RNN_VERSION_MAJOR or regenerate the baseline (docs/reliability.md)."
        failed=1
    else
        echo "abidiff: no change to the baseline's functions and types"
    fi
    exports "$so" > "$symbols"
    missing=$(LC_ALL=C comm -23 "$dir/librnn.symbols" "$symbols")
    added=$(LC_ALL=C comm -13 "$dir/librnn.symbols" "$symbols")
    echo "exported: $(grep -c . "$symbols") rnn_ symbols, baseline $(grep -c . "$dir/librnn.symbols")"
    if [ -n "$missing" ]; then
        echo "FAIL: symbols of the baseline no longer exported:"
        printf '    %s\n' $missing
        failed=1
    fi
    if [ -n "$added" ]; then
        echo "note: new exports (fine; add them to the baseline with the next update):"
        printf '    %s\n' $added
    fi
    exit $failed
    ;;
update)
    [ $# -eq 5 ] || { echo "usage: $0 update LIBRNN_SO ABI_DIR INCLUDE_DIR SOURCE_DIR" >&2; exit 2; }
    so=$2 dir=$3 include=$4 src=$5
    mkdir -p "$dir"
    tmp=$(mktemp)
    "$ABIDW" --headers-dir "$include" --drop-private-types --no-corpus-path \
        --no-show-locs --out-file "$tmp" "$so"
    # Build paths say nothing about the ABI: keep them out of the file.
    sed -e "s|path='$src/|path='|g" -e "s|comp-dir-path='[^']*'|comp-dir-path='.'|g" \
        "$tmp" > "$dir/librnn.abi"
    rm -f "$tmp"
    exports "$so" > "$dir/librnn.symbols"
    echo "wrote $dir/librnn.abi and $dir/librnn.symbols ($(grep -c . "$dir/librnn.symbols") symbols)"
    ;;
*)
    echo "usage: $0 check|update ..." >&2
    exit 2
    ;;
esac
