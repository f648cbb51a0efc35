#!/bin/sh
# Cross-kernel determinism of nic streams.
#
#   tools/bitexact.sh FFMPEG TINY_PSNR WORKDIR IMAGE...
#
# For every image and every installed model (one quality per image, cycling
# through all of them), encode with one configuration and decode with
# another: OPENBLAS_CORETYPE=Haswell with 2 threads against Prescott with 1
# thread and nic's AVX2 kernels masked (-cpuflags -avx2), both ways round.
# Every decode must succeed (the entropy decoder chose the same CDFs as the
# encoder) and match the encoding side's own reconstruction within +-1 per
# sample.
#
# The context models' y_hat is exact integers: with NICTOOL set (and the
# models' files in NIC_MODEL_PATH), the latents `nictool latents` decodes
# from each stream under both configurations (OpenBLAS kernel and threads,
# the codec's threads, AVX2 or not) must be identical, byte for byte.
set -eu
FFMPEG=$1 TINY_PSNR=$2 WORK=$3
shift 3
mkdir -p "$WORK"
# configuration: OpenBLAS kernel, threads, nic's AVX2 kernels masked (1) or not
A="Haswell 2 0"
B="Prescott 1 1"
MODELS="factorized hyperprior hyperprior-msssim"
CTXDIR=$(echo "${NIC_MODEL_PATH:-}" | tr : '\n' | while read -r d; do
    [ -f "$d/context.gguf" ] && echo "$d" && break; done)
for m in context context-msssim; do
    [ -n "$CTXDIR" ] && [ -f "$CTXDIR/$m.gguf" ] && MODELS="$MODELS $m"
done
pass=0 fail=0 i=0

run() {  # run "CORETYPE THREADS NOAVX2" ffmpeg-args...
    set -- $1 "$@"
    core=$1 threads=$2 noavx2=$3
    shift 4
    if [ $noavx2 = 1 ]; then set -- -cpuflags -avx2 "$@"; fi
    OPENBLAS_CORETYPE=$core "$FFMPEG" -nostdin -hide_banner -loglevel error -threads $threads "$@"
}

latents() {  # latents "CORETYPE THREADS NOAVX2" MODEL STREAM OUT: nictool's decoded latents
    set -- $1 "$2" "$3" "$4"
    flags=
    [ $3 = 1 ] && flags=-avx2
    OPENBLAS_CORETYPE=$1 OPENBLAS_NUM_THREADS=$2 NIC_THREADS=$2 NIC_CPUFLAGS=$flags \
        "$NICTOOL" latents "$CTXDIR/$4.gguf" "$5" "$6"
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
            if [ "${model#context}" != "$model" ] && [ -n "${NICTOOL:-}" ]; then
                if ! latents "$enc" $model "$s" "$WORK/la.bin" ||
                   ! latents "$dec" $model "$s" "$WORK/lb.bin" ||
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
