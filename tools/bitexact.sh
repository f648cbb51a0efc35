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
#
# The context model's y_hat is exact integers: with NICTOOL set (and the
# model's file in NIC_MODEL_PATH), the latents `nictool latents` decodes
# from each stream under both configurations (OpenBLAS kernel, its thread
# count and the codec's threads) must be identical, byte for byte.
set -eu
FFMPEG=$1 TINY_PSNR=$2 WORK=$3
shift 3
mkdir -p "$WORK"
A="OPENBLAS_CORETYPE=Haswell -threads 2"
B="OPENBLAS_CORETYPE=Prescott -threads 1"
MODELS="factorized hyperprior hyperprior-msssim"
CONTEXT=$(echo "${NIC_MODEL_PATH:-}" | tr : '\n' | while read -r d; do
    [ -f "$d/context.gguf" ] && echo "$d/context.gguf" && break; done)
[ -n "$CONTEXT" ] && MODELS="$MODELS context"
pass=0 fail=0 i=0

run() {  # run "ENV=value -threads N" args...
    cfg=$1
    shift
    env "${cfg%% *}" "$FFMPEG" -nostdin -hide_banner -loglevel error ${cfg#* } "$@"
}

latents() {  # latents "ENV=value -threads N" STREAM OUT: nictool's decoded latents
    cfg=$1 n=${1##* }
    env "${cfg%% *}" OPENBLAS_NUM_THREADS=$n NIC_THREADS=$n "$NICTOOL" latents "$CONTEXT" "$2" "$3"
}

for img in "$@"; do
    for model in $MODELS; do
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
            if [ $model = context ] && [ -n "${NICTOOL:-}" ]; then
                if ! latents "$enc" "$s" "$WORK/la.bin" || ! latents "$dec" "$s" "$WORK/lb.bin" ||
                   ! cmp -s "$WORK/la.bin" "$WORK/lb.bin"; then
                    echo "FAIL $(basename "$img") $model q$q $dir: decoded latents differ"
                    fail=$((fail + 1))
                    continue
                fi
            fi
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
