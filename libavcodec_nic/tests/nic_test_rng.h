/*
 * nic unit tests: a small deterministic random generator (xorshift64)
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

#ifndef AVCODEC_TESTS_NIC_TEST_RNG_H
#define AVCODEC_TESTS_NIC_TEST_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s;
} Rng;

static inline uint32_t rng_u32(Rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s >> 16;
}

/** Uniform in [-1, 1). */
static inline float rng_float(Rng *r)
{
    return (rng_u32(r) & 0xffffff) / (float)0x800000 - 1.0f;
}

#endif /* AVCODEC_TESTS_NIC_TEST_RNG_H */
