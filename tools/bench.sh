#!/bin/sh
# make bench: speed of the nic codec on this machine.
#
#   tools/bench.sh NICTOOL SGEMM_PEAK MODEL_DIR OUT.json IMAGE...
#
# For every model and quality: median encode and decode seconds of the C
# codec over the images (2 threads, OpenBLAS single-threaded inside), the
# achieved GFLOP/s of its layers, and the PyTorch forward pass of the same
# weights timed in the same run on the first image; then OpenBLAS's sgemm
# peak on this machine; then the encode time of each encoder effort level
# (EFFORTS, default 1 2 3) of the hyperprior at EFFORT_QUALITY (4), one run
# per image.  A benchmark, not a test: run it on a quiet machine.
set -eu
NICTOOL=$1 PEAK=$2 MODELS=$3 OUT=$4
shift 4
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
QUALITIES=${QUALITIES:-"0 1 2 3 4 5 6 7"}
EFFORTS=${EFFORTS:-"1 2 3"}
EFFORT_QUALITY=${EFFORT_QUALITY:-4}
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
i=0
for img in "$@"; do
    $PY -c "from PIL import Image; import sys; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2])" \
        "$img" "$TMP/$i.ppm"
    i=$((i + 1))
done
first="$1"

{
printf '{"machine": "%s", "threads": %s, "images": %s,\n' "$(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)" "$THREADS" "$i"
printf ' "sgemm_peak": [%s, %s],\n' "$("$PEAK" 1)" "$("$PEAK" "$THREADS")"
printf ' "runs": [\n'
sep=""
for model in factorized hyperprior hyperprior-msssim; do
    [ -f "$MODELS/$model.gguf" ] || continue
    for q in $QUALITIES; do
        for f in "$TMP"/*.ppm; do
            NIC_THREADS=$THREADS "$NICTOOL" bench "$MODELS/$model.gguf" "$q" "$f" "$RUNS"
        done > "$TMP/c.jsonl"
        torch=$($PY "$(dirname "$0")/bench_torch.py" "$MODELS/$model.gguf" "$q" "$first" "$RUNS" "$THREADS")
        $PY - "$model" "$q" "$TMP/c.jsonl" "$torch" "$sep" <<'PY'
import json, statistics, sys
model, q, path, torch, sep = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
runs = [json.loads(l) for l in open(path)]
med = lambda k: statistics.median(r[k] for r in runs)
enc, dec = med("encode_s"), med("decode_s")
print(sep + json.dumps({"model": model, "quality": q, "encode_s": enc, "decode_s": dec,
      "encode_gflops": statistics.median(r["encode_gflop"] / r["encode_s"] for r in runs),
      "decode_gflops": statistics.median(r["decode_gflop"] / r["decode_s"] for r in runs),
      "torch_encode_s": torch["encode_s"], "torch_decode_s": torch["decode_s"]}))
PY
        sep=","
    done
done
printf ' ],\n "effort_runs": [\n'
sep=""
for e in $EFFORTS; do
    [ -f "$MODELS/hyperprior.gguf" ] || break
    for f in "$TMP"/*.ppm; do
        NIC_THREADS=$THREADS "$NICTOOL" bench "$MODELS/hyperprior.gguf" "$EFFORT_QUALITY" "$f" 1 "$e"
    done > "$TMP/e.jsonl"
    $PY - "$e" "$EFFORT_QUALITY" "$TMP/e.jsonl" "$sep" <<'PY'
import json, statistics, sys
e, q, path, sep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = [json.loads(l) for l in open(path)]
print(sep + json.dumps({"model": "hyperprior", "quality": q, "effort": e,
      "encode_s": statistics.median(r["encode_s"] for r in runs),
      "encode_gflops": statistics.median(r["encode_gflop"] / r["encode_s"] for r in runs)}))
PY
    sep=","
done
printf ' ]}\n'
} > "$OUT"

$PY - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p1, pn = d["sgemm_peak"]
print(f"{d['machine']}; {d['threads']} threads; {d['images']} images; medians")
print(f"OpenBLAS sgemm peak: {p1['square_2048']:.1f} GFLOP/s (1 thread), "
      f"{pn['square_2048']:.1f} GFLOP/s ({pn['threads']} threads)")
print(f"{'model':<18} {'q':>2} {'enc s':>7} {'dec s':>7} {'enc GF/s':>9} {'dec GF/s':>9} "
      f"{'% peak':>7} {'torch enc':>9} {'torch dec':>9}")
for r in d["runs"]:
    print(f"{r['model']:<18} {r['quality']:>2} {r['encode_s']:7.3f} {r['decode_s']:7.3f} "
          f"{r['encode_gflops']:9.1f} {r['decode_gflops']:9.1f} "
          f"{100 * r['decode_gflops'] / pn['square_2048']:6.0f}% "
          f"{r['torch_encode_s']:9.3f} {r['torch_decode_s']:9.3f}")
for r in d.get("effort_runs", []):
    print(f"{r['model']} q{r['quality']} effort {r['effort']}: encode {r['encode_s']:.2f} s "
          f"({r['encode_gflops']:.1f} GFLOP/s issued)")
PY
