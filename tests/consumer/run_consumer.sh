#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_consumer.sh BUILD_DIR WORK_DIR VERSION   (ctest: install_consumer)
#
# Installs the build into a fresh temporary prefix with `cmake --install`,
# then builds and runs tests/consumer/consumer.c the two ways users do:
#   1. cc consumer.c $(pkg-config --cflags --libs rnn)   (and --static with
#      librnn.a, when it was built)
#   2. a CMake project doing find_package(rnn VERSION REQUIRED) and linking
#      rnn::rnn (and rnn::rnn_static when it exists)
# then MOVES the installed tree to another directory (of another depth) and
# builds and runs the consumer against the moved tree again, with pkg-config
# (rnn.pc finds its prefix from its own location, ${pcfiledir}) and with
# find_package: an installed librnn is relocatable.
#
# run_consumer.sh --system LIBDIR WORK_DIR VERSION   (ctest: deb_install)
#
# The same consumers against a librnn installed in the system (the Debian
# packages): nothing is installed nor moved, pkg-config and find_package use
# their default search paths, and every program must load librnn from LIBDIR
# (/usr/lib/<multiarch>).
# Uses $CC and $CMAKE_COMMAND when set (ctest sets them).
set -euo pipefail

system=""
if [ "${1:-}" = --system ]; then
    system=$2
    shift
fi
if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_DIR WORK_DIR VERSION | $0 --system LIBDIR WORK_DIR VERSION" >&2
    exit 2
fi
if [ -z "$system" ]; then
    build=$(cd "$1" && pwd)
fi
work=$2
version=$3
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
cmake=${CMAKE_COMMAND:-cmake}
ld_library_path_in=${LD_LIBRARY_PATH:-}

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix=$work/prefix
moved=$work/relocated/one/level/deeper   # of another depth than $prefix

step() { echo "== $*"; }

# loaded_from PROGRAM: PROGRAM must load librnn from $libdir (compared after
# resolving "..": an rpath from rnn.pc may read lib/pkgconfig/../../lib).
loaded_from() {
    local deps path
    deps=$(ldd "$1")
    path=$(printf '%s\n' "$deps" | sed -n 's/^[[:space:]]*librnn\.so\.[0-9]* => \(.*\) (0x[0-9a-f]*)$/\1/p')
    if [ -z "$path" ] || [ "$(cd "$(dirname "$path")" && pwd -P)" != "$(cd "$libdir" && pwd -P)" ]; then
        echo "FAIL: $1 does not load librnn from $libdir:"; printf '%s\n' "$deps"; exit 1
    fi
}

# use_prefix DIR: pkg-config sees only DIR's rnn.pc (nothing may come from
# an rnn installed on the system; rnn.pc has no Requires, so no other
# directory is needed). Sets libdir.
use_prefix() {
    local pc
    pc=$(find "$1" -name rnn.pc -path '*/pkgconfig/*' | head -n 1)
    [ -n "$pc" ] || { echo "FAIL: no rnn.pc in $1"; exit 1; }
    libdir=$(dirname "$(dirname "$pc")")
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
}

# pkg_config_consumers SUFFIX [LINK FLAG...]: consumer.c built with the flags
# pkg-config gives (and --static with librnn.a, when it was built) runs and
# loads librnn from $libdir.
pkg_config_consumers() {
    local suffix=$1 libs
    shift
    local got
    got=$(pkg-config --modversion rnn)
    [ "$got" = "$version" ] || { echo "FAIL: pkg-config --modversion rnn = $got, expected $version"; exit 1; }
    pkg-config --validate rnn
    echo "cflags/libs: $(pkg-config --cflags --libs rnn)"
    # shellcheck disable=SC2046  # word splitting of pkg-config output is intended
    "$cc" -o "$work/consumer_pc$suffix" "$here/consumer.c" $(pkg-config --cflags --libs rnn) "$@" -lm
    "$work/consumer_pc$suffix"
    loaded_from "$work/consumer_pc$suffix"
    if [ -e "$libdir/librnn.a" ]; then
        step "pkg-config --static with librnn.a"
        # Libs.private must list everything librnn.a needs.
        libs=$(pkg-config --static --libs rnn | sed 's/-lrnn\b/-l:librnn.a/')
        # shellcheck disable=SC2046,SC2086  # splitting pkg-config output is intended
        "$cc" -o "$work/consumer_pc_static$suffix" "$here/consumer.c" $(pkg-config --cflags rnn) $libs -lm
        case "$(ldd "$work/consumer_pc_static$suffix")" in
            *librnn.so*) echo "FAIL: consumer_pc_static$suffix loads librnn.so"; exit 1 ;;
        esac
        "$work/consumer_pc_static$suffix"
    fi
}

