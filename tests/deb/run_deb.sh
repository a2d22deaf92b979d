#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_deb.sh SOURCE_DIR WORK_DIR VERSION   (ctest: deb_install, label install)
#
# The Debian packages, end to end:
#  1. configures SOURCE_DIR for /usr in WORK_DIR/build (Release, static too),
#     builds the library and runs `cpack -G DEB`;
#  2. checks the two packages: names, version, Depends (the generic
#     libblas.so.3, never one BLAS implementation; floors at least those of a
#     fresh dpkg-shlibdeps run), which files each holds, shlibs, symbols (every
#     export of the library), ldconfig on install, copyright and
#     changelog.Debian.gz (whose version is VERSION);
#  3. installs both with `apt-get install ./librnn0_*.deb ./librnn-dev_*.deb`
#     into a throwaway root: a private mount namespace in which /usr, /etc and
#     /var are overlays on a tmpfs, so neither this machine nor the tests
#     running beside this one ever see the packages. Where namespaces are not
#     allowed (a container without CAP_SYS_ADMIN) it installs on the machine
#     itself, refuses if librnn0 or librnn-dev is already installed, and
#     removes both at exit (ctest runs this test RUN_SERIAL, so no other test
#     sees a librnn in /usr meanwhile);
#  4. builds and runs tests/consumer's programs against /usr with pkg-config
#     and find_package (run_consumer.sh --system), imports the Python binding
#     from a bare copy (it must find /usr's library by itself), then removes
#     the packages and checks that the library is gone.
# Needs root, apt-get, dpkg-dev (dpkg-shlibdeps) and cmake/cpack; uses $CC,
# $CMAKE_COMMAND, $CPACK_COMMAND, $PYTHON and $JOBS when set.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# ---------------------------------------------------------------------------
# Inside the install root (called by the outer run below)
# ---------------------------------------------------------------------------

# install_and_use PKGDIR WORK VERSION SOURCE_DIR
install_and_use() {
    local pkgdir=$1 work=$2 version=$3 src=$4 multiarch libdir
    multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    libdir=/usr/lib/$multiarch

    step "apt-get install ./librnn0_*.deb ./librnn-dev_*.deb"
    (cd "$pkgdir" && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends ./librnn0_*.deb ./librnn-dev_*.deb) \
        >"$work/apt-install.log" 2>&1 || { cat "$work/apt-install.log"; fail "apt-get install"; }
    for p in librnn0 librnn-dev; do
        [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $version-1" ] ||
            fail "$p not installed at $version-1: $(dpkg-query -W -f='${Status} ${Version}' "$p")"
    done
    [ -e "$libdir/librnn.so.0" ] || fail "no $libdir/librnn.so.0 after install"
    # ldconfig ran: the loader's cache knows the library.
    cached=$(ldconfig -p | sed -n 's/^[[:space:]]*librnn\.so\.0 .*=> //p' | head -n 1)
    [ -n "$cached" ] && [ "$(readlink -f "$cached")" = "$(readlink -f "$libdir/librnn.so.0")" ] ||
        fail "librnn.so.0 not in the ldconfig cache after install (ldconfig -p: '$cached')"
    dpkg -L librnn0 >"$work/librnn0.list"
    dpkg -L librnn-dev >"$work/librnn-dev.list"

    step "consumers against /usr"
    "$src/tests/consumer/run_consumer.sh" --system "$libdir" "$work/consumer" "$version"

    step "the Python binding, from a bare copy, finds $libdir/librnn.so.0 by itself"
    # Two levels below $work: no build*/ beside it (the binding's lookup in a
    # source checkout must not find $work/build).
    rm -rf "$work/py" && mkdir -p "$work/py/site" && cp -r "$src/python/rnn" "$work/py/site/"
    (cd "$work/py/site" && env -u RNN_LIBRARY -u LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE=1 \
        "${PYTHON:-/usr/bin/python3}" -c '
import os, sys, rnn
path = os.path.realpath(rnn.library_path())
want = os.path.realpath(sys.argv[1])
assert path == want, "loaded %s, expected %s" % (path, want)
print("rnn", rnn.version(), "from", rnn.library_path())' "$libdir/librnn.so.0") ||
        fail "python: the binding did not load $libdir/librnn.so.0"

    step "apt-get remove --purge librnn-dev librnn0"
    DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y librnn-dev librnn0 \
        >"$work/apt-remove.log" 2>&1 || { cat "$work/apt-remove.log"; fail "apt-get remove"; }
    [ ! -e "$libdir/librnn.so.0" ] || fail "$libdir/librnn.so.0 left after removal"
    [ ! -e /usr/include/rnn.h ] || fail "/usr/include/rnn.h left after removal"
    if ldconfig -p | grep -q "librnn.so.0 "; then
        fail "librnn.so.0 still in the ldconfig cache after removal"
    fi
}

if [ "${1:-}" = --inside-namespace ]; then
    # $2.. = PKGDIR WORK VERSION SOURCE_DIR. A private mount namespace: the
    # overlays below vanish with this process.
    work=$3
    mount -t tmpfs -o size=512m rnn-deb "$work/ovl"
    for d in usr etc var; do
        mkdir -p "$work/ovl/$d.upper" "$work/ovl/$d.work"
        mount -t overlay "rnn-deb-$d" \
            -o "lowerdir=/$d,upperdir=$work/ovl/$d.upper,workdir=$work/ovl/$d.work" "/$d"
    done
    install_and_use "$2" "$3" "$4" "$5"
    exit 0
fi

# ---------------------------------------------------------------------------
# Outer run
# ---------------------------------------------------------------------------

[ $# -eq 3 ] || { echo "usage: $0 SOURCE_DIR WORK_DIR VERSION" >&2; exit 2; }
src=$(cd "$1" && pwd)
work=$2
version=$3
cmake=${CMAKE_COMMAND:-cmake}
cpack=${CPACK_COMMAND:-cpack}
[ "$(id -u)" -eq 0 ] || fail "deb_install installs packages: run the tests as root (CI does)"
for tool in apt-get dpkg-deb dpkg-shlibdeps dpkg-architecture; do
    command -v "$tool" >/dev/null || fail "$tool not found (./build.sh deps installs dpkg-dev)"
done

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
pkgdir=$work/packages
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

step "configure for /usr and build the library in $work/build"
"$cmake" -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DRNN_BUILD_STATIC=ON -DBUILD_TESTING=OFF -DRNN_BUILD_EXAMPLES=OFF -DRNN_BUILD_BENCH=OFF \
    ${CC:+-DCMAKE_C_COMPILER="$CC"} >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; fail "configure"; }
"$cmake" --build "$work/build" --parallel "${JOBS:-2}" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; fail "build"; }

step "cpack -G DEB"
(cd "$work/build" && "$cpack" -G DEB -B "$pkgdir") >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; fail "cpack"; }
arch=$(dpkg --print-architecture)
rt="$pkgdir/librnn0_${version}-1_${arch}.deb"
dev="$pkgdir/librnn-dev_${version}-1_${arch}.deb"
[ -e "$rt" ] && [ -e "$dev" ] || { ls -l "$pkgdir"; fail "expected $(basename "$rt") and $(basename "$dev")"; }

