#!/bin/sh
# Runs ON a lent GPU machine (tools/gpu/README.md): trains the N = 128 /
# M = 320 hyperprior of issue 24 on from the weights in build/gpu/in/
# (pack.py split of models/ckpt/m320/, or parts written by an earlier run),
# or from scratch without them, for MINUTES, then puts
# its weights (pack.py split) and its log in $OUT.
#
#   MINUTES=7 BATCH=32 CROP=128 DEVICE=cuda tools/gpu/train-m320.sh
set -eu
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
W=build/gpu/work
OUT=${OUT:-build/gpu/out}
mkdir -p "$W/ckpt" "$W/compact" "$OUT"
if [ -d build/gpu/in ]; then
	"$PY" tools/gpu/pack.py join build/gpu/in "$W/compact/hyperprior.pt"
fi
[ "${DEVICE:-cuda}" = cuda ] && nvidia-smi -L
"$PY" models/train.py --model hyperprior --n 128 --m 320 --qualities 10 --device "${DEVICE:-cuda}" \
	--data build/gpu/data --cache "$W/train-x2.npz" \
	--ckpt-dir "$W/ckpt" --compact-dir "$W/compact" --log-dir "$OUT" \
	--batch "${BATCH:-32}" --crop "${CROP:-128}" --minutes "${MINUTES:-7}" \
	--eval-every "${EVAL_EVERY:-2000}"
"$PY" tools/gpu/pack.py split "$W/ckpt/hyperprior.pt" "$OUT"
