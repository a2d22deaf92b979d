#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check_exports.sh LIBRNN_SO RNN_H EXPECTED_SONAME [LIBRNN_A]
#
# The ABI guard of librnn.so (run by ctest as abi_exports):
#   1. every dynamic symbol it defines starts with rnn_ (hidden visibility and
#      cmake/rnn.map keep everything else local);
#   2. the functions declared RNN_API in rnn.h and the exported functions are
#      the same set: nothing declared is missing, nothing exported is
#      undocumented;
#   3. SONAME is EXPECTED_SONAME (librnn.so.<major>);
#   4. it needs the generic libblas.so.3, not libopenblas, so the BLAS backend
#      can be switched at run time;
#   5. with LIBRNN_A: every global symbol defined in the static archive starts
#      with "rnn" (rnn_ public, rnn<x>_ internal), since hidden visibility
#      does nothing for static linking and a global `sigmoid` or `kernel_tanh`
#      would clash with the user's own names.
# Prints every problem found, exits 1 if there was any.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 LIBRNN_SO RNN_H EXPECTED_SONAME [LIBRNN_A]" >&2
    exit 2
fi
so=$1 header=$2 soname=$3 archive=${4:-}
NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}
failed=0
fail() { echo "FAIL: $*"; failed=1; }
indent() { printf '%s\n' "$1" | sed 's/^/    /'; }

# Symbols the toolchain may define in any shared object.
toolchain_syms='^(_init|_fini|_edata|_end|__bss_start)$'

exported=$("$NM" -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
echo "librnn.so exports $(printf '%s\n' "$exported" | grep -c . || true) symbols"

bad=$(printf '%s\n' "$exported" | grep -Ev "$toolchain_syms" | grep -v '^rnn_' | grep . || true)
if [ -n "$bad" ]; then
    fail "symbols exported without the rnn_ prefix (make them static, or check visibility):"
    indent "$bad"
fi

# Function names of the RNN_API declarations. A declaration may span lines,
# but the name always follows RNN_API on the same line.
# The by-value initialisers of 0.1.0 are declared `static inline` for code
# compiled against rnn.h and stay exported for 0.1.0 binaries (src/compat.c).
declared=$(grep -E '^[[:space:]]*(RNN_API|static inline)[[:space:]]' "$header" |
           grep -oE '\brnn_[A-Za-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:]]*($//' | sort -u)
exported_rnn=$(printf '%s\n' "$exported" | grep '^rnn_' || true)
echo "rnn.h declares $(printf '%s\n' "$declared" | grep -c . || true) RNN_API functions"

missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported_rnn") | grep . || true)
if [ -n "$missing" ]; then
    fail "declared RNN_API in rnn.h but not exported (not implemented, or not marked RNN_API):"
    indent "$missing"
fi
extra=$(comm -13 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported_rnn") | grep . || true)
if [ -n "$extra" ]; then
    fail "exported but not declared RNN_API in rnn.h (remove RNN_API, or declare it):"
    indent "$extra"
fi

dyn=$("$OBJDUMP" -p "$so")
got_soname=$(printf '%s\n' "$dyn" | awk '$1 == "SONAME" { print $2 }')
if [ "$got_soname" != "$soname" ]; then
    fail "SONAME is '${got_soname}', expected '${soname}'"
else
    echo "SONAME $got_soname"
fi
needed=$(printf '%s\n' "$dyn" | awk '$1 == "NEEDED" { print $2 }')
echo "NEEDED: $(printf '%s\n' "$needed" | tr '\n' ' ')"
printf '%s\n' "$needed" | grep -qx 'libblas.so.3' ||
    fail "libblas.so.3 is not NEEDED: librnn must link the generic -lblas"
if printf '%s\n' "$needed" | grep -qi 'openblas'; then
    fail "librnn.so needs OpenBLAS directly; link the generic libblas.so.3 instead"
fi
if printf '%s\n' "$dyn" | grep -q 'TEXTREL'; then
    fail "librnn.so has text relocations (some object was not compiled with -fPIC)"
fi

if [ -n "$archive" ]; then
    # Global (upper-case type letter) defined symbols; compiler-generated
    # names start with "__" (sanitizer and coverage instrumentation) or "."
    leaked=$("$NM" --defined-only -g "$archive" 2>/dev/null |
             awk 'NF >= 3 && $2 ~ /^[A-Z]$/ { print $3 }' |
             grep -Ev '^(__|\.)' | grep -v '^rnn' | sort -u | grep . || true)
    if [ -n "$leaked" ]; then
        fail "librnn.a defines global symbols outside the rnn namespace (make them static or prefix them, e.g. rnni_):"
        indent "$leaked"
    else
        echo "librnn.a: every global symbol starts with rnn"
    fi
fi

if [ $failed -ne 0 ]; then
    echo "abi_exports: FAILED"
    exit 1
fi
echo "abi_exports: OK"
