#!/bin/sh
# make check-hostile: hostile packets are rejected cleanly, and cheaply.
#
#   tools/check-hostile.sh BINDIR NICTOOL MODELDIR WORKDIR
#
# Forges packets with `nictool forge` (a valid header for a real model, a
# valid z payload where the model has one, junk where the y payload
# belongs) and feeds them to `ffmpeg -f nic_pipe -i X -f null -`.  Every one
# must be rejected with AVERROR_INVALIDDATA ("Invalid data found when
# processing input"), without a crash; the cheap cases must stay within
# MAX_RSS_KB of peak memory and MAX_WALL_S seconds, and the costly ones
# (16000x16000 hyperprior and context packets whose z decodes) are
# measured and reported.  With a context model installed, hostile context
# model files must be refused by the loader (tools/hostile-models.py).
set -eu
BIN=$(cd "$1" && pwd) MODELS=$(cd "$3" && pwd) W=$4
NICTOOL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
REGRESSIONS=$(cd "$(dirname "$0")/fuzz/regressions" && pwd)
MAX_RSS_KB=${MAX_RSS_KB:-65536}
MAX_WALL_S=${MAX_WALL_S:-0.2}
export NIC_MODEL_PATH=$MODELS
rm -rf "$W"
mkdir -p "$W"
cd "$W"
fails=0

# decode NAME FILE LIMIT [RSS_KB]: LIMIT is the wall-time limit in seconds,
# RSS_KB the peak memory limit (default MAX_RSS_KB); or LIMIT is "report"
# (measured only)
decode() {
    /usr/bin/time -f "%M %e" -o time.txt "$BIN/ffmpeg" -nostdin -hide_banner -v error \
        -f nic_pipe -i "$2" -f null - > out.txt 2>&1 || true
    rss=$(tail -n 1 time.txt | cut -d' ' -f1)
    wall=$(tail -n 1 time.txt | cut -d' ' -f2)
    why=$(grep -v "Invalid data found when processing input" out.txt | grep -m1 "nic" |
          sed 's/^\[[^]]*\] *//' || true)
    if ! grep -q "Invalid data found when processing input" out.txt; then
        echo "  FAIL  $1: not rejected as invalid data"
        sed 's/^/        /' out.txt | tail -5
        fails=$((fails + 1))
    elif grep -qi "sanitizer\|segmentation\|core dumped\|Aborted" out.txt; then
        echo "  FAIL  $1: crashed"
        fails=$((fails + 1))
    elif [ "$3" != report ] && { [ "$rss" -gt "${4:-$MAX_RSS_KB}" ] ||
            awk "BEGIN { exit !($wall > $3) }"; }; then
        echo "  FAIL  $1: $((rss / 1024)) MB peak, $wall s (limits $((${4:-$MAX_RSS_KB} / 1024)) MB, $3 s)"
        fails=$((fails + 1))
    else
        echo "  ok    $1: rejected ($why); $((rss / 1024)) MB peak, $wall s"
    fi
}

forge() {
    "$NICTOOL" forge "$MODELS/$1.gguf" "$2" "$3" "$4" "$5" "$6" > /dev/null
}

echo "hostile packets (ffmpeg -f nic_pipe -i X -f null -):"
forge factorized 4 16000 16000 4 fact-16k.nic
decode "factorized 16000x16000, 4 payload bytes ($(stat -c %s fact-16k.nic) bytes)" fact-16k.nic "$MAX_WALL_S"

forge factorized 4 15000 16000 4 fact-15k.nic
cat fact-16k.nic fact-15k.nic fact-16k.nic fact-15k.nic > fact-x4.nic
decode "four such packets, alternating widths" fact-x4.nic "$(awk "BEGIN { print 4 * $MAX_WALL_S }")"

forge hyperprior 4 16000 16000 64 hyper-16k-short.nic
decode "hyperprior 16000x16000, valid z, 64 junk y bytes" hyper-16k-short.nic report

forge hyperprior 4 16000 16000 65536 hyper-16k-junk.nic
decode "hyperprior 16000x16000, valid z, 64 KiB junk y" hyper-16k-junk.nic report
ls -l hyper-16k-junk.nic | awk '{ print "        (" $5 " bytes in all)" }'

