/*
 * nic rANS entropy coder
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

/**
 * @file
 * nic rANS coder; see the comment at the top of nic_rans.h.
 */

#include <stdint.h>
#include <string.h>

#include "libavutil/avassert.h"
#include "libavutil/error.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/mem.h"

#include "nic_rans.h"

void ff_nic_rans_enc_init(NicRansEncoder *e)
{
    e->syms       = NULL;
    e->nb_syms    = 0;
    e->alloc_syms = 0;
}

int ff_nic_rans_enc_reserve(NicRansEncoder *e, size_t n)
{
    size_t need, alloc;
    uint32_t *syms;

    if (n <= e->alloc_syms - e->nb_syms)
        return 0;
    if (n > SIZE_MAX / sizeof(*e->syms) - e->nb_syms)
        return AVERROR(ENOMEM);
    need  = e->nb_syms + n;
    alloc = e->alloc_syms + e->alloc_syms / 2;
    if (alloc < need)
        alloc = need;
    if (alloc < 1024)
        alloc = 1024;

    syms = av_realloc_array(e->syms, alloc, sizeof(*syms));
    if (!syms && alloc > need) {
        alloc = need;
        syms  = av_realloc_array(e->syms, alloc, sizeof(*syms));
    }
    if (!syms)
        return AVERROR(ENOMEM);
    e->syms       = syms;
    e->alloc_syms = alloc;
    return 0;
}

int ff_nic_rans_enc_put(NicRansEncoder *e, unsigned start, unsigned freq)
{
    if (freq < 1 || freq > NIC_RANS_PROB_SCALE ||
        start > NIC_RANS_PROB_SCALE - freq)
        return AVERROR(EINVAL);
    if (e->nb_syms == e->alloc_syms) {
        int ret = ff_nic_rans_enc_reserve(e, 1);
        if (ret < 0)
            return ret;
    }
    e->syms[e->nb_syms++] = (uint32_t)start << 16 | (freq - 1);
    return 0;
}

int ff_nic_rans_enc_put_bits(NicRansEncoder *e, unsigned value, int nbits)
{
    int shift;

    if (nbits < 1 || nbits > NIC_RANS_PROB_BITS || value >> nbits)
        return AVERROR(EINVAL);
    shift = NIC_RANS_PROB_BITS - nbits;
    return ff_nic_rans_enc_put(e, value << shift, 1U << shift);
}

int ff_nic_rans_enc_finish(NicRansEncoder *e, uint8_t **out, size_t *out_size)
{
    const uint32_t *syms = e->syms;
    size_t n = e->nb_syms, max_size, size;
    uint8_t *buf, *p;
    uint32_t x = NIC_RANS_L;

    *out      = NULL;
    *out_size = 0;

    /* at most 2 bytes per symbol (freq = 1) plus the 4-byte state */
    if (n > (SIZE_MAX - 4) / 2)
        return AVERROR(ENOMEM);
    max_size = 4 + 2 * n;
    buf = av_malloc(max_size);
    if (!buf)
        return AVERROR(ENOMEM);
    p = buf + max_size;

    while (n--) {
        uint32_t start = syms[n] >> 16;
        uint32_t freq  = (syms[n] & 0xffff) + 1;
        /* freq << 15 is at most 2^31: no overflow */
        uint32_t x_max = freq << (31 - NIC_RANS_PROB_BITS);

        while (x >= x_max) {
            *--p = x & 0xff;
            x  >>= 8;
        }
        x = ((x / freq) << NIC_RANS_PROB_BITS) + (x % freq) + start;
    }
    av_assert1(x >= NIC_RANS_L && x < NIC_RANS_L << 8);
    p -= 4;
    av_assert0(p >= buf);
    AV_WB32(p, x);

    /* the symbols are no longer needed: release them before shrinking */
    ff_nic_rans_enc_free(e);

    size = buf + max_size - p;
    if (p != buf) {
        uint8_t *shrunk;
        memmove(buf, p, size);
        shrunk = av_realloc(buf, size);
        if (shrunk)
            buf = shrunk;
    }

    *out      = buf;
    *out_size = size;
    return 0;
}

void ff_nic_rans_enc_free(NicRansEncoder *e)
{
    av_freep(&e->syms);
    e->nb_syms    = 0;
    e->alloc_syms = 0;
}

int ff_nic_rans_dec_init(NicRansDecoder *d, const uint8_t *buf, size_t size)
{
    uint32_t x;

    d->ptr   = buf;
    d->end   = buf;
    d->state = NIC_RANS_L;
    d->error = 1;
    if (!buf || size < 4)
        return AVERROR_INVALIDDATA;
    x = AV_RB32(buf);
    if (x < NIC_RANS_L || x >= NIC_RANS_L << 8)
        return AVERROR_INVALIDDATA;

    d->ptr   = buf + 4;
    d->end   = buf + size;
    d->state = x;
    d->error = 0;
    return 0;
}

int ff_nic_rans_dec_finish(const NicRansDecoder *d)
{
    if (d->error || d->state != NIC_RANS_L || d->ptr != d->end)
        return AVERROR_INVALIDDATA;
    return 0;
}
