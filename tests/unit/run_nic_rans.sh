#!/bin/sh
# Standalone build and run of the nic rANS unit test, outside the FFmpeg tree.
# Needs gcc and libavutil-dev; valgrind and clang (for the fuzzer) are optional.
#
#   tests/unit/run_nic_rans.sh          # plain, ASan+UBSan, valgrind, bench
#   FUZZ_SECONDS=60 tests/unit/run_nic_rans.sh   # also run libFuzzer (clang)
set -e

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/tests/bin
INC=$BIN/include
mkdir -p "$BIN" "$INC"
# the sources include "libavcodec/nic_rans.h", as in the FFmpeg tree
ln -sfn "$ROOT/libavcodec_nic" "$INC/libavcodec"

CC=${CC:-gcc}
CFLAGS="-std=c11 -Wall -Wextra -I$INC"
SRCS="$ROOT/libavcodec_nic/nic_rans.c $ROOT/libavcodec_nic/nic_entropy.c"
TEST=$ROOT/libavcodec_nic/tests/nic_rans.c

echo "== build"
nice $CC $CFLAGS -O2 -g -o "$BIN/nic_rans" $TEST $SRCS -lavutil -lm
nice $CC $CFLAGS -O1 -g -fno-omit-frame-pointer \
    -fsanitize=address,undefined -fno-sanitize-recover=all \
    -o "$BIN/nic_rans_asan" $TEST $SRCS -lavutil -lm
nice $CC $CFLAGS -O3 -DNDEBUG -o "$BIN/nic_rans_bench" \
    "$ROOT/tests/unit/nic_rans_bench.c" $SRCS -lavutil -lm

echo "== plain"
"$BIN/nic_rans"
echo "== asan+ubsan"
"$BIN/nic_rans_asan"
if command -v valgrind >/dev/null; then
    echo "== valgrind"
    valgrind -q --error-exitcode=99 --leak-check=full "$BIN/nic_rans"
fi
echo "== bench"
"$BIN/nic_rans_bench"

if [ -n "$FUZZ_SECONDS" ] && command -v clang >/dev/null; then
    echo "== libFuzzer, $FUZZ_SECONDS s"
    nice clang $CFLAGS -O1 -g -DNIC_RANS_LIBFUZZER \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -o "$BIN/nic_rans_fuzz" $TEST $SRCS -lavutil -lm
    mkdir -p "$BIN/fuzz_corpus"
    "$BIN/nic_rans_fuzz" -max_total_time="$FUZZ_SECONDS" -max_len=4096 \
        -artifact_prefix="$BIN/" \
        "$BIN/fuzz_corpus"
fi
echo "== all passed"
