/*
 * Unit test of the nic rANS coder and value coding
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
 * Build with -DNIC_RANS_LIBFUZZER (and -fsanitize=fuzzer) to get a
 * libFuzzer entry point instead of main().
 */

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/mem.h"

#include "libavcodec/nic_entropy.h"
#include "libavcodec/nic_rans.h"

#define MAX_NSYM 4096

typedef struct Rng {
    uint64_t s;
} Rng;

/* xorshift64*, fixed seeds: every run tests the same streams */
static uint32_t rng_u32(Rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (r->s * 0x2545F4914F6CDD1DULL) >> 32;
}

/* uniform in [0, n), n >= 1 */
static uint32_t rng_below(Rng *r, uint32_t n)
{
    return ((uint64_t)rng_u32(r) * n) >> 32;
}

typedef struct TestCtx {
    int failed;
    int checks;
} TestCtx;

#define CHECK(t, cond, ...) do {                                   \
        (t)->checks++;                                             \
        if (!(cond)) {                                             \
            (t)->failed++;                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                          \
            fprintf(stderr, "\n");                                 \
        }                                                          \
    } while (0)

/* Turn positive weights into a CDF with every frequency >= 1. */
static void make_cdf(uint32_t *cdf, const double *w, int n)
{
    double sum = 0, acc = 0;
    int i;

    for (i = 0; i < n; i++)
        sum += w[i];
    cdf[0] = 0;
    for (i = 0; i < n; i++) {
        uint32_t v;
        acc += sum > 0 ? w[i] : 1;
        v = (uint32_t)(acc / (sum > 0 ? sum : n) * (NIC_RANS_PROB_SCALE - n)) + i + 1;
        cdf[i + 1] = v;
    }
    cdf[n] = NIC_RANS_PROB_SCALE;
}

static void make_random_cdf(Rng *r, uint32_t *cdf, int n)
{
    double w[MAX_NSYM];
    int mode = rng_below(r, 3);

    for (int i = 0; i < n; i++) {
        if (mode == 0)
            w[i] = 1;
        else if (mode == 1)
            w[i] = 1 + rng_below(r, 1000);
        else /* very skewed: most symbols get frequency 1 */
            w[i] = rng_below(r, 8) ? 0 : 1 + rng_below(r, 100000);
    }
    make_cdf(cdf, w, n);
}

/* discretized Gaussian over offset .. offset + n - 2, small escape mass */
static void make_gauss_cdf(uint32_t *cdf, int n, double sigma)
{
    double w[MAX_NSYM];
    double mid = (n - 2) / 2.0;

    for (int i = 0; i < n - 1; i++)
        w[i] = exp(-(i - mid) * (i - mid) / (2 * sigma * sigma));
    w[n - 1] = 1e-4;
    make_cdf(cdf, w, n);
}

/* draw a symbol from a cdf */
static int sample_cdf(Rng *r, const uint32_t *cdf, int n)
{
    uint32_t u = rng_below(r, NIC_RANS_PROB_SCALE);
    int s = 0;

    while (s < n - 1 && cdf[s + 1] <= u)
        s++;
    return s;
}

static int encode_pairs(const uint32_t *start, const uint32_t *freq, int n,
                        uint8_t **buf, size_t *size)
{
    NicRansEncoder e;
    int ret = 0;

    ff_nic_rans_enc_init(&e);
    for (int i = 0; i < n && ret >= 0; i++)
        ret = ff_nic_rans_enc_put(&e, start[i], freq[i]);
    if (ret >= 0)
        ret = ff_nic_rans_enc_finish(&e, buf, size);
    ff_nic_rans_enc_free(&e);
    return ret;
}

/*
 * Reference encoder written straight from docs/bitstream.md, "Entropy
 * coding", in 64-bit arithmetic: the bytes must match the real encoder's.
 */
static size_t ref_encode(const uint32_t *start, const uint32_t *freq, int n,
                         uint8_t *out)
{
    uint8_t *tmp = av_malloc(2 * (size_t)n + 1);
    uint64_t x = 1 << 23;
    size_t nb = 0;

    for (int i = n - 1; i >= 0; i--) {
        while (x >= (uint64_t)freq[i] << 15) {
            tmp[nb++] = x % 256;
            x /= 256;
        }
        x = x / freq[i] * 65536 + x % freq[i] + start[i];
    }
    AV_WB32(out, x);
    for (size_t i = 0; i < nb; i++)
        out[4 + i] = tmp[nb - 1 - i];
    av_free(tmp);
    return 4 + nb;
}

