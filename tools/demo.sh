#!/bin/sh
# nic demo: encode a photo at a few qualities, decode it again and print the
# rate (bits per pixel) and distortion (PSNR against the original).
#
#   tools/demo.sh [OUTDIR [IMAGE...]]
#
# OUTDIR defaults to build/demo, IMAGE to samples/bythewater.png.
# NIC_DEMO_BIN: directory of ffmpeg/ffprobe (default build/install/bin)
# NIC_DEMO_Q:   quality indices for -q:v (default "1 4 7"; 0 = smallest files)
# NIC_DEMO_ARGS: more encoder options, e.g. "-model factorized"
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/demo}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- "$root/samples/bythewater.png"
bin=${NIC_DEMO_BIN:-$root/build/install/bin}
qs=${NIC_DEMO_Q:-1 4 7}
ffmpeg=$bin/ffmpeg
ffprobe=$bin/ffprobe

for t in "$ffmpeg" "$ffprobe"; do
    [ -x "$t" ] || { echo "demo.sh: $t not found; run make first" >&2; exit 1; }
done
mkdir -p "$out"

printf '%-20s %4s %10s %8s %9s  %s\n' image q bytes bpp "PSNR(dB)" decoded
for img in "$@"; do
    name=$(basename "$img" .png)
    wh=$("$ffprobe" -v error -select_streams v:0 \
         -show_entries stream=width,height -of csv=p=0:s=x "$img")
    w=${wh%x*}
    h=${wh#*x}
    for q in $qs; do
        nic=$out/$name-q$q.nic
        dec=$out/$name-q$q.png
        # shellcheck disable=SC2086
        "$ffmpeg" -nostdin -v error -y -i "$img" -c:v nic -q:v "$q" \
            ${NIC_DEMO_ARGS:-} "$nic"
        "$ffmpeg" -nostdin -v error -y -i "$nic" "$dec"
        bytes=$(wc -c < "$nic" | tr -d ' ')
        bpp=$(awk -v b="$bytes" -v w="$w" -v h="$h" \
              'BEGIN { printf "%.4f", 8 * b / (w * h) }')
        # psnr prints "PSNR r:... g:... b:... average:NN.NN min:... max:..."
        psnr=$("$ffmpeg" -nostdin -hide_banner -i "$dec" -i "$img" -lavfi \
               '[0:v]format=rgb24[d];[1:v]format=rgb24[r];[d][r]psnr' \
               -f null - 2>&1 |
               sed -n 's/.*PSNR .*average:\([0-9.inf]*\).*/\1/p' | tail -n 1)
        printf '%-20s %4s %10s %8s %9s  %s\n' "$name" "$q" "$bytes" "$bpp" \
            "${psnr:-?}" "$dec"
    done
done
