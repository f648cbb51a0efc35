/*
 * nic: integer CDFs of Gaussian mixtures (the context model's prior)
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
 * Mixture CDFs; the formulas are at the top of nic_mixture.h.
 */

#include <stdint.h>

#include "libavutil/avassert.h"
#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/log.h"

#include "nic_entropy.h"
#include "nic_mixture.h"

#define MAX_TABLE  8192   ///< largest n of a component table
#define MAX_LO     8192   ///< largest |lo| of a component table
/* q_j = (m_j - c) >> 3 with |m_j - c| <= 2 * NIC_MIX_MEAN_MAX */
#define Q_MIN      (-((2 * NIC_MIX_MEAN_MAX + 7) >> 3))
#define Q_MAX      ((2 * NIC_MIX_MEAN_MAX) >> 3)

int ff_nic_mixture_tables_check(NicMixTables *t, int64_t cdf_size, void *logctx)
{
    int64_t lo_min = INT64_MAX, top_max = INT64_MIN;
    uint32_t fmax = 0;
    uint32_t two[3];

    for (int r = 0; r < t->rows; r++) {
        const int64_t start = t->index[3 * r], n = t->index[3 * r + 1], lo = t->index[3 * r + 2];
        const uint32_t *g;
        if (start < 0 || n < 1 || n > MAX_TABLE || start + n + 1 > cdf_size ||
            lo < -MAX_LO || lo > MAX_LO) {
            av_log(logctx, AV_LOG_ERROR, "model: mixture table %d out of range\n", r);
            return AVERROR_INVALIDDATA;
        }
        g = t->cdf + start;
        if (g[0] != 0 || g[n] > NIC_RANS_PROB_SCALE) {
            av_log(logctx, AV_LOG_ERROR, "model: mixture table %d is not a cumulative\n", r);
            return AVERROR_INVALIDDATA;
        }
        for (int i = 0; i < n; i++) {
            if (g[i + 1] < g[i]) {
                av_log(logctx, AV_LOG_ERROR, "model: mixture table %d decreases\n", r);
                return AVERROR_INVALIDDATA;
            }
            fmax = FFMAX(fmax, g[i + 1] - g[i]);
        }
        lo_min  = FFMIN(lo_min, lo);
        top_max = FFMAX(top_max, lo + n - 1);
    }
    /* the widest range [slo, shi] any means in range can give */
    if (top_max + Q_MAX - (lo_min + Q_MIN) + 2 > NIC_MIX_MAX_SYMS) {
        av_log(logctx, AV_LOG_ERROR, "model: mixture tables too wide\n");
        return AVERROR_INVALIDDATA;
    }
    if (t->weights[0] < 1 || t->weights[0] > NIC_MIX_WEIGHT_ONE) {
        av_log(logctx, AV_LOG_ERROR, "model: mixture weight 0 out of range\n");
        return AVERROR_INVALIDDATA;
    }
    for (int i = 1; i < NIC_MIX_LOGIT_SPAN; i++)
        if (t->weights[i] < 0 || t->weights[i] > NIC_MIX_WEIGHT_ONE) {
            av_log(logctx, AV_LOG_ERROR, "model: mixture weight %d out of range\n", i);
            return AVERROR_INVALIDDATA;
        }
    /*
     * A symbol's frequency is below (its share of S) * (2^16 - nsym) / S_end
     * + 2, and that share is a weighted mean of single bins: at most
     * fmax + 1 (and 65535, for nsym >= 2), whatever the weights.
     */
    two[0] = 0;
    two[1] = FFMIN(fmax + 1, NIC_RANS_PROB_SCALE - 1);
    two[2] = NIC_RANS_PROB_SCALE;
    t->min_cost = ff_nic_cdf_min_cost(two, 2);
    return 0;
}

