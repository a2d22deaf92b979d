#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apt-install-missing.sh NAME PKG... - installs those of the Debian packages
# PKG that are not installed yet (apt-get update, then one apt-get install),
# as root or through sudo; skips everything when all are there. NAME starts
# the messages (on stderr). Used by build.sh (deps) and bench/common.sh.
set -euo pipefail

name=$1
shift
missing=()
for pkg in "$@"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "$name: all $# packages installed" >&2
    exit 0
fi
printf '\n==> %s: installing missing packages: %s\n' "$name" "${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "$name: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
