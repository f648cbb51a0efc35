#!/bin/sh
# Install Debian packages that are missing (apt-get update first); does
# nothing, and needs no root, when they are all installed.
#
#   tools/apt-install.sh PACKAGE...
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
    echo "apt-install.sh: missing packages:$missing" >&2
    echo "apt-install.sh: not root and no sudo; install them and re-run" >&2
    exit 1
fi

echo "apt-install.sh: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends $missing