/* (start, freq) pairs of a value per "Escape", also from the doc */
static int ref_value_pairs(const NicCdf *c, int32_t v, uint32_t *start,
                           uint32_t *freq)
{
    int64_t lo = c->offset, hi = lo + c->nsym - 2;
    int n = 0, k = 0;
    uint64_t e1;

    if (v >= lo && v <= hi) {
        start[0] = c->cdf[v - lo];
        freq[0]  = c->cdf[v - lo + 1] - c->cdf[v - lo];
        return 1;
    }
    e1 = (v < lo ? 2 * (uint64_t)(lo - 1 - v) + 1 : 2 * (uint64_t)(v - hi - 1)) + 1;
    while (e1 >> (k + 1))
        k++;
    start[n] = c->cdf[c->nsym - 1];
    freq[n++] = 65536 - c->cdf[c->nsym - 1];
#define RAW(u, b) do { start[n] = (uint32_t)(u) << (16 - (b));       \
                       freq[n++] = 1U << (16 - (b)); } while (0)
    RAW(k, 5);
    if (k > 16) {
        RAW((e1 >> 16) & ((1U << (k - 16)) - 1), k - 16);
        RAW(e1 & 0xffff, 16);
    } else if (k > 0) {
        RAW(e1 & ((1U << k) - 1), k);
    }
#undef RAW
    return n;
}

static void test_reference(TestCtx *t, Rng *r)
{
    enum { N = 5000 };
    static uint32_t start[4 * N], freq[4 * N], cdf[MAX_NSYM + 1];
    static uint8_t ref[4 + 8 * N];
    NicRansEncoder e;
    uint8_t *buf;
    size_t size, ref_size;

    for (int iter = 0; iter < 20; iter++) {
        int n = rng_below(r, N) + 1;
        for (int i = 0; i < n; i++) {
            freq[i]  = rng_below(r, 3) ? rng_below(r, 65536) + 1 :
                                         1U << rng_below(r, 17);
            start[i] = rng_below(r, 65536 - freq[i] + 1);
        }
        ref_size = ref_encode(start, freq, n, ref);
        CHECK(t, encode_pairs(start, freq, n, &buf, &size) == 0, "encode");
        CHECK(t, size == ref_size && !memcmp(buf, ref, size),
              "pairs differ from the reference encoder, iter %d", iter);
        av_free(buf);
    }

    /* values, escapes included, against the doc's escape layout */
    for (int iter = 0; iter < 20; iter++) {
        int nsym = 2 + rng_below(r, 100), n = 0, ok = 1;
        NicCdf c = { cdf, nsym, (int)rng_below(r, 201) - 100 };

        make_random_cdf(r, cdf, nsym);
        ff_nic_rans_enc_init(&e);
        for (int i = 0; i < N; i++) {
            int32_t v = c.offset - 5 + (int)rng_below(r, nsym + 10);
            if (rng_below(r, 4) == 0)
                v = (int32_t)(rng_u32(r) >> (4 + rng_below(r, 28))) *   /* < 2^28 */
                    (rng_below(r, 2) ? 1 : -1);
            n += ref_value_pairs(&c, v, start + n, freq + n);
            ok &= ff_nic_encode_value(&e, &c, v) == 0;
        }
        CHECK(t, ok, "encode values");
        CHECK(t, ff_nic_rans_enc_finish(&e, &buf, &size) == 0, "finish");
        ref_size = ref_encode(start, freq, n, ref);
        CHECK(t, size == ref_size && !memcmp(buf, ref, size),
              "values differ from the reference layout, iter %d", iter);
        av_free(buf);
        ff_nic_rans_enc_free(&e);
    }

    /* the worked example of docs/bitstream.md, "Escape" */
    {
        static const uint32_t ex_cdf[7] = { 0, 100, 20000, 45000, 65000, 65400, 65536 };
        static const uint32_t ex_start[6] = { 65400, 2 << 11, 0,
                                              65400, 2 << 11, 1 << 14 };
        static const uint32_t ex_freq[6]  = { 136, 1 << 11, 1 << 14,
                                              136, 1 << 11, 1 << 14 };
        NicCdf c = { ex_cdf, 6, -2 };

        ff_nic_rans_enc_init(&e);
        ff_nic_encode_value(&e, &c, -4);
        ff_nic_encode_value(&e, &c, 5);
        ff_nic_rans_enc_finish(&e, &buf, &size);
        ref_size = ref_encode(ex_start, ex_freq, 6, ref);
        CHECK(t, size == ref_size && !memcmp(buf, ref, size), "doc example");
        av_free(buf);
    }
}

