#!/bin/sh
# FATE tests of nic, run by tests/fate/nic.mak from the FFmpeg build tree:
#
#   nic-fate.sh TEST BUILD_DIR SRC_DIR OUT_DIR [ARGS...]
#
# Float synthesis may differ in the last bit between CPUs and OpenBLAS
# kernels, so nothing here compares decoded pixels by md5: round trips check
# PSNR floors, reference streams are compared with their reference decode
# within +-1, and error tests check exit codes.  Models come from
# NIC_MODEL_PATH when set (the top-level Makefile points it at models/).
set -u
TEST=$1 B=$2 S=$3 O=$4
shift 4
W=352 H=288
FFBIN="$B/ffmpeg"
FFPROBE="$B/ffprobe"
TINY="$B/tests/tiny_psnr"
mkdir -p "$O"
# FATE runs tests in parallel: one work directory per run
T=$(mktemp -d "$O/nic-$TEST.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "nic-$TEST: $*" >&2; exit 1; }
ff() { "$FFBIN" -nostdin -hide_banner -loglevel error -threads 2 "$@"; }

# the first frame of FATE's generated vsynth1 sequence, as rgb24 (and gray)
source_rgb() {
    ff -f rawvideo -s ${W}x$H -pix_fmt yuv420p -i "$B/tests/data/vsynth1.yuv" \
        -frames:v 1 -pix_fmt rgb24 -f rawvideo -y "$T/src.rgb" || fail "cannot make the source"
}

# psnr A B: PSNR of two raw files (tiny_psnr, 8-bit samples)
psnr() { "$TINY" "$1" "$2" | sed -n 's/.*PSNR: *\([0-9.]*\).*/\1/p'; }
maxdiff() { "$TINY" "$1" "$2" | sed -n 's/.*MAXDIFF: *\([0-9]*\).*/\1/p'; }

# at_least VALUE FLOOR: VALUE >= FLOOR (decimals)
at_least() { awk "BEGIN { exit !($1 >= $2) }"; }

roundtrip() {  # MODEL QUALITY MIN_PSNR [PIXFMT]
    model=$1 q=$2 floor=$3 fmt=${4:-rgb24}
    source_rgb
    if [ $fmt = gray ]; then
        ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -pix_fmt gray -f rawvideo \
            -y "$T/src.raw" || fail "gray conversion"
    else
        cp "$T/src.rgb" "$T/src.raw"
    fi
    ff -f rawvideo -s ${W}x$H -pix_fmt $fmt -i "$T/src.raw" -c:v nic -model $model -q:v $q \
        -y "$T/x.nic" || fail "encode failed"
    got=$("$FFPROBE" -v error -show_entries stream=codec_name,width,height,pix_fmt \
        -of csv=p=0 "$T/x.nic") || fail "ffprobe failed"
    [ "$got" = "nic,$W,$H,$fmt" ] || fail "ffprobe says '$got', expected nic,$W,$H,$fmt"
    ff -i "$T/x.nic" -f rawvideo -pix_fmt $fmt -y "$T/dec.raw" || fail "decode failed"
    p=$(psnr "$T/src.raw" "$T/dec.raw")
    bytes=$(wc -c < "$T/x.nic")
    echo "nic-$TEST: $model q$q $fmt: $bytes bytes, PSNR $p dB (floor $floor)"
    at_least "${p:-0}" "$floor" || fail "PSNR ${p:-?} below $floor"
}

effort() {  # MODEL QUALITY EFFORT MIN_PSNR
    # The optimized encode must decode above the floor and beat effort 0 on
    # rate and distortion together: its PSNR gain must exceed what its rate
    # change would buy at 4 dB per doubling (steeper than nic's curves).
    model=$1 q=$2 e=$3 floor=$4
    source_rgb
    for x in 0 $e; do
        ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -c:v nic -model $model -q:v $q \
            -effort $x -y "$T/e$x.nic" || fail "encode at effort $x failed"
        ff -i "$T/e$x.nic" -f rawvideo -pix_fmt rgb24 -y "$T/e$x.rgb" || fail "decode failed"
    done
    p0=$(psnr "$T/src.rgb" "$T/e0.rgb") p1=$(psnr "$T/src.rgb" "$T/e$e.rgb")
    b0=$(wc -c < "$T/e0.nic") b1=$(wc -c < "$T/e$e.nic")
    gain=$(awk "BEGIN { printf \"%.3f\", $p1 - $p0 - 4 * log($b1 / $b0) / log(2) }")
    echo "nic-$TEST: $model q$q: effort 0 $b0 bytes $p0 dB, effort $e $b1 bytes $p1 dB," \
         "gain $gain dB (floor $floor)"
    at_least "${p1:-0}" "$floor" || fail "PSNR ${p1:-?} below $floor"
    at_least "$gain" 0.01 || fail "effort $e does not beat effort 0 ($gain dB)"
}

size() {  # WIDTH HEIGHT MIN_PSNR
    w=$1 h=$2 floor=$3
    source_rgb
    # scale up first where the crop is larger than the source
    sw=$(( w > W ? w : W )) sh=$(( h > H ? h : H ))
    ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -vf scale=$sw:$sh,crop=$w:$h:0:0 \
        -pix_fmt rgb24 -f rawvideo -y "$T/crop.rgb" || fail "crop failed"
    ff -f rawvideo -s ${w}x$h -pix_fmt rgb24 -i "$T/crop.rgb" -c:v nic -y "$T/x.nic" ||
        fail "encode failed"
    ff -i "$T/x.nic" -f rawvideo -pix_fmt rgb24 -y "$T/dec.rgb" || fail "decode failed"
    [ $(wc -c < "$T/dec.rgb") -eq $((w * h * 3)) ] || fail "decoded size differs"
    p=$(psnr "$T/crop.rgb" "$T/dec.rgb")
    at_least "${p:-0}" "$floor" || fail "PSNR ${p:-?} below $floor"
}

refstream() {  # NAME: decode a checked-in stream, compare with its reference decode
    name=$1
    ff -i "$S/tests/nic/$name.nic" -f rawvideo -pix_fmt rgb24 -y "$T/dec.rgb" ||
        fail "decoding $name.nic failed"
    ff -i "$S/tests/nic/$name.png" -f rawvideo -pix_fmt rgb24 -y "$T/ref.rgb" ||
        fail "reading $name.png failed"
    d=$(maxdiff "$T/ref.rgb" "$T/dec.rgb")
    [ -n "$d" ] && [ "$d" -le 1 ] || fail "$name: max difference ${d:-?} > 1"
}

# run_status CMD...: exit status, 124 on a hang
run_status() { timeout 120 "$@" >/dev/null 2>"$T/err"; echo $?; }

# crashed STATUS: a hang (124) or death by a signal (128 + 1..31).  ffmpeg
# itself exits with the low byte of its error code (183 for
# AVERROR_INVALIDDATA), which lies outside that range.
crashed() { [ $1 -eq 124 ] || { [ $1 -gt 128 ] && [ $1 -lt 160 ]; }; }

corrupt() {  # truncations must fail cleanly; bit flips must never crash or hang
    source_rgb
    ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -c:v nic -q:v 1 -y "$T/x.nic" ||
        fail "encode failed"
    n=$(wc -c < "$T/x.nic")
    for cut in 1 10 23 24 30 $((n / 2)) $((n - 1)); do
        head -c $cut "$T/x.nic" > "$T/cut.nic"
        s=$(run_status "$FFBIN" -nostdin -xerror -f nic_pipe -i "$T/cut.nic" -f null -)
        [ $s -ne 0 ] && ! crashed $s || fail "truncation to $cut bytes: exit status $s"
    done
    i=0
    while [ $i -lt 40 ]; do
        pos=$(( (i * 7919 + 13) % n )) bit=$(( i % 8 ))
        cp "$T/x.nic" "$T/flip.nic"
        byte=$(od -An -tu1 -j $pos -N1 "$T/x.nic" | tr -d ' ')
        printf "$(printf '\\%03o' $(( byte ^ (1 << bit) )))" |
            dd of="$T/flip.nic" bs=1 seek=$pos conv=notrunc 2>/dev/null
        s=$(run_status "$FFBIN" -nostdin -f nic_pipe -i "$T/flip.nic" -f null -)
        ! crashed $s || fail "bit $bit of byte $pos flipped: exit status $s"
        i=$((i + 1))
    done
}

wrongmodel() {  # a stream made with other weights is refused with a message
    source_rgb
    ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -c:v nic -y "$T/x.nic" ||
        fail "encode failed"
    cp "$T/x.nic" "$T/other.nic"
    printf '\125\125\125\125' | dd of="$T/other.nic" bs=1 seek=12 conv=notrunc 2>/dev/null
    s=$(run_status "$FFBIN" -nostdin -xerror -i "$T/other.nic" -f null -)
    [ $s -ne 0 ] && ! crashed $s || fail "exit status $s"
    grep -q "other weights" "$T/err" || fail "no message about the model: $(cat "$T/err")"
}

pipe() {  # concatenated streams through the parser
    source_rgb
    ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -c:v nic -q:v 0 -y "$T/a.nic" &&
    ff -f rawvideo -s ${W}x$H -pix_fmt rgb24 -i "$T/src.rgb" -c:v nic -q:v 5 -y "$T/b.nic" ||
        fail "encode failed"
    frames=$(cat "$T/a.nic" "$T/b.nic" | ff -f nic_pipe -i - -f framecrc - | grep -c '^0,')
    [ "$frames" -eq 2 ] || fail "$frames frames decoded from two concatenated streams"
}

container() {  # FORMAT: three intra frames in a container, back out again
    fmt=$1
    ff -f rawvideo -s ${W}x$H -pix_fmt yuv420p -i "$B/tests/data/vsynth1.yuv" -frames:v 3 \
        -c:v nic -q:v 0 -y "$T/clip.$fmt" || fail "encode to $fmt failed"
    got=$("$FFPROBE" -v error -show_entries stream=codec_name -of csv=p=0 "$T/clip.$fmt")
    [ "$got" = nic ] || fail "ffprobe says '$got'"
    frames=$(ff -i "$T/clip.$fmt" -f framecrc - | grep -c '^0,')
    [ "$frames" -eq 3 ] || fail "$frames frames decoded from $fmt"
}

case $TEST in
roundtrip|effort|size|refstream|corrupt|wrongmodel|pipe|container) $TEST "$@" ;;
*) fail "unknown test" ;;
esac
