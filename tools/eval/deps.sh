#!/bin/sh
# Install the Debian packages the evaluation needs (classic codecs' tools,
# Debian's own ffmpeg with libx265, Python libraries).  Does nothing, and
# needs no root, when they are all installed.
#
#   tools/eval/deps.sh PACKAGE...
set -eu

missing=
for p in "$@"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
else
    echo "eval deps: missing packages:$missing (not root, no sudo)" >&2
    exit 1
fi
echo "eval deps: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends $missing
