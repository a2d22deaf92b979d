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
# Uses $CC and $CMAKE_COMMAND when set (ctest sets them).
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 BUILD_DIR WORK_DIR VERSION" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
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

step() { echo "== $*"; }

# loaded_from PROGRAM: PROGRAM must load librnn from the fresh prefix.
loaded_from() {
    local deps
    deps=$(ldd "$1")
    case "$deps" in
        *"$libdir/librnn.so"*) ;;
        *) echo "FAIL: $1 does not load librnn from $libdir:"; printf '%s\n' "$deps"; exit 1 ;;
    esac
}

step "cmake --install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log"; exit 1; }

pc=$(find "$prefix" -name rnn.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no rnn.pc installed"; cat "$work/install.log"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/rnn.h" "$libdir/librnn.so" "$libdir/librnn.so.${version%%.*}" \
         "$libdir/librnn.so.$version" "$libdir/cmake/rnn/rnnConfig.cmake" \
         "$libdir/cmake/rnn/rnnConfigVersion.cmake" "$libdir/cmake/rnn/rnnTargets.cmake"; do
    [ -e "$f" ] || { echo "FAIL: not installed: $f"; exit 1; }
done
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# Only the fresh prefix: nothing may come from an rnn installed on the system.
# (rnn.pc has no Requires, so no other directory is needed.)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step "pkg-config"
got=$(pkg-config --modversion rnn)
[ "$got" = "$version" ] || { echo "FAIL: pkg-config --modversion rnn = $got, expected $version"; exit 1; }
pkg-config --validate rnn
echo "cflags/libs: $(pkg-config --cflags --libs rnn)"
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
"$cc" -o "$work/consumer_pc" "$here/consumer.c" $(pkg-config --cflags --libs rnn) -lm
"$work/consumer_pc"
# The program must have found librnn in the fresh prefix.
loaded_from "$work/consumer_pc"

if [ -e "$libdir/librnn.a" ]; then
    step "pkg-config --static with librnn.a"
    # Libs.private must list everything librnn.a needs.
    libs=$(pkg-config --static --libs rnn | sed 's/-lrnn\b/-l:librnn.a/')
    # shellcheck disable=SC2046,SC2086  # splitting pkg-config output is intended
    "$cc" -o "$work/consumer_pc_static" "$here/consumer.c" $(pkg-config --cflags rnn) $libs -lm
    case "$(ldd "$work/consumer_pc_static")" in
        *librnn.so*) echo "FAIL: consumer_pc_static loads librnn.so"; exit 1 ;;
    esac
    "$work/consumer_pc_static"
fi

step "find_package(rnn $version) with CMake"
"$cmake" -S "$here" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_C_COMPILER="$cc" -DRNN_EXPECTED_VERSION="$version" \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake-configure.log" ||
    { cat "$work/cmake-configure.log"; exit 1; }
"$cmake" --build "$work/cmake-build" >"$work/cmake-build.log" ||
    { cat "$work/cmake-build.log"; exit 1; }
"$work/cmake-build/consumer_cmake"
loaded_from "$work/cmake-build/consumer_cmake"
if [ -e "$work/cmake-build/consumer_cmake_static" ]; then
    "$work/cmake-build/consumer_cmake_static"
fi

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

step "the installed tree moved to another directory"
moved=$work/relocated/one/level/deeper
mkdir -p "$(dirname "$moved")"
mv "$prefix" "$moved"
libdir=$moved/${libdir#"$prefix"/}
[ ! -e "$prefix" ] || { echo "FAIL: $prefix still exists after the move"; exit 1; }
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
# Nothing may be found through the old place: only the rpath points at the
# moved tree.
export LD_LIBRARY_PATH="$ld_library_path_in"
pkg-config --validate rnn
got=$(pkg-config --modversion rnn)
[ "$got" = "$version" ] || { echo "FAIL: moved tree: pkg-config --modversion rnn = $got"; exit 1; }
flags=$(pkg-config --cflags --libs rnn)
echo "cflags/libs: $flags"
case "$flags" in
    *"$prefix/"*|*"$prefix "*) echo "FAIL: moved tree: rnn.pc still names $prefix"; exit 1 ;;
esac
pc_libdir=$(cd "$(pkg-config --variable=libdir rnn)" && pwd)
pc_includedir=$(cd "$(pkg-config --variable=includedir rnn)" && pwd)
[ "$pc_libdir" = "$libdir" ] ||
    { echo "FAIL: moved tree: libdir resolves to $pc_libdir, expected $libdir"; exit 1; }
[ -e "$pc_includedir/rnn.h" ] ||
    { echo "FAIL: moved tree: no rnn.h in includedir $pc_includedir"; exit 1; }
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
"$cc" -o "$work/consumer_pc_moved" "$here/consumer.c" $(pkg-config --cflags --libs rnn) \
    -Wl,-rpath,"$libdir" -lm
"$work/consumer_pc_moved"
loaded_from "$work/consumer_pc_moved"
if [ -e "$libdir/librnn.a" ]; then
    libs=$(pkg-config --static --libs rnn | sed 's/-lrnn\b/-l:librnn.a/')
    # shellcheck disable=SC2046,SC2086  # splitting pkg-config output is intended
    "$cc" -o "$work/consumer_pc_static_moved" "$here/consumer.c" $(pkg-config --cflags rnn) \
        $libs -lm
    "$work/consumer_pc_static_moved"
fi
"$cmake" -S "$here" -B "$work/cmake-build-moved" \
    -DCMAKE_PREFIX_PATH="$moved" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_C_COMPILER="$cc" -DRNN_EXPECTED_VERSION="$version" \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake-configure-moved.log" ||
    { cat "$work/cmake-configure-moved.log"; exit 1; }
"$cmake" --build "$work/cmake-build-moved" >"$work/cmake-build-moved.log" ||
    { cat "$work/cmake-build-moved.log"; exit 1; }
"$work/cmake-build-moved/consumer_cmake"
loaded_from "$work/cmake-build-moved/consumer_cmake"

echo "install_consumer: OK"
