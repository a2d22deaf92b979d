#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_lua.sh LUAJIT SCRIPT C_DEMO LIBRARY   (ctest: lua_ffi_seed)
#
# The LuaJIT FFI example (examples/lua/seed_sum_sign.lua) trains the seed
# task against LIBRARY and must reach the accuracy of the C demo run with the
# same recipe (seed_sum_sign --init pytorch: same data, init, SGD steps):
# within 0.02 of it, and at least 0.85.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 LUAJIT SCRIPT C_DEMO LIBRARY" >&2; exit 2; }
luajit=$1 script=$2 demo=$3 lib=$4

c_out=$("$demo" --init pytorch)
lua_out=$(env -u RNN_LIBRARY "$luajit" "$script" --lib "$lib" --min-accuracy 0.85) ||
    { printf '%s\n' "$lua_out"; echo "FAIL: the LuaJIT example failed (status $?)"; exit 1; }
printf '%s\n' "$lua_out"
c_acc=$(printf '%s\n' "$c_out" | sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' | tail -n 1)
lua_acc=$(printf '%s\n' "$lua_out" | sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' | tail -n 1)
[ -n "$c_acc" ] && [ -n "$lua_acc" ] || { echo "FAIL: no test_accuracy= line (C '$c_acc', Lua '$lua_acc')"; exit 1; }
echo "C demo (--init pytorch): $c_acc, LuaJIT FFI: $lua_acc"
awk -v c="$c_acc" -v l="$lua_acc" 'BEGIN { d = l - c; if (d < 0) d = -d; exit !(d <= 0.02 && l >= 0.85) }' ||
    { echo "FAIL: LuaJIT accuracy $lua_acc is not within 0.02 of the C demo's $c_acc (and >= 0.85)"; exit 1; }
echo "lua_ffi_seed: OK"
