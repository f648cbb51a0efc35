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
 * The CDF of one latent under a mixture of K Gaussians, from the integer
 * parameters the context networks give it (docs/bitstream.md, "Mixture
 * CDF"); models/nic/mixcdf.py is the reference.
 *
 * Component j has a mean m_j (1/8 units), a scale index s_j and a logit
 * l_j. Its weight is w_j = T[max_l - l_j] (0 from t = 256 on); the center
 * c is the mean of the heaviest component (the first of equals), and the
 * coded value is relative to c. With d_j = m_j - c = 8 q_j + f_j
 * (0 <= f_j < 8), component j's cumulative mass below value s is
 * G_j(s) = G[clamp(s - lo - q_j, 0, n)] from the component table of
 * (s_j, f_j). Over the values [slo, shi] that cover the live components,
 * with S(s) = sum_j w_j G_j(s), S_end = 2^16 sum_j w_j, nsym = shi - slo + 2:
 *
 *     cdf[t] = S(slo + t) * (2^16 - nsym) / S_end + t     (t < nsym)
 *     cdf[nsym] = 2^16
 *
 * Symbol t < nsym - 1 is the value slo + t, symbol nsym - 1 the escape
 * (then Exp-Golomb, as for the tables of nic_entropy.h). Every product
 * fits in int64: S < 2^33, nsym <= 32768 for tables that pass
 * ff_nic_mixture_tables_check().
 */

#ifndef AVCODEC_NIC_MIXTURE_H
#define AVCODEC_NIC_MIXTURE_H

#include <stdint.h>

#include "nic_rans.h"

#define NIC_MIX_MAX_K       4     ///< most components of a mixture
#define NIC_MIX_FRACS       8     ///< mean offsets f per scale (1/8 units)
#define NIC_MIX_LOGIT_SPAN  256   ///< entries of the weight table T
#define NIC_MIX_WEIGHT_ONE  (1 << 15)
#define NIC_MIX_MEAN_MAX    32767 ///< |mean| (1/8 units)
#define NIC_MIX_LOGIT_MAX   1023
#define NIC_MIX_MAX_SYMS    32768

/** The component tables and weights of a model file (docs/model-format.md). */
typedef struct NicMixTables {
    const uint32_t *cdf;      ///< every G, concatenated
    const int32_t *index;     ///< [rows][3]: start in cdf, n, lo
    int rows;                 ///< scale_levels * NIC_MIX_FRACS; row s * 8 + f
    const int32_t *weights;   ///< T, NIC_MIX_LOGIT_SPAN entries
    uint32_t min_cost;        ///< lower bound of any value's cost, 1/65536 bit
} NicMixTables;

/** One element's mixture, ready to code. */
typedef struct NicMixture {
    int k;                    ///< live components (weight > 0)
    int32_t center;           ///< c, 1/8 units
    int32_t slo, shi, nsym;
    int64_t s_end;            ///< 2^16 * sum of the weights
    struct {
        const uint32_t *g;    ///< G[0 .. n]
        int32_t lo;           ///< value of the component's bin 0: table lo + q_j
        int32_t n;
        int32_t w;
    } c[NIC_MIX_MAX_K];
} NicMixture;

/**
 * Check tables read from a model file: rows of 1 <= n <= 8192 entries
 * inside cdf, G[0] = 0, G non-decreasing, G[n] <= 65536, |lo| <= 8192, any
 * mixture of them has at most NIC_MIX_MAX_SYMS symbols, T[0] >= 1 and
 * 0 <= T[t] <= 2^15. Sets t->min_cost.
 * @param cdf_size elements of t->cdf
 * @return 0 or AVERROR_INVALIDDATA
 */
int ff_nic_mixture_tables_check(NicMixTables *t, int64_t cdf_size, void *logctx);

/**
 * Set up the mixture of k components (1 <= k <= NIC_MIX_MAX_K) with the
 * given means (|m| <= NIC_MIX_MEAN_MAX), scale indices (< t->rows / 8)
 * and logits (|l| <= NIC_MIX_LOGIT_MAX).
 */
void ff_nic_mixture_init(NicMixture *mx, const NicMixTables *t, int k,
                         const int32_t *means, const int32_t *scales, const int32_t *logits);

/** cdf[t] for 0 <= t <= nsym. */
uint32_t ff_nic_mixture_cdf(const NicMixture *mx, int t);

/**
 * Append the value v (relative to the center). Either all of it or
 * nothing is appended.
 * @return 0, AVERROR(ENOMEM) or AVERROR(ERANGE) (as ff_nic_encode_value())
 */
int ff_nic_mixture_encode(NicRansEncoder *e, const NicMixture *mx, int32_t v);

/**
 * Decode a value (relative to the center); errors as ff_nic_decode_value().
 */
int ff_nic_mixture_decode(NicRansDecoder *d, const NicMixture *mx, int32_t *v);

#endif /* AVCODEC_NIC_MIXTURE_H */
