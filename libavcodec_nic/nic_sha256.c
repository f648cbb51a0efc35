/*
 * nic: SHA-256 of a model file's data section
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

/**
 * @file
 * SHA-256 (FIPS 180-4) with the x86 SHA extensions, falling back to
 * libavutil's av_sha.
 *
 * The extensions keep the eight state words in two registers, ABEF and
 * CDGH.  sha256rnds2 runs two rounds, taking their two W[t] + K[t] words
 * from the low half of its message operand; four rounds are two calls,
 * the second on the high half.  The message schedule,
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], is computed four
 * words at a time: sha256msg1 gives W[t-16] + s0(W[t-15]), W[t-7] is the
 * four words that straddle the previous two groups (palignr), and
 * sha256msg2 adds s1(W[t-2]), which for the upper two words depends on
 * the lower two it has just computed.
 */

#include <string.h>

#include "config.h"
#include "libavutil/error.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/mem.h"
#include "libavutil/sha.h"

#include "nic_sha256.h"

#if ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#define NIC_SHA_X86 1
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t round_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static int cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return !!(b & (1U << 29));
}

__attribute__((target("sha,sse4.1")))
static void blocks_x86(uint32_t state[8], const uint8_t *data, size_t nb_blocks)
{
    /* big-endian words to lanes */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef, cdgh, t;

    t    = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);      /* C D A B */
    cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B); /* H G F E */
    abef = _mm_alignr_epi8(t, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);

    for (; nb_blocks; nb_blocks--, data += 64) {
        const __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i w[4];

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (int g = 0; g < 16; g++) {
            __m128i m;
            if (g < 4) {
                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), bswap);
            } else {
                __m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
            }
            m    = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)(round_k + 4 * g)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    t    = _mm_shuffle_epi32(abef, 0x1B);    /* F E B A */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);    /* D C H G */
    _mm_storeu_si128((__m128i *)state,       _mm_blend_epi16(t, cdgh, 0xF0)); /* D C B A */
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(cdgh, t, 8));    /* H G F E */
}

static void sha256_x86(const uint8_t *data, size_t size, uint8_t digest[32])
{
    uint32_t state[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    uint8_t tail[128] = { 0 };
    size_t full = size / 64, rest = size % 64;
    size_t tail_len = rest < 56 ? 64 : 128;

    blocks_x86(state, data, full);
    /* the last bytes, the 1 bit, zeros and the length in bits */
    memcpy(tail, data + 64 * full, rest);
    tail[rest] = 0x80;
    AV_WB64(tail + tail_len - 8, (uint64_t)size * 8);
    blocks_x86(state, tail, tail_len / 64);
    for (int i = 0; i < 8; i++)
        AV_WB32(digest + 4 * i, state[i]);
}
#endif

int ff_nic_sha256(const uint8_t *data, size_t size, uint8_t digest[32])
{
    struct AVSHA *sha;

#ifdef NIC_SHA_X86
    if (cpu_has_sha()) {
        sha256_x86(data, size, digest);
        return 0;
    }
#endif
    if (!(sha = av_sha_alloc()))
        return AVERROR(ENOMEM);
    av_sha_init(sha, 256);
    av_sha_update(sha, data, size);
    av_sha_final(sha, digest);
    av_free(sha);
    return 0;
}