/* raw (start, freq) pairs, including freq 1 and freq 65536 */
static void test_pairs(TestCtx *t, Rng *r)
{
    enum { N = 20000 };
    static uint32_t start[N], freq[N];

    for (int iter = 0; iter < 20; iter++) {
        NicRansDecoder d;
        uint8_t *buf;
        size_t size;
        int n = iter == 0 ? 1 : rng_below(r, N) + 1, ok = 1;

        for (int i = 0; i < n; i++) {
            switch (rng_below(r, 4)) {
            case 0:  freq[i] = 1;                             break;
            case 1:  freq[i] = NIC_RANS_PROB_SCALE;           break;
            case 2:  freq[i] = 1 << rng_below(r, 17);         break;
            default: freq[i] = rng_below(r, NIC_RANS_PROB_SCALE) + 1;
            }
            start[i] = rng_below(r, NIC_RANS_PROB_SCALE - freq[i] + 1);
        }
        CHECK(t, encode_pairs(start, freq, n, &buf, &size) == 0, "encode");
        CHECK(t, size <= 4 + 2 * (size_t)n, "size %zu for %d symbols", size, n);
        CHECK(t, ff_nic_rans_dec_init(&d, buf, size) == 0, "init");
        for (int i = 0; i < n; i++) {
            unsigned s = ff_nic_rans_dec_peek(&d);
            if (s < start[i] || s - start[i] >= freq[i]) {
                ok = 0;
                break;
            }
            ff_nic_rans_dec_advance(&d, start[i], freq[i]);
        }
        CHECK(t, ok, "pair round trip, iter %d", iter);
        CHECK(t, ff_nic_rans_dec_finish(&d) == 0, "finish, iter %d", iter);
        av_free(buf);
    }

    /* worst case: only frequency-1 symbols, 2 bytes each */
    for (int i = 0; i < 1000; i++) {
        start[i] = rng_below(r, NIC_RANS_PROB_SCALE);
        freq[i]  = 1;
    }
    {
        NicRansDecoder d;
        uint8_t *buf;
        size_t size;
        CHECK(t, encode_pairs(start, freq, 1000, &buf, &size) == 0, "encode");
        CHECK(t, size <= 4 + 2000 && size >= 4 + 1990, "size %zu", size);
        ff_nic_rans_dec_init(&d, buf, size);
        for (int i = 0; i < 1000; i++) {
            CHECK(t, ff_nic_rans_dec_peek(&d) == start[i], "freq 1 symbol");
            ff_nic_rans_dec_advance(&d, start[i], 1);
        }
        CHECK(t, ff_nic_rans_dec_finish(&d) == 0, "finish");
        av_free(buf);
    }
}