void ff_nic_mixture_init(NicMixture *mx, const NicMixTables *t, int k,
                         const int32_t *means, const int32_t *scales, const int32_t *logits)
{
    int32_t lmax = logits[0], c = means[0];
    int64_t wsum = 0;
    int32_t slo = INT32_MAX, shi = INT32_MIN;

    av_assert1(k >= 1 && k <= NIC_MIX_MAX_K);
    /* the heaviest component, the first of equals */
    for (int j = 1; j < k; j++)
        if (logits[j] > lmax) {
            lmax = logits[j];
            c    = means[j];
        }
    mx->center = c;
    mx->k      = 0;
    for (int j = 0; j < k; j++) {
        const int t_j = lmax - logits[j];
        const int32_t d = means[j] - c;
        const int32_t *row;
        int32_t w, lo;
        if (t_j >= NIC_MIX_LOGIT_SPAN || !(w = t->weights[t_j]))
            continue;
        row = t->index + 3 * (scales[j] * NIC_MIX_FRACS + (d & (NIC_MIX_FRACS - 1)));
        lo  = row[2] + (d >> 3);
        mx->c[mx->k].g  = t->cdf + row[0];
        mx->c[mx->k].n  = row[1];
        mx->c[mx->k].lo = lo;
        mx->c[mx->k].w  = w;
        mx->k++;
        wsum += w;
        slo = FFMIN(slo, lo);
        shi = FFMAX(shi, lo + row[1] - 1);
    }
    /* the heaviest one weighs T[0] >= 1, so there is at least one */
    mx->slo   = slo;
    mx->shi   = shi;
    mx->nsym  = shi - slo + 2;
    mx->s_end = wsum << 16;
}

/** S(slo + t) */
static av_always_inline int64_t mass_below(const NicMixture *mx, int t)
{
    const int32_t s = mx->slo + t;
    int64_t acc = 0;
    for (int j = 0; j < mx->k; j++) {
        const int idx = av_clip(s - mx->c[j].lo, 0, mx->c[j].n);
        acc += (int64_t)mx->c[j].w * mx->c[j].g[idx];
    }
    return acc;
}

uint32_t ff_nic_mixture_cdf(const NicMixture *mx, int t)
{
    if (t >= mx->nsym)
        return NIC_RANS_PROB_SCALE;
    return mass_below(mx, t) * (NIC_RANS_PROB_SCALE - mx->nsym) / mx->s_end + t;
}

int ff_nic_mixture_encode(NicRansEncoder *e, const NicMixture *mx, int32_t v)
{
    const int esc = mx->nsym - 1;
    const int s = v >= mx->slo && v <= mx->shi ? v - mx->slo : esc;
    const uint32_t start = ff_nic_mixture_cdf(mx, s);
    const uint32_t freq  = ff_nic_mixture_cdf(mx, s + 1) - start;
    uint32_t e1;
    int ret;

    if (s != esc)
        return ff_nic_rans_enc_put(e, start, freq);
    if ((ret = ff_nic_escape_code(mx->slo, mx->shi, v, &e1)) < 0 ||
        (ret = ff_nic_rans_enc_reserve(e, 4)) < 0 ||
        (ret = ff_nic_rans_enc_put(e, start, freq)) < 0)
        return ret;
    ff_nic_escape_put(e, e1);
    return 0;
}

int ff_nic_mixture_decode(NicRansDecoder *d, const NicMixture *mx, int32_t *value)
{
    const int64_t scale = NIC_RANS_PROB_SCALE - mx->nsym;
    const unsigned slot = ff_nic_rans_dec_peek(d);
    int lo = 0, hi = mx->nsym;
    uint32_t start, end;
    int64_t v;

    *value = 0;
    if (d->error)
        return AVERROR_INVALIDDATA;
    /*
     * Bisection with cdf[lo] <= slot < cdf[hi]. cdf[t] <= slot is
     * S * scale / S_end <= slot - t, i.e. S * scale < (slot - t + 1) * S_end:
     * no division (both sides < 2^50).
     */
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        const int64_t room = (int64_t)slot - mid + 1;
        if (room > 0 && mass_below(mx, mid) * scale < room * mx->s_end)
            lo = mid;
        else
            hi = mid;
    }
    start = ff_nic_mixture_cdf(mx, lo);
    end   = ff_nic_mixture_cdf(mx, lo + 1);
    ff_nic_rans_dec_advance(d, start, end - start);
    if (lo != mx->nsym - 1)
        v = (int64_t)mx->slo + lo;
    else if (ff_nic_escape_get(d, mx->slo, mx->shi, &v) < 0)
        return AVERROR_INVALIDDATA;
    if (d->error)
        return AVERROR_INVALIDDATA;
    *value = v;
    return 0;
}