# cmake_consumers SUFFIX PREFIX: the CMake project of this directory finds
# rnn in PREFIX, builds, runs and loads librnn from $libdir.
cmake_consumers() {
    local dir=$work/cmake-build$1
    "$cmake" -S "$here" -B "$dir" \
        -DCMAKE_PREFIX_PATH="$2" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
        -DCMAKE_C_COMPILER="$cc" -DRNN_EXPECTED_VERSION="$version" \
        -DCMAKE_BUILD_TYPE=Release >"$dir.configure.log" ||
        { cat "$dir.configure.log"; exit 1; }
    "$cmake" --build "$dir" >"$dir.build.log" || { cat "$dir.build.log"; exit 1; }
    "$dir/consumer_cmake"
    loaded_from "$dir/consumer_cmake"
    if [ -e "$dir/consumer_cmake_static" ]; then
        "$dir/consumer_cmake_static"
    fi
}

if [ -n "$system" ]; then
    # Nothing of the caller's may steer pkg-config or the loader elsewhere.
    unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR LD_LIBRARY_PATH
    libdir=$system
    [ -e "$libdir/pkgconfig/rnn.pc" ] || { echo "FAIL: no $libdir/pkgconfig/rnn.pc"; exit 1; }
    pc_libdir=$(pkg-config --variable=libdir rnn)
    [ "$(cd "$pc_libdir" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] ||
        { echo "FAIL: pkg-config finds an rnn.pc with libdir $pc_libdir, not $libdir"; exit 1; }
    step "pkg-config (system search path)"
    pkg_config_consumers _system
    step "find_package(rnn $version) with CMake (system search path)"
    cmake_consumers -system ""
    echo "install_consumer --system: OK"
    exit 0
fi

step "cmake --install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log"; exit 1; }
use_prefix "$prefix"
for f in "$prefix/include/rnn.h" "$libdir/librnn.so" "$libdir/librnn.so.${version%%.*}" \
         "$libdir/librnn.so.$version" "$libdir/cmake/rnn/rnnConfig.cmake" \
         "$libdir/cmake/rnn/rnnConfigVersion.cmake" "$libdir/cmake/rnn/rnnTargets.cmake"; do
    [ -e "$f" ] || { echo "FAIL: not installed: $f"; exit 1; }
done
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"
export LD_LIBRARY_PATH="$libdir${ld_library_path_in:+:$ld_library_path_in}"

step "pkg-config"
pkg_config_consumers ""

step "find_package(rnn $version) with CMake"
cmake_consumers "" "$prefix"

step "find_package(rnn $((${version%%.*} + 1)).0) must be refused (SameMajorVersion)"
mkdir -p "$work/cmake-next"
cat >"$work/cmake-next/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(next LANGUAGES NONE)
find_package(rnn $((${version%%.*} + 1)).0 QUIET)
if(rnn_FOUND)
  message(FATAL_ERROR "rnn $version accepted for a request of the next major version")
endif()
CMAKE
"$cmake" -S "$work/cmake-next" -B "$work/cmake-next/build" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake-next.log" ||
    { cat "$work/cmake-next.log"; exit 1; }

step "the installed tree moved to $moved"
mkdir -p "$(dirname "$moved")"
mv "$prefix" "$moved"
[ ! -e "$prefix" ] || { echo "FAIL: $prefix still exists after the move"; exit 1; }
use_prefix "$moved"
# Nothing through the old place nor LD_LIBRARY_PATH: the programs find
# librnn through an rpath to the moved tree.
export LD_LIBRARY_PATH="$ld_library_path_in"
case "$(pkg-config --cflags --libs rnn)" in
    *"$prefix/"*|*"$prefix "*) echo "FAIL: moved tree: rnn.pc still names $prefix"; exit 1 ;;
esac
pc_libdir=$(cd "$(pkg-config --variable=libdir rnn)" && pwd)
[ "$pc_libdir" = "$libdir" ] ||
    { echo "FAIL: moved tree: libdir resolves to $pc_libdir, expected $libdir"; exit 1; }
[ -e "$(pkg-config --variable=includedir rnn)/rnn.h" ] ||
    { echo "FAIL: moved tree: no rnn.h in includedir $(pkg-config --variable=includedir rnn)"; exit 1; }
# The rpath variable of rnn.pc is the README's way to run from a prefix the
# loader does not search.
rpath=$(pkg-config --variable=rpath rnn)
case "$rpath" in
    -Wl,-rpath,*) ;;
    *) echo "FAIL: pkg-config --variable=rpath rnn = '$rpath'"; exit 1 ;;
esac
# shellcheck disable=SC2086  # one word, unless the prefix has spaces
pkg_config_consumers _moved $rpath
cmake_consumers -moved "$moved"

echo "install_consumer: OK"