static void test_empty_and_single(TestCtx *t)
{
    static const uint8_t empty_ref[4] = { 0x00, 0x80, 0x00, 0x00 };
    static const uint32_t cdf[3] = { 0, 40000, 65536 };
    NicCdf c = { cdf, 2, 7 };
    NicRansEncoder e;
    NicRansDecoder d;
    uint8_t *buf;
    size_t size;
    int32_t v;

    ff_nic_rans_enc_init(&e);
    CHECK(t, ff_nic_rans_enc_finish(&e, &buf, &size) == 0, "finish empty");
    CHECK(t, size == 4 && !memcmp(buf, empty_ref, 4), "empty stream bytes");
    CHECK(t, ff_nic_rans_dec_init(&d, buf, size) == 0, "init empty");
    CHECK(t, ff_nic_rans_dec_finish(&d) == 0, "finish empty");
    av_free(buf);

    /* encoder is reusable after finish */
    CHECK(t, ff_nic_encode_value(&e, &c, 7) == 0, "encode single");
    CHECK(t, ff_nic_rans_enc_finish(&e, &buf, &size) == 0, "finish single");
    CHECK(t, !e.syms && !e.nb_syms, "finish did not release the symbols");
    CHECK(t, ff_nic_rans_dec_init(&d, buf, size) == 0, "init single");
    CHECK(t, ff_nic_decode_value(&d, &c, &v) == 0 && v == 7, "single value %d", v);
    CHECK(t, ff_nic_rans_dec_finish(&d) == 0, "finish single");
    /* one symbol too many must fail */
    ff_nic_decode_value(&d, &c, &v);
    CHECK(t, ff_nic_rans_dec_finish(&d) < 0, "extra symbol accepted");
    av_free(buf);

    /* a freq 65536 symbol costs nothing: stream stays the empty one */
    CHECK(t, ff_nic_rans_enc_put(&e, 0, 65536) == 0, "put 65536");
    CHECK(t, ff_nic_rans_enc_finish(&e, &buf, &size) == 0, "finish");
    CHECK(t, size == 4 && !memcmp(buf, empty_ref, 4), "freq 65536 not free");
    av_free(buf);
    ff_nic_rans_enc_free(&e);

    /* init rejects short payloads and out-of-range states */
    {
        static const uint8_t lowst[4]  = { 0x00, 0x7f, 0xff, 0xff };
        static const uint8_t highst[4] = { 0x80, 0x00, 0x00, 0x00 };
        CHECK(t, ff_nic_rans_dec_init(&d, empty_ref, 3) == AVERROR_INVALIDDATA, "size 3");
        CHECK(t, ff_nic_rans_dec_finish(&d) < 0, "finish after failed init");
        CHECK(t, ff_nic_decode_value(&d, &c, &v) < 0 && v == 0, "decode after failed init");
        CHECK(t, ff_nic_rans_dec_init(&d, NULL, 0) == AVERROR_INVALIDDATA, "NULL");
        CHECK(t, ff_nic_rans_dec_init(&d, lowst, 4) == AVERROR_INVALIDDATA, "state 2^23-1");
        CHECK(t, ff_nic_rans_dec_init(&d, highst, 4) == AVERROR_INVALIDDATA, "state 2^31");
    }
}

static void test_api_errors(TestCtx *t)
{
    static const uint32_t bad1[4] = { 0, 100, 100, 65536 };
    static const uint32_t bad2[3] = { 1, 100, 65536 };
    static const uint32_t bad3[3] = { 0, 100, 65535 };
    static const uint32_t bad4[3] = { 0, 70000, 65536 };
    static const uint32_t good[3] = { 0, 1, 65536 };
    NicRansEncoder e;

    CHECK(t, ff_nic_cdf_validate(good, 2) == 0, "good table");
    CHECK(t, ff_nic_cdf_validate(good, 1) < 0, "nsym 1");
    CHECK(t, ff_nic_cdf_validate(bad1, 3) < 0, "zero frequency");
    CHECK(t, ff_nic_cdf_validate(bad2, 2) < 0, "cdf[0] != 0");
    CHECK(t, ff_nic_cdf_validate(bad3, 2) < 0, "cdf[n] != 65536");
    CHECK(t, ff_nic_cdf_validate(bad4, 2) < 0, "decreasing");

    ff_nic_rans_enc_init(&e);
    CHECK(t, ff_nic_rans_enc_put(&e, 0, 0) == AVERROR(EINVAL), "freq 0");
    CHECK(t, ff_nic_rans_enc_put(&e, 1, 65536) == AVERROR(EINVAL), "start + freq");
    CHECK(t, ff_nic_rans_enc_put(&e, 65535, 2) == AVERROR(EINVAL), "start + freq");
    CHECK(t, ff_nic_rans_enc_put(&e, 0, 65537) == AVERROR(EINVAL), "freq 65537");
    CHECK(t, ff_nic_rans_enc_put_bits(&e, 0, 0) == AVERROR(EINVAL), "0 bits");
    CHECK(t, ff_nic_rans_enc_put_bits(&e, 0, 17) == AVERROR(EINVAL), "17 bits");
    CHECK(t, ff_nic_rans_enc_put_bits(&e, 4, 2) == AVERROR(EINVAL), "value too big");
    CHECK(t, e.nb_syms == 0, "failed puts appended symbols");
    ff_nic_rans_enc_free(&e);
}

