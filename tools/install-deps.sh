#!/bin/sh
# Install what building nic into FFmpeg needs, from Debian (apt-get).
# Does nothing (and needs no root) when everything is installed already.
#
#   tools/install-deps.sh [EXTRA-PACKAGE...]
set -eu

pkgs="build-essential pkg-config nasm patch xz-utils ca-certificates
      debian-archive-keyring libopenblas-dev libsdl2-dev zlib1g-dev $*"

missing=
for p in $pkgs; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps.sh: all build dependencies are installed"
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
else
    echo "install-deps.sh: missing packages:$missing" >&2
    echo "install-deps.sh: not root and no sudo; install them and re-run" >&2
    exit 1
fi

echo "install-deps.sh: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends $missing
