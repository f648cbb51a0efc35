/*
 * Unit test of the nic model loader: a real model loads, and corrupted or
 * malformed copies of it are rejected without crashing
 *
 *
 * FFmpeg is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * FFmpeg is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with FFmpeg; if not, write to the Free Software
 * Foundation, Inc., 51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/intreadwrite.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/sha.h"
#include "libavcodec/nic_model.h"
#include "libavcodec/nic_sha256.h"

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = av_malloc(n);
    if (!buf || fread(buf, 1, n, f) != n) {
        av_free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

/** 1 if ff_nic_sha256 (SHA extensions where the CPU has them) agrees with av_sha. */
static int sha_agrees(const uint8_t *buf, size_t size)
{
    uint8_t a[32], b[32];
    struct AVSHA *sha = av_sha_alloc();
    if (!sha || ff_nic_sha256(buf, size, a) < 0) {
        av_free(sha);
        return 0;
    }
    av_sha_init(sha, 256);
    av_sha_update(sha, buf, size);
    av_sha_final(sha, b);
    av_free(sha);
    return !memcmp(a, b, 32);
}

/** 1 if the loader accepts the buffer, 0 if it rejects it. */
static int loads(const uint8_t *buf, size_t size)
{
    NicModel *m = NULL;
    /* an exact-size copy, so that any overread shows under ASan/valgrind */
    uint8_t *copy = av_malloc(size ? size : 1);
    int ret;
    memcpy(copy, buf, size);
    ret = ff_nic_model_parse(&m, copy, size, NULL);
    ff_nic_model_free(&m);
    av_free(copy);
    return ret >= 0;
}

int main(int argc, char **argv)
{
    size_t size;
    uint8_t *buf, *mut;
    int fails = 0, tests = 0;
    uint64_t x = 88172645463325252ULL;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    if (!(buf = read_file(argv[1], &size))) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    mut = av_malloc(size);

#define CHECK(cond, what) do { tests++; if (!(cond)) { fails++; printf("FAIL: %s\n", what); } } while (0)

    CHECK(loads(buf, size), "the unmodified model loads");

    /* the content hash: every tail length and padding case, and the whole file */
    for (size_t n = 0; n < 300 && n <= size; n++)
        CHECK(sha_agrees(buf + 1, FFMIN(n, size - 1)), "SHA-256 of a short buffer");
    CHECK(sha_agrees(buf, size), "SHA-256 of the whole file");

    /* every truncation point in the metadata, then spread over the data */
    for (size_t n = 0; n < FFMIN(size, 4096); n += 7)
        CHECK(!loads(buf, n), "truncated model rejected");
    for (int i = 1; i < 64; i++)
        CHECK(!loads(buf, size - size / 64 * i - 1), "truncated model rejected");

    /* a flipped bit anywhere in the data section breaks the content hash */
    for (int i = 0; i < 24; i++) {
        size_t pos;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        pos = size / 2 + x % (size / 2);
        memcpy(mut, buf, size);
        mut[pos] ^= 1 << (x >> 40) % 8;
        CHECK(!loads(mut, size), "bit flip in the tensor data rejected");
    }

    /* flips in the metadata and tensor table: rejected or harmless, never a crash */
    for (int i = 0; i < 300; i++) {
        size_t pos;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        pos = x % FFMIN(size, 8192);
        memcpy(mut, buf, size);
        mut[pos] ^= 1 << (x >> 40) % 8;
        loads(mut, size);
    }
    tests++;

    /* targeted corruptions of the header */
    memcpy(mut, buf, size);
    mut[0] = 'X';
    CHECK(!loads(mut, size), "bad magic rejected");
    memcpy(mut, buf, size);
    AV_WL32(mut + 4, 2);
    CHECK(!loads(mut, size), "GGUF version 2 rejected");
    memcpy(mut, buf, size);
    AV_WL64(mut + 8, 1ULL << 40);
    CHECK(!loads(mut, size), "huge tensor count rejected");
    memcpy(mut, buf, size);
    AV_WL64(mut + 16, 1ULL << 40);
    CHECK(!loads(mut, size), "huge key count rejected");
    CHECK(!loads(buf, 0), "empty file rejected");

    printf("%d passed, %d failed\n", tests - fails, fails);
    av_free(buf);
    av_free(mut);
    return !!fails;
}