static void test_bits(TestCtx *t, Rng *r)
{
    enum { N = 50000 };
    static uint16_t val[N];
    static uint8_t  nb[N];
    NicRansEncoder e;
    NicRansDecoder d;
    uint8_t *buf;
    size_t size;
    int ok = 1;
    uint64_t total_bits = 0;

    ff_nic_rans_enc_init(&e);
    for (int i = 0; i < N; i++) {
        nb[i]  = 1 + rng_below(r, 16);
        val[i] = rng_u32(r) & ((1U << nb[i]) - 1);
        total_bits += nb[i];
        if (ff_nic_rans_enc_put_bits(&e, val[i], nb[i]) < 0)
            ok = 0;
    }
    CHECK(t, ok, "put_bits");
    CHECK(t, ff_nic_rans_enc_finish(&e, &buf, &size) == 0, "finish");
    /* raw bits must cost their size, plus the final state */
    CHECK(t, size <= (total_bits + 7) / 8 + 4, "%zu bytes for %" PRIu64 " bits",
          size, total_bits);
    ff_nic_rans_dec_init(&d, buf, size);
    for (int i = 0; i < N && ok; i++)
        if (ff_nic_rans_dec_get_bits(&d, nb[i]) != val[i])
            ok = 0;
    CHECK(t, ok, "raw bits round trip");
    CHECK(t, ff_nic_rans_dec_finish(&d) == 0, "finish");
    av_free(buf);
    ff_nic_rans_enc_free(&e);
}

/*
 * Encode values with one table per value (chosen by index) and decode them.
 * Returns 0 on a perfect round trip.
 */
static int roundtrip(TestCtx *t, const NicCdf *tabs, const int *which,
                     const int32_t *vals, int n, size_t *out_size)
{
    NicRansEncoder e;
    NicRansDecoder d;
    uint8_t *buf;
    size_t size;
    int ret = 0;

    ff_nic_rans_enc_init(&e);
    for (int i = 0; i < n; i++) {
        ret = ff_nic_encode_value(&e, &tabs[which[i]], vals[i]);
        if (ret < 0) {
            CHECK(t, 0, "encode value %d (%" PRId32 "): %d", i, vals[i], ret);
            ff_nic_rans_enc_free(&e);
            return ret;
        }
    }
    ret = ff_nic_rans_enc_finish(&e, &buf, &size);
    ff_nic_rans_enc_free(&e);
    if (ret < 0)
        return ret;
    if (out_size)
        *out_size = size;

    ff_nic_rans_dec_init(&d, buf, size);
    for (int i = 0; i < n; i++) {
        int32_t v;
        if (ff_nic_decode_value(&d, &tabs[which[i]], &v) < 0 || v != vals[i]) {
            CHECK(t, 0, "value %d: got %" PRId32 " want %" PRId32, i, v, vals[i]);
            ret = -1;
            break;
        }
    }
    if (ret == 0 && ff_nic_rans_dec_finish(&d) < 0) {
        CHECK(t, 0, "finish");
        ret = -1;
    }
    av_free(buf);
    return ret;
}

static void test_values(TestCtx *t, Rng *r)
{
    enum { NTAB = 8, N = 30000 };
    static uint32_t cdfs[NTAB][MAX_NSYM + 1];
    static int which[N];
    static int32_t vals[N];
    NicCdf tabs[NTAB];

    for (int iter = 0; iter < 30; iter++) {
        for (int k = 0; k < NTAB; k++) {
            int n = 2 + rng_below(r, k == 0 ? 3 : k < 4 ? 64 : MAX_NSYM - 1);
            make_random_cdf(r, cdfs[k], n);
            tabs[k].cdf    = cdfs[k];
            tabs[k].nsym   = n;
            tabs[k].offset = (int)rng_below(r, 2001) - 1000;
            CHECK(t, ff_nic_cdf_validate(cdfs[k], n) == 0, "random table invalid");
        }
        for (int i = 0; i < N; i++) {
            const NicCdf *c;
            which[i] = rng_below(r, NTAB);
            c = &tabs[which[i]];
            switch (rng_below(r, 8)) {
            case 0: /* near the edges, escapes on both sides */
                vals[i] = c->offset - 40 + (int)rng_below(r, c->nsym + 80);
                break;
            case 1: /* far escapes */
                vals[i] = (int32_t)(rng_u32(r) >> (4 + rng_below(r, 28))) *   /* < 2^28 */
                          (rng_below(r, 2) ? 1 : -1);
                break;
            default: /* in range, by the table's own distribution */
                vals[i] = c->offset +
                          sample_cdf(r, c->cdf, c->nsym) % (c->nsym - 1);
            }
        }
        CHECK(t, roundtrip(t, tabs, which, vals, N, NULL) == 0,
              "random values, iter %d", iter);
    }
}

