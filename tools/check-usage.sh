#!/bin/sh
# make check-usage: the README's "Using it" commands on real kinds of input.
#
#   tools/check-usage.sh BINDIR WORKDIR
#
# Generates small inputs with BINDIR/ffmpeg (an MP4 with H.264 video and AAC
# audio, MOV, MKV, JPEG, WebP, TIFF, BMP, 16-bit PNG, PNG with alpha, an
# animated GIF), runs the commands a user types on them, and checks what
# comes out: every command must succeed, and the decoded result must have
# the input's size and frame count.  NIC_MODEL_PATH selects the models.
set -eu
BIN=$(cd "$1" && pwd) W=$2
TOOLS=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W"
mkdir -p "$W"
cd "$W"
FF="$BIN/ffmpeg -nostdin -hide_banner -v error -y"
fails=0

# field FILE ENTRY: one value of the first video stream
field() {
    "$BIN/ffprobe" -v error -select_streams v:0 -count_frames \
        -show_entries "stream=$2" -of default=nw=1:nk=1 "$1"
}

# expect NAME FILE WIDTH HEIGHT FRAMES
expect() {
    got="$(field "$2" codec_name) $(field "$2" width)x$(field "$2" height) $(field "$2" nb_read_frames)"
    if [ "$got" = "$3" ]; then
        echo "  ok    $1: $got"
    else
        echo "  FAIL  $1: got '$got', expected '$3'"
        fails=$((fails + 1))
    fi
}

# run NAME COMMAND...: the command must succeed
run() {
    name=$1
    shift
    if ! "$@" 2> err.txt; then
        echo "  FAIL  $name: $*"
        sed 's/^/        /' err.txt | tail -5
        fails=$((fails + 1))
        return 1
    fi
}

echo "inputs:"
SRC="-f lavfi -i testsrc2=size=96x64:rate=10"
AUD="-f lavfi -i sine=frequency=440:sample_rate=48000"
run "mp4 (H.264 + AAC)" $FF $SRC $AUD -t 0.5 -c:v libx264 -pix_fmt yuv420p -c:a aac clip.mp4
run "mov (H.264 + AAC)" $FF $SRC $AUD -t 0.5 -c:v libx264 -c:a aac clip.mov
run "mkv (VP9 + Opus)"  $FF $SRC $AUD -t 0.5 -c:v libvpx-vp9 -c:a libopus clip.mkv
run "jpeg"        $FF $SRC -frames:v 1 photo.jpg
run "webp"        $FF $SRC -frames:v 1 -c:v libwebp photo.webp
run "tiff"        $FF $SRC -frames:v 1 photo.tiff
run "bmp"         $FF $SRC -frames:v 1 photo.bmp
run "16-bit png"  $FF $SRC -frames:v 1 -pix_fmt rgb48be photo16.png
run "png + alpha" $FF $SRC -frames:v 1 -vf format=rgba,colorchannelmixer=aa=0.5 alpha.png
run "gray png"    $FF $SRC -frames:v 1 -pix_fmt gray gray.png
run "animated gif" $FF $SRC -t 0.5 anim.gif

echo "stills to .nic and back:"
for f in photo.jpg photo.webp photo.tiff photo.bmp photo16.png alpha.png gray.png; do
    run "$f -> nic" $FF -i "$f" -c:v nic "$f.nic" && expect "$f.nic" "$f.nic" "nic 96x64 1"
    run "$f.nic -> png" $FF -i "$f.nic" "$f.back.png" && expect "$f.back.png" "$f.back.png" "png 96x64 1"
done
run "-q:v 2" $FF -i photo.jpg -c:v nic -q:v 2 small.nic && expect "-q:v 2" small.nic "nic 96x64 1"
run "-model hyperprior-msssim" $FF -i photo.jpg -c:v nic -model hyperprior-msssim -q:v 5 ms.nic &&
    expect "-model hyperprior-msssim" ms.nic "nic 96x64 1"
run "-model factorized" $FF -i photo.jpg -c:v nic -model factorized fa.nic &&
    expect "-model factorized" fa.nic "nic 96x64 1"
run "-model context-msssim" $FF -i photo.jpg -c:v nic -model context-msssim cm.nic &&
    expect "-model context-msssim" cm.nic "nic 96x64 1"
