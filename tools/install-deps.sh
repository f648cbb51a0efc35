#!/bin/sh
# Install what building nic into FFmpeg needs, from Debian (apt-get).
# Does nothing (and needs no root) when everything is installed already.
#
#   tools/install-deps.sh [EXTRA-PACKAGE...]
set -eu
exec "$(dirname "$0")/apt-install.sh" build-essential pkg-config nasm patch xz-utils \
    ca-certificates debian-archive-keyring libopenblas-dev libsdl2-dev zlib1g-dev time "$@"