/* distances at and beyond the limits of the escape code */
static void test_escape_limits(TestCtx *t)
{
    static const uint32_t cdf[4] = { 0, 1000, 64000, 65536 };
    static const int offsets[] = { 0, -1, 1, 5, -7, 1 << 30, -(1 << 30),
                                   INT32_MAX - 1, INT32_MIN, INT32_MIN + 3,
                                   INT32_MAX - 10 };
    const int64_t maxlo = (1 << 30) - 2, maxhi = (1 << 30) - 1;
    NicRansEncoder e;

    ff_nic_rans_enc_init(&e);
    for (size_t o = 0; o < FF_ARRAY_ELEMS(offsets); o++) {
        NicCdf c = { cdf, 3, offsets[o] };
        int64_t lo = c.offset, hi = lo + 1;
        int64_t cand[] = {
            lo, hi, lo - 1, hi + 1, lo - 2, hi + 2, lo - 100, hi + 100,
            lo - 1 - maxlo, hi + 1 + maxhi, lo - 2 - maxlo, hi + 2 + maxhi,
            lo - 1 - 65535, lo - 1 - 65536, hi + 1 + 65535, hi + 1 + 65536,
            lo - 1 - 32767, hi + 1 + 32767, lo - 1 - 32768, hi + 1 + 32768,
            INT32_MIN, INT32_MAX, 0, NIC_VALUE_MAX, NIC_VALUE_MAX + 1,
            -NIC_VALUE_MAX, -NIC_VALUE_MAX - 1,
        };
        int which[FF_ARRAY_ELEMS(cand)];
        int32_t vals[FF_ARRAY_ELEMS(cand)];
        int n = 0;

        for (size_t i = 0; i < FF_ARRAY_ELEMS(cand); i++) {
            int64_t v = cand[i], dist;
            int codable, ret;
            if (v < INT32_MIN || v > INT32_MAX)
                continue;
            dist    = v < lo ? lo - 1 - v : v > hi ? v - hi - 1 : 0;
            codable = v < lo ? dist <= maxlo : v > hi ? dist <= maxhi : 1;
            /* an escape carries a value in [-NIC_VALUE_MAX, NIC_VALUE_MAX] */
            if ((v < lo || v > hi) && (v < -NIC_VALUE_MAX || v > NIC_VALUE_MAX))
                codable = 0;
            ret = ff_nic_encode_value(&e, &c, v);
            CHECK(t, codable ? ret == 0 : ret == AVERROR(ERANGE),
                  "offset %d value %" PRId64 ": ret %d", c.offset, v, ret);
            if (codable) {
                which[n] = 0;
                vals[n++] = v;
            }
        }
        ff_nic_rans_enc_free(&e);
        CHECK(t, roundtrip(t, &c, which, vals, n, NULL) == 0,
              "escape limits, offset %d", c.offset);
    }

    /* k = 31 in an escape must be rejected by the decoder */
    {
        NicCdf c = { cdf, 3, 0 };
        NicRansDecoder d;
        uint8_t *buf;
        size_t size;
        int32_t v;

        ff_nic_rans_enc_put(&e, 64000, 1536);    /* escape */
        ff_nic_rans_enc_put_bits(&e, 31, 5);     /* k = 31 */
        ff_nic_rans_enc_put_bits(&e, 0, 15);
        ff_nic_rans_enc_put_bits(&e, 0, 16);
        ff_nic_rans_enc_finish(&e, &buf, &size);
        ff_nic_rans_dec_init(&d, buf, size);
        CHECK(t, ff_nic_decode_value(&d, &c, &v) == AVERROR_INVALIDDATA && d.error,
              "k = 31 accepted");
        CHECK(t, ff_nic_rans_dec_finish(&d) < 0, "finish after k = 31");
        av_free(buf);
    }

    /* an escape whose value lies beyond NIC_VALUE_MAX must be rejected */
    {
        NicCdf c = { cdf, 3, NIC_VALUE_MAX - 1 };
        NicRansDecoder d;
        uint8_t *buf;
        size_t size;
        int32_t v;

        ff_nic_rans_enc_put(&e, 64000, 1536);
        ff_nic_rans_enc_put_bits(&e, 2, 5);      /* e + 1 = 4 + 0: e = 3 */
        ff_nic_rans_enc_put_bits(&e, 0, 2);      /* odd: below, ok */
        ff_nic_rans_enc_put(&e, 64000, 1536);
        ff_nic_rans_enc_put_bits(&e, 2, 5);
        ff_nic_rans_enc_put_bits(&e, 1, 2);      /* e = 4: above, hi + 3 */
        ff_nic_rans_enc_finish(&e, &buf, &size);
        ff_nic_rans_dec_init(&d, buf, size);
        CHECK(t, ff_nic_decode_value(&d, &c, &v) == 0 && v == NIC_VALUE_MAX - 3,
              "below escape %" PRId32, v);
        CHECK(t, ff_nic_decode_value(&d, &c, &v) == AVERROR_INVALIDDATA && v == 0,
              "escape beyond NIC_VALUE_MAX accepted");
        av_free(buf);
    }
    ff_nic_rans_enc_free(&e);
}