# the model index, bytes 10-11 of the header (docs/bitstream.md): the
# default model is context, or hyperprior with -effort
model_of() { od -An -tu1 -j 11 -N 1 "$1" | tr -d ' '; }
run "-effort 1" $FF -i photo.jpg -c:v nic -effort 1 e1.nic
for t in "photo.jpg.nic 4 context by default" "e1.nic 2 hyperprior with -effort 1" \
         "cm.nic 5 context-msssim"; do
    f=${t%% *} rest=${t#* }
    want=${rest%% *} what=${rest#* }
    if [ "$(model_of "$f")" = "$want" ]; then
        echo "  ok    model index: $what"
    else
        echo "  FAIL  model index: $f has model $(model_of "$f"), expected $want ($what)"
        fails=$((fails + 1))
    fi
done
# what alpha becomes: dropped, the colour channels kept
if [ "$(field alpha.png.back.png pix_fmt)" = rgb24 ]; then
    echo "  ok    alpha: decodes as rgb24 (alpha dropped)"
else
    echo "  FAIL  alpha: decoded as $(field alpha.png.back.png pix_fmt)"; fails=$((fails + 1))
fi
if [ "$(field gray.png.nic pix_fmt)" = gray ]; then
    echo "  ok    gray: coded as gray"
else
    echo "  FAIL  gray: coded as $(field gray.png.nic pix_fmt)"; fails=$((fails + 1))
fi

echo "clips, every frame intra (audio copied or re-encoded by the muxer's default):"
run "mp4 -> mkv" $FF -i clip.mp4 -c:v nic clip.mp4.mkv && expect "mp4 -> mkv" clip.mp4.mkv "nic 96x64 5"
run "mov -> mkv" $FF -i clip.mov -c:v nic clip.mov.mkv && expect "mov -> mkv" clip.mov.mkv "nic 96x64 5"
run "mkv -> nut" $FF -i clip.mkv -c:v nic -c:a copy clip.nut && expect "mkv -> nut" clip.nut "nic 96x64 5"
run "mp4 -> avi" $FF -i clip.mp4 -c:v nic clip.avi && expect "mp4 -> avi" clip.avi "nic 96x64 5"
run "gif -> mkv" $FF -i anim.gif -c:v nic anim.mkv && expect "gif -> mkv" anim.mkv "nic 96x64 5"
run "mkv -> mp4 (H.264)" $FF -i clip.mp4.mkv -c:v libx264 back.mp4 && expect "mkv -> mp4" back.mp4 "h264 96x64 5"
if [ "$("$BIN/ffprobe" -v error -select_streams a:0 -show_entries stream=codec_type -of csv=p=0 clip.mp4.mkv)" = audio ]; then
    echo "  ok    mp4 -> mkv keeps the audio"
else
    echo "  FAIL  mp4 -> mkv lost the audio"; fails=$((fails + 1))
fi

echo "concatenated streams through nic_pipe:"
cat photo.jpg.nic photo.bmp.nic gray.png.nic > cat.nic
run "nic_pipe" $FF -f nic_pipe -i cat.nic frame%d.png &&
    for i in 1 2 3; do expect "frame$i.png" "frame$i.png" "png 96x64 1"; done

echo "a stream alternating models loads each model once:"
cat photo.jpg.nic fa.nic photo.jpg.nic fa.nic ms.nic photo.jpg.nic > alt.nic
if run "alternating models" $FF -v debug -f nic_pipe -i alt.nic -f null - 2> /dev/null; then
    loads=$($FF -v debug -f nic_pipe -i alt.nic -f null - 2>&1 | grep -c "model: trying")
    if [ "$loads" = 3 ]; then
        echo "  ok    6 packets of 3 models: 3 model loads"
    else
        echo "  FAIL  6 packets of 3 models: $loads model loads"; fails=$((fails + 1))
    fi
fi

echo "another program on the installed shared libraries (pkg-config):"
LIB=$(cd "$BIN/../lib" && pwd)
if run "build lavc_read" sh -c "cc -o lavc_read '$TOOLS/lavc_read.c' \
        \$(PKG_CONFIG_PATH='$LIB/pkgconfig' pkg-config --cflags --libs libavformat libavcodec libavutil) \
        -Wl,-rpath,'$LIB'"; then
    got=$(./lavc_read photo.jpg.nic)
    if [ "$got" = "96x64 rgb24 nic" ]; then
        echo "  ok    lavc_read photo.jpg.nic: $got"
    else
        echo "  FAIL  lavc_read photo.jpg.nic: '$got'"; fails=$((fails + 1))
    fi
fi

echo "ffplay (SDL's dummy video and audio drivers; it must start, play and exit):"
for f in photo.jpg.nic clip.mp4.mkv; do
    run "ffplay $f" env SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy \
        timeout 60 "$BIN/ffplay" -v error -autoexit "$f" && echo "  ok    ffplay $f"
done

if [ "$fails" -ne 0 ]; then
    echo "check-usage: $fails failure(s)"
    exit 1
fi
echo "check-usage: all passed"
