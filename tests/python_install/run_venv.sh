#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_venv.sh BUILD_DIR SOURCE_DIR WORK_DIR PYTHON   (ctest: python_venv_install)
#
# The Python binding installed as users install it, offline (pip --no-index
# --no-build-isolation: Debian's setuptools and wheel, nothing downloaded),
# from a clean copy of python/ (only what git would check out: no build/,
# egg-info or __pycache__ of earlier runs), each followed by smoke.py (import,
# a few training steps) run from a directory outside the source tree:
#  1. `pip install` into `PYTHON -m venv --system-site-packages`:
#     a. with RNN_LIBRARY = the build tree's librnn.so;
#     b. without it and no librnn anywhere: the ImportError lists what it tried;
#     c. librnn installed into the venv's prefix (cmake --install --prefix
#        $VIRTUAL_ENV): found there by itself;
#  2. `pip install --user` (PYTHONUSERBASE in WORK_DIR) with librnn installed
#     into that user base by cmake --install: found there by itself;
#  3. `cmake --install --component python` next to the library in a fresh
#     prefix, then that prefix moved: the package finds the library through
#     the relative path it recorded (rnn/_install.py).
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR WORK_DIR PYTHON" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$3
python=$4
cmake=${CMAKE_COMMAND:-cmake}
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
# Nothing from the caller may point the binding at a library.
unset RNN_LIBRARY LD_LIBRARY_PATH PYTHONPATH PIP_INDEX_URL PIP_FIND_LINKS
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# A librnn the system loader knows (an installed librnn0) would answer 1b.
system_lib=$(/sbin/ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*librnn\.so\.0 .*=> //p' | head -n 1)

step "a clean copy of python/"
mkdir -p "$work/src/python"
(cd "$src/python" && find . -path ./build -prune -o -name '*.egg-info' -prune -o \
    -name __pycache__ -prune -o -name .pytest_cache -prune -o -type f -print) |
    while read -r f; do
        mkdir -p "$work/src/python/$(dirname "$f")"
        cp "$src/python/$f" "$work/src/python/$f"
    done
[ -e "$work/src/python/pyproject.toml" ] || fail "no python/pyproject.toml"

# smoke VENV_PYTHON EXPECTED_LIBRARY [env...]: import from outside any source
# tree, train a few steps, check which librnn was loaded.
smoke() {
    local py=$1 want=$2
    shift 2
    (cd "$work" && env "$@" "$py" "$here/smoke.py" "$want") || fail "smoke test with $py"
}

step "1. pip install into a venv (--system-site-packages: Debian's numpy)"
"$python" -m venv --system-site-packages "$work/venv"
venv_py=$work/venv/bin/python
"$venv_py" -m pip install --no-build-isolation --no-index "$work/src/python" \
    >"$work/pip-venv.log" 2>&1 || { cat "$work/pip-venv.log"; fail "pip install into the venv"; }
# pyproject.toml's version is the binding's (BINDING_VERSION, checked against
# rnn.h by the pytest suite and against the library by smoke.py).
dist_version=$("$venv_py" -m pip show librnn | sed -n 's/^Version: //p')
binding_version=$(sed -n 's/^BINDING_VERSION = (\([0-9]*\), \([0-9]*\), \([0-9]*\))$/\1.\2.\3/p' \
                  "$work/src/python/rnn/_capi.py")
[ -n "$dist_version" ] && [ "$dist_version" = "$binding_version" ] ||
    fail "pyproject.toml version '$dist_version' is not the binding's '$binding_version'"
loc=$(cd "$work" && "$venv_py" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("rnn").origin))')
[[ "$loc" == "$work/venv/"* ]] || fail "rnn imported from $loc, not from the venv"

step "1a. RNN_LIBRARY = the build tree's library"
smoke "$venv_py" "$build/librnn.so" RNN_LIBRARY="$build/librnn.so"

step "1b. no library anywhere: the ImportError says what was tried"
if [ -z "$system_lib" ]; then
    if (cd "$work" && "$venv_py" -c 'import rnn') >"$work/noload.log" 2>&1; then
        fail "import rnn succeeded without any librnn"
    fi
    cat "$work/noload.log"
    grep -q 'ImportError: rnn: librnn.so.0 not found' "$work/noload.log" || fail "no clear ImportError"
    grep -q "$work/venv/lib/librnn.so.0 (the Python prefix $work/venv): no such file" "$work/noload.log" ||
        fail "the ImportError does not list the venv's lib/"
    grep -q 'librnn.so.0 (the system loader' "$work/noload.log" || fail "the ImportError does not list the loader"
else
    echo "(the loader knows $system_lib: it must be the one loaded)"
    smoke "$venv_py" "$system_lib"
fi

step "1c. librnn installed into the venv's prefix"
"$cmake" --install "$build" --prefix "$work/venv" --component runtime >"$work/install-venv.log" ||
    { cat "$work/install-venv.log"; fail "cmake --install into the venv"; }
venv_lib=$(find "$work/venv" -name librnn.so.0 | head -n 1)
[ -n "$venv_lib" ] || fail "no librnn.so.0 under $work/venv"
smoke "$venv_py" "$venv_lib"

step "2. pip install --user (PYTHONUSERBASE=$work/userbase)"
export PYTHONUSERBASE=$work/userbase
# Debian marks its Python externally managed: --user needs --break-system-packages.
"$python" -m pip install --user --break-system-packages --no-build-isolation --no-index \
    "$work/src/python" >"$work/pip-user.log" 2>&1 || { cat "$work/pip-user.log"; fail "pip install --user"; }
"$cmake" --install "$build" --prefix "$work/userbase" --component runtime >"$work/install-user.log" ||
    { cat "$work/install-user.log"; fail "cmake --install into the user base"; }
user_lib=$(find "$work/userbase" -name librnn.so.0 | head -n 1)
loc=$(cd "$work" && "$python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("rnn").origin))')
[[ "$loc" == "$work/userbase/"* ]] || fail "--user: rnn imported from $loc"
smoke "$python" "$user_lib"
unset PYTHONUSERBASE

step "3. cmake --install --component python beside the library, prefix moved"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install-prefix.log" &&
"$cmake" --install "$build" --prefix "$work/prefix" --component python >>"$work/install-prefix.log" ||
    { cat "$work/install-prefix.log"; fail "cmake --install --component python"; }
[ -e "$(find "$work/prefix" -path '*/rnn/_install.py' | head -n 1)" ] || fail "no rnn/_install.py installed"
mkdir -p "$work/moved/deeper"
mv "$work/prefix" "$work/moved/deeper/prefix"
pkg=$(dirname "$(find "$work/moved" -path '*/rnn/__init__.py' | head -n 1)")
moved_lib=$(find "$work/moved" -name librnn.so.0 | head -n 1)
smoke "$python" "$moved_lib" PYTHONPATH="$(dirname "$pkg")"

echo "python_venv_install: OK"
