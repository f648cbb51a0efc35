/*
 * Unit tests of nic's mixture CDFs (nic_mixture.h)
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

/*
 * Component tables like the exporter's (Gaussians of the 64 scales, 8
 * mean offsets each), then, for random and extreme parameters with K = 1
 * to 4: every CDF starts at 0, ends at 65536 and has frequencies >= 1;
 * ff_nic_mixture_cdf() equals a direct evaluation of the formula of
 * docs/bitstream.md written out here; values (escapes included) decode
 * back to themselves through rANS; and the table check rejects broken
 * tables.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/mem.h"

#include "libavcodec/nic_entropy.h"
#include "libavcodec/nic_mixture.h"
#include "libavcodec/nic_rans.h"
#include "libavcodec/tests/nic_test_rng.h"

#define SCALES 64
#define VALUES 4000

static int failures;

#define CHECK(cond, ...) do {                                              \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

typedef struct Tables {
    NicMixTables t;
    uint32_t *cdf;
    int32_t *index;
    int32_t weights[NIC_MIX_LOGIT_SPAN];
    int64_t size;
} Tables;

static double phi(double x)
{
    return 0.5 * erfc(-x / sqrt(2));
}

static int make_tables(Tables *tb)
{
    int64_t pos = 0;

    tb->size  = 0;
    for (int i = 0; i < SCALES; i++) {
        const double s = exp(log(0.11) + i * (log(256) - log(0.11)) / (SCALES - 1));
        tb->size += NIC_MIX_FRACS * (2 * (int)ceil(6.1 * s) + 3);
    }
    tb->cdf   = av_malloc_array(tb->size, sizeof(*tb->cdf));
    tb->index = av_malloc_array(SCALES * NIC_MIX_FRACS * 3, sizeof(*tb->index));
    if (!tb->cdf || !tb->index)
        return -1;
    for (int i = 0; i < SCALES; i++) {
        const double s = exp(log(0.11) + i * (log(256) - log(0.11)) / (SCALES - 1));
        const int r = ceil(6.1 * s), lo = -r, n = 2 * r + 2;
        for (int f = 0; f < NIC_MIX_FRACS; f++) {
            const double base = phi((lo - 0.5 - f / 8.0) / s);
            int32_t *row = tb->index + 3 * (i * NIC_MIX_FRACS + f);
            row[0] = pos;
            row[1] = n;
            row[2] = lo;
            for (int t = 0; t <= n; t++)
                tb->cdf[pos + t] = lrint(65536 * (phi((lo + t - 0.5 - f / 8.0) / s) - base));
            pos += n + 1;
        }
    }
    for (int t = 0; t < NIC_MIX_LOGIT_SPAN; t++)
        tb->weights[t] = lrint(32768 * exp2(-t / 16.0));
    tb->t.cdf     = tb->cdf;
    tb->t.index   = tb->index;
    tb->t.rows    = SCALES * NIC_MIX_FRACS;
    tb->t.weights = tb->weights;
    return 0;
}

/** The formula of docs/bitstream.md, evaluated directly for every t. */
static int reference_cdf(const Tables *tb, int k, const int32_t *means, const int32_t *scales,
                         const int32_t *logits, uint32_t *cdf, int32_t *slo_out)
{
    int64_t w[NIC_MIX_MAX_K], wsum = 0, lo[NIC_MIX_MAX_K];
    int heavy = 0, slo = INT32_MAX, shi = INT32_MIN, nsym;
    const uint32_t *g[NIC_MIX_MAX_K];
    int n[NIC_MIX_MAX_K];

    for (int j = 1; j < k; j++)
        if (logits[j] > logits[heavy])
            heavy = j;
    for (int j = 0; j < k; j++) {
        const int t = logits[heavy] - logits[j];
        const int d = means[j] - means[heavy];
        const int q = (int)floor(d / 8.0), f = d - 8 * q;
        const int32_t *row = tb->index + 3 * (scales[j] * NIC_MIX_FRACS + f);
        w[j]  = t < NIC_MIX_LOGIT_SPAN ? tb->weights[t] : 0;
        g[j]  = tb->cdf + row[0];
        n[j]  = row[1];
        lo[j] = row[2] + q;
        wsum += w[j];
        if (w[j]) {
            slo = FFMIN(slo, lo[j]);
            shi = FFMAX(shi, lo[j] + n[j] - 1);
        }
    }
    nsym = shi - slo + 2;
    for (int t = 0; t < nsym; t++) {
        int64_t s = 0;
        for (int j = 0; j < k; j++) {
            int64_t idx = slo + t - lo[j];
            s += w[j] * g[j][idx < 0 ? 0 : idx > n[j] ? n[j] : idx];
        }
        cdf[t] = s * (65536 - nsym) / (wsum * 65536) + t;
    }
    cdf[nsym] = 65536;
    *slo_out = slo;
    return nsym;
}

