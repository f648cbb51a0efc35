#!/bin/sh
# Fetch a pinned FFmpeg release tarball from Debian's source packages.
#
#   tools/fetch-ffmpeg.sh RELEASE DLDIR APTDIR
#
# RELEASE is one of the supported release lines (9.0, 8.1, 7.1, 5.1).
# The tarball ends up as DLDIR/ffmpeg_<version>.orig.tar.xz and its SHA-256
# is checked against the value pinned below.  APT runs with a private
# configuration under APTDIR (its own sources.list with deb-src lines, its
# own lists and cache), so the machine's APT setup is neither used nor
# changed.  A tarball already in DLDIR with the right checksum is reused, so
# an offline machine works if the file is put there by hand.
set -eu

rel=${1:?usage: fetch-ffmpeg.sh RELEASE DLDIR APTDIR}
dldir=${2:?usage: fetch-ffmpeg.sh RELEASE DLDIR APTDIR}
aptdir=${3:?usage: fetch-ffmpeg.sh RELEASE DLDIR APTDIR}

# release line -> Debian suite, Debian source version, upstream version, SHA-256
case "$rel" in
9.0) suite=experimental debver=7:9.0.2-4 upver=9.0.2
     sha=8c3850283eb25fa026482078a04051e0be17347b09ef81a0849bec15a96e002e ;;
8.1) suite=sid debver=7:8.1.2-2 upver=8.1.2
     sha=464beb5e7bf0c311e68b45ae2f04e9cc2af88851abb4082231742a74d97b524c ;;
7.1) suite=trixie debver=7:7.1.5-0+deb13u1 upver=7.1.5
     sha=de668509caf9e35e3cd162473441fdb29538c6d96ed080292b3cf9e6fc5d558f ;;
5.1) suite=bookworm debver=7:5.1.9-0+deb12u1 upver=5.1.9
     sha=d9b593bb2ba93d4b50f74177e0cdcd41747e708596367deed0c30348a71dd176 ;;
*) echo "fetch-ffmpeg.sh: unsupported release '$rel' (supported: 9.0 8.1 7.1 5.1)" >&2
   exit 1 ;;
esac

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
tarball=ffmpeg_$upver.orig.tar.xz

mkdir -p "$dldir"
dldir=$(cd "$dldir" && pwd)
out=$dldir/$tarball

check() {
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]
}

if check "$out"; then
    echo "fetch-ffmpeg.sh: $tarball present, SHA-256 ok"
    echo "$out"
    exit 0
fi
rm -f "$out"

if [ ! -f "$keyring" ]; then
    echo "fetch-ffmpeg.sh: $keyring missing (install debian-archive-keyring)" >&2
    exit 1
fi

# Private APT configuration: deb-src lines only, own lists and cache.
setup_apt() {  # NAME SUITE...
    conf=$aptdir/$1
    shift
    mkdir -p "$conf/lists/partial" "$conf/cache/archives/partial"
    conf=$(cd "$conf" && pwd)
    : > "$conf/sources.list"
    for s in "$@"; do
        echo "deb-src [signed-by=$keyring] $mirror $s main" >> "$conf/sources.list"
    done
    {
        echo "Dir::Etc::SourceList \"$conf/sources.list\";"
        echo 'Dir::Etc::SourceParts "/dev/null";'
        echo "Dir::State::Lists \"$conf/lists\";"
        echo "Dir::Cache \"$conf/cache\";"
        echo 'Dir::Cache::pkgcache "";'
        echo 'Dir::Cache::srcpkgcache "";'
        echo 'Acquire::Languages "none";'
        # As root, apt downloads as the _apt user, who cannot write into a
        # private tree owned by someone else.
        [ "$(id -u)" != 0 ] || echo 'APT::Sandbox::User "root";'
    } > "$conf/apt.conf"
    APT_CONFIG=$conf/apt.conf
    export APT_CONFIG
    echo "fetch-ffmpeg.sh: apt-get update ($*; private config $APT_CONFIG)"
    apt-get -q update
}

# The URI comes from the signed Sources index; the pinned SHA-256 is checked
# on download.  The exact source version first; failing that, any version
# that still ships the same upstream tarball.
find_uri() {
    for want in "ffmpeg=$debver" ffmpeg; do
        uri=$(cd "$conf" && apt-get -q source --print-uris "$want" 2>/dev/null |
              sed -n "s/^'\([^']*\/$tarball\)'.*/\1/p" | head -n 1) || true
        [ -n "$uri" ] && return 0
    done
    return 1
}

uri=
setup_apt "$suite" "$suite"
if ! find_uri; then
    # Packages move between suites (and mirrors differ); look in all of them.
    echo "fetch-ffmpeg.sh: $suite does not have $tarball, trying all suites"
    setup_apt all bookworm trixie sid experimental
    find_uri || true
fi
if [ -z "$uri" ]; then
    echo "fetch-ffmpeg.sh: no suite has $tarball (wanted ffmpeg $debver)." >&2
    echo "Put $tarball (SHA-256 $sha) into $dldir by hand and re-run." >&2
    exit 1
fi

echo "fetch-ffmpeg.sh: downloading $uri"
/usr/lib/apt/apt-helper download-file "$uri" "$out.part" "SHA256:$sha"
if ! check "$out.part"; then
    rm -f "$out.part"
    echo "fetch-ffmpeg.sh: SHA-256 mismatch for $tarball (want $sha)" >&2
    exit 1
fi
mv "$out.part" "$out"
echo "fetch-ffmpeg.sh: $tarball ok"
echo "$out"