forge hyperprior 4 16000 16000 2000000 hyper-16k-2m.nic
decode "hyperprior 16000x16000, valid z, 2 MB junk y" hyper-16k-2m.nic report

forge hyperprior 4 768 512 4096 hyper-junk.nic
# a plausible size: the model itself takes 42 MB
decode "hyperprior 768x512, valid z, junk y" hyper-junk.nic 0.5 131072

if [ -f "$MODELS/context.gguf" ]; then
    forge context 4 768 512 4096 ctx-junk.nic
    decode "context 768x512, valid z, junk y" ctx-junk.nic 1.0 131072
    forge context 4 16000 16000 64 ctx-16k-short.nic
    decode "context 16000x16000, valid z, 64 junk y bytes" ctx-16k-short.nic report
    # past the size bound: the hyper path and the first pass run on the
    # whole map before the payload runs out (no tiles to stop after)
    forge context 4 16000 16000 65536 ctx-16k-junk.nic
    decode "context 16000x16000, valid z, 64 KiB junk y" ctx-16k-junk.nic report
    echo "hostile context model files (nictool load):"
    /usr/bin/python3 "$(dirname "$0")/hostile-models.py" "$NICTOOL" "$MODELS/context.gguf" \
        "$W/models" || fails=$((fails + 1))
fi

echo "the parser resynchronises (cat ... | ffmpeg -f nic_pipe -i - ...):"
FF="$BIN/ffmpeg -nostdin -hide_banner -v error -y"
$FF -f lavfi -i testsrc2=size=96x64 -frames:v 1 -c:v nic good.nic
$FF -f lavfi -i testsrc=size=64x48 -frames:v 1 -c:v nic -model factorized good2.nic
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%c", (i * 151 + 7) % 256 }' > junk.bin
head -c $(($(stat -c %s good.nic) - 100)) good.nic > truncated.nic
printf 'NIC' > magic.bin
# resync NAME FILE: both good frames come out, with their own sizes (rgb24
# bytes in framecrc's fifth column: 96x64 and 64x48)
resync() {
    got=$($FF -f nic_pipe -i - -noautoscale -f framecrc - < "$2" 2> out.txt |
          awk -F', *' '!/^#/ { printf "%s ", $5 }')
    if [ "$got" = "18432 9216 " ]; then
        echo "  ok    $1: both good frames decoded"
    else
        echo "  FAIL  $1: got frames of '$got' bytes"
        fails=$((fails + 1))
    fi
}
cat good.nic junk.bin good2.nic > s1.bin
resync "good, 3000 junk bytes, good" s1.bin
cat truncated.nic good.nic good2.nic > s2.bin
resync "truncated, good, good" s2.bin
cat good.nic magic.bin good2.nic junk.bin > s3.bin
resync "good, a stray magic, good, junk" s3.bin

# A finding must not crash: the model fuzzer's are model files (nictool
# load must refuse or accept them), the others' streams (through nic_pipe).
# Exit statuses 129..159 are deaths by signal; ffmpeg's own error statuses
# are the low byte of an AVERROR (183 for AVERROR_INVALIDDATA).
echo "fuzzers' findings (tools/fuzz/regressions/):"
for f in "$REGRESSIONS"/*/*; do
    [ -f "$f" ] || continue
    rc=0
    case "${f#"$REGRESSIONS"/}" in
    model/*) "$NICTOOL" load "$f" 1 > /dev/null 2>&1 || rc=$? ;;
    *) "$BIN/ffmpeg" -nostdin -v quiet -f nic_pipe -i "$f" -f null - > /dev/null 2>&1 || rc=$? ;;
    esac
    if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
        echo "  FAIL  ${f#"$REGRESSIONS"/}: killed by signal $((rc - 128))"
        fails=$((fails + 1))
    else
        echo "  ok    ${f#"$REGRESSIONS"/}: exit status $rc"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "check-hostile: $fails failure(s)"
    exit 1
fi
echo "check-hostile: all passed"
