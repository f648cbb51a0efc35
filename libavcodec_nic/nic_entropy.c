/*
 * nic entropy coding of integer values with CDF tables
 *
 * This file is part of FFmpeg.
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

#include <stdint.h>

#include "libavutil/avassert.h"
#include "libavutil/common.h"
#include "libavutil/error.h"

#include "nic_entropy.h"
#include "nic_rans.h"

int ff_nic_cdf_validate(const uint32_t *cdf, int nsym)
{
    if (!cdf || nsym < 2 || nsym > (int)NIC_RANS_PROB_SCALE)
        return AVERROR_INVALIDDATA;
    if (cdf[0] != 0 || cdf[nsym] != NIC_RANS_PROB_SCALE)
        return AVERROR_INVALIDDATA;
    for (int i = 0; i < nsym; i++)
        if (cdf[i] >= cdf[i + 1])
            return AVERROR_INVALIDDATA;
    return 0;
}

/** An upper bound of log2(f) * 65536, f >= 1: bit by bit, squaring the mantissa. */
static uint32_t log2_q16_up(uint32_t f)
{
    const int e = av_log2(f);
    uint64_t x = (uint64_t)f << (30 - e);   /* mantissa in [1, 2) as Q30 */
    uint32_t frac = 0;

    for (int i = 15; i >= 0; i--) {
        x = (x * x) >> 30;                   /* < 2^32: no overflow */
        if (x >= 1ULL << 31) {
            x >>= 1;
            frac |= 1U << i;
        }
    }
    /* truncated squares only lower the mantissa: +2 stays above the truth */
    return ((uint32_t)e << 16) + frac + 2;
}

uint32_t ff_nic_cdf_min_cost(const uint32_t *cdf, int nsym)
{
    uint32_t fmax = 0, l;
    for (int i = 0; i < nsym; i++)
        fmax = FFMAX(fmax, cdf[i + 1] - cdf[i]);
    l = log2_q16_up(fmax);
    return l >= 16 << 16 ? 0 : (16 << 16) - l;
}

int ff_nic_escape_code(int64_t lo, int64_t hi, int32_t value, uint32_t *e1)
{
    uint64_t e64;

    if (value < -NIC_VALUE_MAX || value > NIC_VALUE_MAX)
        return AVERROR(ERANGE);
    /* e + 1 with e = 2 * distance + 1 (below) or 2 * distance (above) */
    e64 = value < lo ? 2 * (uint64_t)(lo - 1 - value) + 1
                     : 2 * (uint64_t)(value - hi - 1);
    if (e64 + 1 >= 1ULL << (NIC_ESCAPE_MAX_K + 1))
        return AVERROR(ERANGE);
    *e1 = e64 + 1;
    return 0;
}

void ff_nic_escape_put(NicRansEncoder *e, uint32_t e1)
{
    const int k = av_log2(e1);

    ff_nic_rans_enc_put_bits(e, k, 5);
    if (k > 16) {
        ff_nic_rans_enc_put_bits(e, (e1 >> 16) & ((1U << (k - 16)) - 1), k - 16);
        ff_nic_rans_enc_put_bits(e, e1 & 0xffff, 16);
    } else if (k > 0) {
        ff_nic_rans_enc_put_bits(e, e1 & ((1U << k) - 1), k);
    }
}

int ff_nic_encode_value(NicRansEncoder *e, const NicCdf *c, int32_t value)
{
    const int esc = c->nsym - 1;
    const int64_t lo = c->offset;
    const int64_t hi = lo + esc - 1;
    uint32_t e1;
    int ret;

    av_assert1(c->nsym >= 2);

    if (value >= lo && value <= hi) {
        int s = value - lo;
        return ff_nic_rans_enc_put(e, c->cdf[s], c->cdf[s + 1] - c->cdf[s]);
    }
    if ((ret = ff_nic_escape_code(lo, hi, value, &e1)) < 0)
        return ret;
    /* escape + k + at most two mantissa fields */
    ret = ff_nic_rans_enc_reserve(e, 4);
    if (ret < 0)
        return ret;
    ret = ff_nic_rans_enc_put(e, c->cdf[esc], NIC_RANS_PROB_SCALE - c->cdf[esc]);
    if (ret < 0)
        return ret;
    ff_nic_escape_put(e, e1);
    return 0;
}

int ff_nic_escape_get(NicRansDecoder *d, int64_t lo, int64_t hi, int64_t *value)
{
    const int k = ff_nic_rans_dec_get_bits(d, 5);
    uint32_t e1;
    int64_t v;

    if (k > NIC_ESCAPE_MAX_K) {
        d->error = 1;
        return AVERROR_INVALIDDATA;
    }
    e1 = 1U << k;
    if (k > 16) {
        e1 |= ff_nic_rans_dec_get_bits(d, k - 16) << 16;
        e1 |= ff_nic_rans_dec_get_bits(d, 16);
    } else if (k > 0) {
        e1 |= ff_nic_rans_dec_get_bits(d, k);
    }
    e1 -= 1;
    v = e1 & 1 ? lo - 1 - (e1 >> 1) : hi + 1 + (e1 >> 1);
    if (v < -NIC_VALUE_MAX || v > NIC_VALUE_MAX) {
        d->error = 1;
        return AVERROR_INVALIDDATA;
    }
    *value = v;
    return 0;
}

int ff_nic_decode_value(NicRansDecoder *d, const NicCdf *c, int32_t *value)
{
    const uint32_t *cdf = c->cdf;
    const int esc = c->nsym - 1;
    unsigned slot;
    int s, len;
    int64_t v;

    *value = 0;
    if (d->error)
        return AVERROR_INVALIDDATA;

    /*
     * Binary search for the s with cdf[s] <= slot < cdf[s + 1]. cdf[0] = 0
     * and cdf[n] = 65536 > slot, so the answer is the last s in [0, n) with
     * cdf[s] <= slot. The loop count depends only on n and the select
     * compiles to a conditional move: no mispredicted branches.
     */
    slot = ff_nic_rans_dec_peek(d);
    s    = 0;
    len  = c->nsym;
    while (len > 1) {
        int half = len >> 1;
        s    = cdf[s + half] <= slot ? s + half : s;
        len -= half;
    }
    ff_nic_rans_dec_advance(d, cdf[s], cdf[s + 1] - cdf[s]);

    if (s != esc)
        v = (int64_t)c->offset + s;
    else if (ff_nic_escape_get(d, c->offset, (int64_t)c->offset + esc - 1, &v) < 0)
        return AVERROR_INVALIDDATA;
    if (d->error)
        return AVERROR_INVALIDDATA;
    *value = v;
    return 0;
}