/* table with frequency-1 symbols next to one taking almost everything */
static void test_skewed(TestCtx *t, Rng *r)
{
    enum { N = 20000 };
    static const uint32_t cdf[6] = { 0, 1, 65532, 65533, 65534, 65536 };
    static int which[N];
    static int32_t vals[N];
    NicCdf c = { cdf, 5, -1 };
    size_t size;

    /* mostly the likely symbol: must compress to almost nothing */
    for (int i = 0; i < N; i++) {
        which[i] = 0;
        vals[i]  = 0;
    }
    CHECK(t, roundtrip(t, &c, which, vals, N, &size) == 0, "skewed likely");
    CHECK(t, size < 4 + N / 100, "likely symbols cost %zu bytes", size);

    /* only the unlikely ones (16 bits each) and escapes */
    for (int i = 0; i < N; i++) {
        int s = rng_below(r, 4);
        vals[i] = s == 0 ? -1 : s == 1 ? 1 : s == 2 ? 2 :
                  (int32_t)rng_below(r, 1 << 20) - (1 << 19);
    }
    CHECK(t, roundtrip(t, &c, which, vals, N, &size) == 0, "skewed unlikely");
}

/*
 * Decode arbitrary bytes with arbitrary (valid) tables. Must never crash,
 * hang or read out of bounds; returns the number of values decoded without
 * error.
 */
static int fuzz_one(const uint8_t *data, size_t size)
{
    uint32_t cdf[MAX_NSYM + 1];
    NicRansDecoder d;
    Rng r;
    NicCdf c;
    int n, count, good = 0;

    if (size < 4)
        return 0;
    /* first 4 bytes: table and count parameters */
    r.s   = AV_RB32(data) | 0x100000000ULL;
    n     = 2 + rng_below(&r, 300);
    count = rng_below(&r, 4 * size + 16);
    make_random_cdf(&r, cdf, n);
    c.cdf    = cdf;
    c.nsym   = n;
    c.offset = (int)rng_u32(&r);
    data += 4;
    size -= 4;

    if (ff_nic_rans_dec_init(&d, data, size) < 0)
        return 0;
    for (int i = 0; i < count; i++) {
        int32_t v;
        if (rng_below(&r, 8) == 0)
            ff_nic_rans_dec_get_bits(&d, 1 + rng_below(&r, 16));
        else if (ff_nic_decode_value(&d, &c, &v) == 0)
            good++;
    }
    ff_nic_rans_dec_finish(&d);
    return good;
}

static void test_garbage(TestCtx *t, Rng *r)
{
    long values = 0;

    for (int iter = 0; iter < 3000; iter++) {
        size_t size = rng_below(r, iter < 1000 ? 16 : 600);
        /* exact-size heap buffer, so ASan / valgrind see any overread */
        uint8_t *buf = av_malloc(size ? size : 1);
        if (!buf)
            continue;
        for (size_t i = 0; i < size; i++)
            buf[i] = rng_u32(r);
        if (size >= 5 && rng_below(r, 2))   /* make the state valid */
            buf[4] = 0x01 + rng_below(r, 0x7f);
        values += fuzz_one(buf, size);
        av_free(buf);
    }
    CHECK(t, 1, "garbage");
    printf("garbage: 3000 buffers decoded, %ld values without error\n", values);
}