step "package metadata"
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$rt" Package)" = librnn0 ] || fail "runtime package is $(field "$rt" Package)"
[ "$(field "$dev" Package)" = librnn-dev ] || fail "dev package is $(field "$dev" Package)"
for deb in "$rt" "$dev"; do
    [ "$(field "$deb" Version)" = "$version-1" ] || fail "$(basename "$deb"): Version $(field "$deb" Version)"
    [ "$(field "$deb" Architecture)" = "$arch" ] || fail "$(basename "$deb"): Architecture"
done
rt_depends=$(field "$rt" Depends)
dev_depends=$(field "$dev" Depends)
echo "librnn0 Depends: $rt_depends"
echo "librnn-dev Depends: $dev_depends"
case ", $rt_depends," in
    *", libblas3 | libblas.so.3,"*) ;;
    *) fail "librnn0 must depend on 'libblas3 | libblas.so.3' (any BLAS)" ;;
esac
case "$rt_depends $dev_depends" in
    *openblas*|*blis*|*atlas*|*mkl*) fail "a Depends names one BLAS implementation" ;;
esac
[[ ", $dev_depends," == *", librnn0 (= $version-1),"* ]] ||
    fail "librnn-dev must depend on librnn0 (= $version-1)"

# Every dependency dpkg-shlibdeps finds must be in Depends with a floor at
# least as high (the BLAS one as the generic alternative, whatever package
# serves libblas.so.3 on this machine).
mkdir -p "$work/shlibdeps/debian"
printf 'Source: librnn\n\nPackage: librnn0\nArchitecture: any\n' >"$work/shlibdeps/debian/control"
computed=$(cd "$work/shlibdeps" &&
           dpkg-shlibdeps -O -e"$work/build/librnn.so.0" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$computed" ] || fail "dpkg-shlibdeps gave nothing"
echo "dpkg-shlibdeps: $computed"
IFS=',' read -r -a groups <<<"$computed"
for group in "${groups[@]}"; do
    group=$(echo "$group" | sed 's/^ *//; s/ *$//')
    case "$group" in
        *libblas.so.3*) continue ;;   # checked above
    esac
    pkg=${group%% *}
    ours=$(printf '%s\n' "$rt_depends" | tr ',' '\n' | sed 's/^ *//' | grep -E "^$pkg( |$)" || true)
    [ -n "$ours" ] || fail "librnn.so.0 needs $group, not in librnn0's Depends"
    if [[ "$group" == *"(>= "* ]]; then
        need=$(echo "$group" | sed -E 's/.*\(>= ([^)]*)\).*/\1/')
        have=$(echo "$ours" | sed -nE 's/.*\(>= ([^)]*)\).*/\1/p')
        [ -n "$have" ] && dpkg --compare-versions "$have" ge "$need" ||
            fail "librnn0 Depends '$ours', dpkg-shlibdeps needs $pkg >= $need (RNN_DEB_RUNTIME_DEPENDS in cmake/RnnPackaging.cmake)"
    fi