static int rand_in(Rng *r, int lo, int hi)
{
    return lo + (int)(rng_u32(r) % (uint32_t)(hi - lo + 1));
}

/** Random parameters, one case in four at the extremes. */
static void random_params(Rng *r, int k, int32_t *means, int32_t *scales, int32_t *logits)
{
    const int mode = rng_u32(r) % 8;
    for (int j = 0; j < k; j++) {
        means[j]  = mode == 0 ? (rng_u32(r) & 1 ? NIC_MIX_MEAN_MAX : -NIC_MIX_MEAN_MAX) :
                    mode == 1 ? rand_in(r, -NIC_MIX_MEAN_MAX, NIC_MIX_MEAN_MAX) :
                                rand_in(r, -300, 300);
        scales[j] = mode == 2 ? (rng_u32(r) & 1 ? SCALES - 1 : 0) : rand_in(r, 0, SCALES - 1);
        logits[j] = mode == 3 ? (rng_u32(r) & 1 ? NIC_MIX_LOGIT_MAX : -NIC_MIX_LOGIT_MAX) :
                    mode == 4 ? 7 : rand_in(r, -60, 60);
    }
}

static void test_cdfs(const Tables *tb, Rng *r)
{
    static uint32_t ref[NIC_MIX_MAX_SYMS + 1];
    for (int it = 0; it < 3000; it++) {
        const int k = 1 + it % NIC_MIX_MAX_K;
        int32_t means[NIC_MIX_MAX_K], scales[NIC_MIX_MAX_K], logits[NIC_MIX_MAX_K], slo;
        NicMixture mx;
        int nsym, bad = 0;

        random_params(r, k, means, scales, logits);
        ff_nic_mixture_init(&mx, &tb->t, k, means, scales, logits);
        nsym = reference_cdf(tb, k, means, scales, logits, ref, &slo);
        CHECK(mx.nsym == nsym && mx.slo == slo, "K=%d: nsym %d/%d, slo %d/%d", k, mx.nsym,
              nsym, mx.slo, slo);
        CHECK(nsym >= 2 && nsym <= NIC_MIX_MAX_SYMS, "K=%d: %d symbols", k, nsym);
        if (mx.nsym != nsym)
            continue;
        CHECK(ref[0] == 0 && ref[nsym] == 65536, "K=%d: ends %u %u", k, ref[0], ref[nsym]);
        for (int t = 0; t <= nsym && !bad; t++) {
            bad |= ff_nic_mixture_cdf(&mx, t) != ref[t];
            bad |= t < nsym && ref[t + 1] <= ref[t];
        }
        CHECK(!bad, "K=%d: the CDF differs from the formula or has an empty symbol", k);
    }
}

