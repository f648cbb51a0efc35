#!/bin/sh
# Cross-kernel determinism of nic streams.
#
#   tools/bitexact.sh FFMPEG TINY_PSNR WORKDIR IMAGE...
#
# For every image and every installed model (one quality per image, cycling
# through all of them), encode with one OpenBLAS kernel and thread count and
# decode with another: OPENBLAS_CORETYPE=Haswell with 2 threads against
# Prescott with 1 thread, both ways round.  Every decode must succeed (the
# entropy decoder chose the same CDFs as the encoder) and match the
# encoding side's own reconstruction within +-1 per sample.
set -eu
FFMPEG=$1 TINY_PSNR=$2 WORK=$3
shift 3
mkdir -p "$WORK"
A="OPENBLAS_CORETYPE=Haswell -threads 2"
B="OPENBLAS_CORETYPE=Prescott -threads 1"
pass=0 fail=0 i=0

run() {  # run "ENV=value -threads N" args...
    cfg=$1
    shift
    env "${cfg%% *}" "$FFMPEG" -nostdin -hide_banner -loglevel error ${cfg#* } "$@"
}

for img in "$@"; do
    for model in factorized hyperprior hyperprior-msssim; do
        q=$((i % 8))
        for dir in AB BA; do
            if [ $dir = AB ]; then enc=$A dec=$B; else enc=$B dec=$A; fi
            s="$WORK/s.nic"
            if ! run "$enc" -i "$img" -c:v nic -model "$model" -q:v $q -y "$s" ||
               ! run "$enc" -i "$s" -f rawvideo -pix_fmt rgb24 -y "$WORK/ref.rgb" ||
               ! run "$dec" -i "$s" -f rawvideo -pix_fmt rgb24 -y "$WORK/other.rgb"; then
                echo "FAIL $(basename "$img") $model q$q $dir: coding failed"
                fail=$((fail + 1))
                continue
            fi
            maxdiff=$("$TINY_PSNR" "$WORK/ref.rgb" "$WORK/other.rgb" | sed -n 's/.*MAXDIFF: *\([0-9]*\).*/\1/p')
            if [ -n "$maxdiff" ] && [ "$maxdiff" -le 1 ]; then
                pass=$((pass + 1))
            else
                echo "FAIL $(basename "$img") $model q$q $dir: max difference ${maxdiff:-?}"
                fail=$((fail + 1))
            fi
        done
    done
    i=$((i + 1))
    echo "bitexact: $(basename "$img") done ($pass passed, $fail failed so far)"
done
echo "bitexact: $pass passed, $fail failed"
[ $fail -eq 0 ]