done

step "package contents"
dpkg-deb -c "$rt" | awk '{print $6}' | sed 's|^\./|/|' | sort >"$work/rt.files"
dpkg-deb -c "$dev" | awk '{print $6}' | sed 's|^\./|/|' | sort >"$work/dev.files"
has() { grep -qx "$2" "$work/$1.files" || fail "$1 package lacks $2"; }
lacks() { ! grep -q "$2" "$work/$1.files" || fail "$1 package must not hold $2"; }
L=/usr/lib/$multiarch
has rt "$L/librnn.so.0"
has rt "$L/librnn.so.$version"
has rt /usr/share/doc/librnn0/copyright
has rt /usr/share/doc/librnn0/changelog.Debian.gz
lacks rt 'rnn\.h$'
lacks rt 'librnn\.so$'
lacks rt 'librnn\.a$'
has dev /usr/include/rnn.h
has dev "$L/librnn.so"
has dev "$L/librnn.a"
has dev "$L/pkgconfig/rnn.pc"
has dev "$L/cmake/rnn/rnnConfig.cmake"
has dev "$L/cmake/rnn/rnnConfigVersion.cmake"
has dev "$L/cmake/rnn/rnnTargets.cmake"
has dev /usr/share/doc/librnn-dev/copyright
has dev /usr/share/doc/librnn-dev/changelog.Debian.gz
lacks dev "librnn\.so\.$version"
if dpkg-deb -c "$rt" "$dev" 2>/dev/null | awk '{print $2}' | grep -qv '^root/root$'; then
    fail "files not owned by root/root"
fi

step "control files: shlibs, symbols, ldconfig"
mkdir -p "$work/control"
dpkg-deb -e "$rt" "$work/control"
[ "$(cat "$work/control/shlibs")" = "librnn 0 librnn0 (>= $version-1)" ] ||
    fail "shlibs is '$(cat "$work/control/shlibs")'"
grep -qx 'activate-noawait ldconfig' "$work/control/triggers" 2>/dev/null ||
    grep -qw ldconfig "$work/control/postinst" 2>/dev/null || fail "librnn0 does not run ldconfig"
[ "$(head -n 1 "$work/control/symbols")" = "librnn.so.0 librnn0 #MINVER#" ] ||
    fail "symbols file header: $(head -n 1 "$work/control/symbols")"
nm -D --defined-only --format=posix "$work/build/librnn.so.0" |
    awk '$2 ~ /^[TDBRW]$/ {print $1}' | sort >"$work/exports"
sed -n 's/^ \([^@]*\)@Base .*/\1/p' "$work/control/symbols" | sort >"$work/symbols"
diff -u "$work/exports" "$work/symbols" || fail "the symbols file does not list exactly the exports"
[ "$(wc -l <"$work/symbols")" -gt 50 ] || fail "only $(wc -l <"$work/symbols") symbols"
# dpkg-gensymbols agrees with the file (no new nor lost symbols).
(cd "$work/shlibdeps" && dpkg-gensymbols -plibrnn0 -v"$version-1" -e"$work/build/librnn.so.0" \
    -I"$work/control/symbols" -c4 -O"$work/gensymbols.out") >"$work/gensymbols.log" 2>&1 ||
    { cat "$work/gensymbols.log"; fail "dpkg-gensymbols -c4"; }

step "copyright and changelog"
mkdir -p "$work/rt-tree"
dpkg-deb -x "$rt" "$work/rt-tree"
grep -q '^License: MIT' "$work/rt-tree/usr/share/doc/librnn0/copyright" || fail "copyright: no License: MIT"
top=$(gzip -dc "$work/rt-tree/usr/share/doc/librnn0/changelog.Debian.gz" | head -n 1)
[[ "$top" == "librnn ($version-1) "* ]] ||
    fail "changelog.Debian.gz starts '$top', expected version $version-1 (packaging/debian/changelog)"

step "install into a throwaway root"
there_before=0
[ ! -e "/usr/lib/$multiarch/librnn.so.0" ] || there_before=1
if [ "${RNN_DEB_ON_HOST:-0}" != 1 ] && mkdir -p "$work/ovl" &&
   unshare --mount --propagation private true 2>/dev/null; then
    echo "(private mount namespace, /usr /etc /var overlays)"
    unshare --mount --propagation private "$self" --inside-namespace "$pkgdir" "$work" "$version" "$src"
else
    echo "(no mount namespace here: installing on this machine, removed at exit)"
    for p in librnn0 librnn-dev; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
            fail "$p is already installed on this machine: this test installs and removes it; apt-get remove it first"
        fi
    done
    cleanup() {
        DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y librnn-dev librnn0 >/dev/null 2>&1 || true
    }
    trap cleanup EXIT
    install_and_use "$pkgdir" "$work" "$version" "$src"
fi
# Nothing leaked out of the throwaway root (or the trap's removal worked).
if [ $there_before = 0 ] && [ -e "/usr/lib/$multiarch/librnn.so.0" ]; then
    fail "/usr/lib/$multiarch/librnn.so.0 exists after the test"
fi
echo "deb_install: OK"