/** Random values around each mixture (and far escapes) through rANS and back. */
static void test_roundtrip(const Tables *tb, Rng *r)
{
    static int32_t params[VALUES][3][NIC_MIX_MAX_K], values[VALUES];
    NicRansEncoder enc;
    NicRansDecoder dec;
    uint8_t *buf = NULL;
    size_t size;
    int ret;

    ff_nic_rans_enc_init(&enc);
    for (int i = 0; i < VALUES; i++) {
        const int k = 1 + i % NIC_MIX_MAX_K;
        NicMixture mx;
        random_params(r, k, params[i][0], params[i][1], params[i][2]);
        ff_nic_mixture_init(&mx, &tb->t, k, params[i][0], params[i][1], params[i][2]);
        switch (rng_u32(r) % 6) {
        case 0:  values[i] = mx.slo - 1 - rand_in(r, 0, 1 << 20);           break;
        case 1:  values[i] = mx.shi + 1 + rand_in(r, 0, 1 << 20);           break;
        case 2:  values[i] = rng_u32(r) & 1 ? NIC_VALUE_MAX : -NIC_VALUE_MAX; break;
        case 3:  values[i] = rng_u32(r) & 1 ? mx.slo : mx.shi;              break;
        default: values[i] = rand_in(r, mx.slo, mx.shi);                    break;
        }
        ret = ff_nic_mixture_encode(&enc, &mx, values[i]);
        CHECK(ret >= 0, "value %d: encode failed", i);
    }
    ret = ff_nic_rans_enc_finish(&enc, &buf, &size);
    CHECK(ret >= 0, "finish failed");
    if (ret < 0)
        return;
    ff_nic_rans_dec_init(&dec, buf, size);
    for (int i = 0; i < VALUES; i++) {
        const int k = 1 + i % NIC_MIX_MAX_K;
        NicMixture mx;
        int32_t v;
        ff_nic_mixture_init(&mx, &tb->t, k, params[i][0], params[i][1], params[i][2]);
        ret = ff_nic_mixture_decode(&dec, &mx, &v);
        CHECK(ret >= 0 && v == values[i], "value %d: %d decoded as %d", i, values[i], v);
        if (ret < 0)
            break;
    }
    CHECK(ff_nic_rans_dec_finish(&dec) >= 0, "the payload does not end cleanly");
    printf("mixture round trip: %d values, %zu bytes\n", VALUES, size);
    av_free(buf);
}

static void test_checks(Tables *tb)
{
    const int last = tb->index[3 * (tb->t.rows - 1)];
    const uint32_t saved = tb->cdf[last + 100];
    const int32_t lo0 = tb->index[2], lo1 = tb->index[5];

    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) == 0, "good tables rejected");
    /* the narrowest Gaussian has a bin of nearly 65536: a bound of ~0 bits */
    CHECK(tb->t.min_cost < 65536, "min_cost %u", tb->t.min_cost);
    tb->cdf[last + 100] = tb->cdf[last + 99] - 1;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) < 0, "decreasing table");
    tb->cdf[last + 100] = saved;
    tb->cdf[0] = 1;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) < 0, "G[0] != 0");
    tb->cdf[0] = 0;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size - 1, NULL) < 0, "table past the end");
    /* each lo in range, but with means 2 * 32767 apart (q from -8192 to
     * 8191) the values -8189 - 8192 .. 8192 + 3 + 8191 are 32768, with
     * the escape one symbol too many */
    tb->index[2] = 8192;
    tb->index[5] = -8189;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) < 0, "too wide");
    tb->index[5] = -8188;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) == 0, "widest tables rejected");
    tb->index[2] = lo0;
    tb->index[5] = lo1;
    tb->weights[0] = 0;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) < 0, "T[0] = 0");
    tb->weights[0] = 32768;
    tb->weights[9] = -1;
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) < 0, "negative weight");
    tb->weights[9] = lrint(32768 * exp2(-9 / 16.0));
    CHECK(ff_nic_mixture_tables_check(&tb->t, tb->size, NULL) == 0, "restored tables rejected");
}

int main(void)
{
    Tables tb;
    Rng r = { 0x243f6a8885a308d3ULL };

    if (make_tables(&tb) < 0)
        return 2;
    test_checks(&tb);
    test_cdfs(&tb, &r);
    test_roundtrip(&tb, &r);
    av_free(tb.cdf);
    av_free(tb.index);
    if (failures)
        fprintf(stderr, "nic_mixture: %d failures\n", failures);
    else
        printf("nic_mixture: all ok\n");
    return !!failures;
}