/*
 * Truncated streams must always fail. Single bit flips must nearly always
 * fail, but finish() is no checksum: a flip that turns a symbol into another
 * one of the same frequency whose start is 2^b away, or that lands in the
 * raw bits of an escape (probability 1/2, no redundancy), decodes to other
 * valid values and passes. It can never pass with the same values, though:
 * the same symbols always give the same bytes.
 */
static void corruption_one(TestCtx *t, Rng *r, int with_escapes)
{
    enum { N = 400, FLIPS = 4000 };
    uint32_t cdf[52];
    NicCdf c = { cdf, 51, -25 };
    int32_t vals[N];
    uint8_t is_esc[N];
    NicRansEncoder e;
    uint8_t *buf;
    size_t size;
    int detected = 0, trunc_ok = 1, undetected_plain = 0;

    make_gauss_cdf(cdf, 51, 3.0);
    ff_nic_rans_enc_init(&e);
    for (int i = 0; i < N; i++) {
        vals[i]   = c.offset + sample_cdf(r, cdf, c.nsym - 1);
        is_esc[i] = with_escapes && i % 50 == 7;
        if (is_esc[i])
            vals[i] = 1000 * (i - 200);
        ff_nic_encode_value(&e, &c, vals[i]);
    }
    ff_nic_rans_enc_finish(&e, &buf, &size);
    ff_nic_rans_enc_free(&e);

    for (size_t len = 0; len < size; len++) {
        /* exact-size copy, so an overread would be caught */
        uint8_t *tb = av_malloc(len ? len : 1);
        NicRansDecoder d;
        int32_t v;

        memcpy(tb, buf, len);
        ff_nic_rans_dec_init(&d, tb, len);
        for (int i = 0; i < N; i++)
            ff_nic_decode_value(&d, &c, &v);
        if (ff_nic_rans_dec_finish(&d) == 0)
            trunc_ok = 0;
        av_free(tb);
    }
    CHECK(t, trunc_ok, "a truncated stream passed finish()");

    for (int iter = 0; iter < FLIPS; iter++) {
        uint8_t *fb = av_malloc(size);
        NicRansDecoder d;
        int32_t v;
        int diff_plain = 0, diff_esc = 0;

        memcpy(fb, buf, size);
        fb[rng_below(r, size)] ^= 1 << rng_below(r, 8);
        ff_nic_rans_dec_init(&d, fb, size);
        for (int i = 0; i < N; i++) {
            ff_nic_decode_value(&d, &c, &v);
            if (v != vals[i]) {
                diff_esc   += is_esc[i];
                diff_plain += !is_esc[i];
            }
        }
        if (ff_nic_rans_dec_finish(&d) < 0) {
            detected++;
        } else {
            CHECK(t, diff_esc + diff_plain > 0,
                  "flipped stream decoded identically and passed");
            undetected_plain += diff_plain > 0;
        }
        av_free(fb);
    }
    printf("corruption (%s escapes): %zu-byte stream, all %zu truncations "
           "detected: %s; %d/%d single bit flips detected (%.1f%%), "
           "%d undetected ones changed table-coded values\n",
           with_escapes ? "with" : "no", size, size, trunc_ok ? "yes" : "NO",
           detected, FLIPS, 100.0 * detected / FLIPS, undetected_plain);
    CHECK(t, detected >= FLIPS * (with_escapes ? 85 : 98) / 100,
          "only %d/%d flips detected", detected, FLIPS);
    av_free(buf);
}

static void test_corruption(TestCtx *t, Rng *r)
{
    corruption_one(t, r, 0);
    corruption_one(t, r, 1);
}

#ifdef NIC_RANS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(data, size);
    return 0;
}
#else
int main(void)
{
    TestCtx t = { 0 };
    Rng r = { 0x9E3779B97F4A7C15ULL };

    test_api_errors(&t);
    test_empty_and_single(&t);
    test_pairs(&t, &r);
    test_reference(&t, &r);
    test_bits(&t, &r);
    test_values(&t, &r);
    test_escape_limits(&t);
    test_skewed(&t, &r);
    test_garbage(&t, &r);
    test_corruption(&t, &r);

    printf("nic_rans: %d checks, %d failed\n", t.checks, t.failed);
    return t.failed != 0;
}
#endif
