/*
 * nic: coding y with the context entropy model
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
 * The context model's passes (docs/context-model.md; models/nic/ctxint.py
 * is the reference, bit for bit).
 *
 * Once per image the integer hyper path maps z_hat to the features Hs, Hm
 * (uint8, N channels each, at the latent resolution), a base scale index
 * and a base mean per element of y. Then every channel group k is coded in
 * two passes, its anchors ((row + col) even) and the rest. A pass first
 * computes the parameters of its own positions only, from the features,
 * y_hat of the groups before (Y_<k) and, for the second pass, of the
 * group's anchors (A_k); then it codes the group's symbols of those
 * positions, channel by channel, in raster order, and writes their y_hat
 * (1/8 units, exact integers 8 v + c) into the map the later passes read.
 *
 * Everything lives in one map of int16, position-major with a border of
 * two zero latents: per position the channels [Hs, Hm, Y] (2N + M). Y_<k
 * is channels [2N, 2N + start_k); A_k is group k's own channels, which at
 * the time of the second pass hold the anchors and zeros elsewhere.
 * Memory grows with the image: (2N + M) * 2 bytes per latent for the map,
 * 3 bytes for the base parameters, and the parameters of one pass.
 */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "nic_context.h"
#include "nic_ctxnn.h"
#include "nic_entropy.h"
#include "nic_mixture.h"

#define BORDER  2    ///< zero latents around the map: the 5x5 anchor taps
#define BLOCK   32   ///< positions per job
#define ACT_MAX 255

typedef struct CtxRun {
    const NicModel *m;
    const NicContextModel *c;
    NicExec *exec;
    NicCtxGemmFn gemm;
    int hz, wz, hl, wl;
    size_t plane;
    int cs;                 ///< channels of a map position: 2N + M
    int mw;                 ///< map width, border included
    int16_t *map;           ///< (hl + 2 BORDER) x mw positions of cs channels
    int16_t *zmap;          ///< z_hat clamped: (hz + 2) x (wz + 2) x N, border 1
    int16_t *half;          ///< a branch's first features: (2 hz + 2) x (2 wz + 2) x N
    int16_t *base_mean;     ///< [g][plane] of the group being coded, 1/8 units
    uint8_t *base_idx;      ///< [g][plane]
    int *pos[2];            ///< plane index of the anchors [0] and the others [1]
    ptrdiff_t *mofs[2];     ///< their offsets in the map (channel 0)
    int npos[2];
    int16_t *params;        ///< [rows][npos] of the pass being coded
} CtxRun;

/* ---- the hyper path ---- */

enum HyperStage { TO_HALF, TO_FEATURES, TO_BASE };

typedef struct HyperJob {
    CtxRun *r;
    const NicCtxLayer *l;
    const int16_t *src;     ///< the source at grid position (0, 0)
    ptrdiff_t row, pix;     ///< int16 per source row, per source position
    int gw, n;              ///< grid width, positions
    int in;                 ///< channels per tap
    ptrdiff_t off[9];
    enum HyperStage stage;
    int branch;             ///< 0: scale, 1: mean
} HyperJob;

/** Scratch of a job: gathered rows and accumulators of up to BLOCK positions. */
static int job_scratch(NicScratch *s, int k, int out, int16_t **x, int32_t **acc)
{
    *x   = ff_nic_scratch_get(&s->cols, &s->cols_size,
                              (size_t)FFALIGN(BLOCK, NIC_CTX_POS_BLOCK) * k * sizeof(**x));
    *acc = ff_nic_scratch_get(&s->rows, &s->rows_size, (size_t)BLOCK * out * sizeof(**acc));
    return *x && *acc ? 0 : AVERROR(ENOMEM);
}

static int hyper_block(void *arg, int job, int thread)
{
    const HyperJob *j = arg;
    CtxRun *r = j->r;
    const NicCtxLayer *l = j->l;
    const NicRequant *rq = &l->rq[0];
    const int p0 = job * BLOCK, n = FFMIN(BLOCK, j->n - p0);
    const int n2 = FFALIGN(n, NIC_CTX_POS_BLOCK), nc = r->m->n;
    int16_t *x;
    int32_t *acc;
    int ret;

    if ((ret = job_scratch(&r->exec->scratch[thread], l->k, l->out, &x, &acc)) < 0)
        return ret;
    for (int i = 0; i < n2; i++) {
        const int p = p0 + FFMIN(i, n - 1);
        ff_nic_ctx_gather(x + (size_t)i * l->k, l->k,
                          j->src + p / j->gw * j->row + p % j->gw * j->pix, j->off, 9, j->in);
    }
    r->gemm(l->weight, l->k, l->out, x, n, l->k, acc, l->out);

    for (int i = 0; i < n; i++) {
        const int p = p0 + i, py = p / j->gw, px = p % j->gw;
        const int32_t *a = acc + (size_t)i * l->out;
        for (int o = 0; o < l->out; o++) {
            const int64_t v = ff_nic_ctx_requant(a[o] + l->bias[o], rq->mult[o], rq->add[o],
                                                 rq->shift);
            /* depth-to-space: output 4 c + 2 dy + dx goes to (2 py + dy, 2 px + dx), c */
            const int c = o >> 2, dy = o >> 1 & 1, dx = o & 1;
            switch (j->stage) {
            case TO_HALF:
                r->half[((size_t)(2 * py + dy + 1) * (2 * r->wz + 2) + 2 * px + dx + 1) * nc + c] =
                    av_clip64(v, 0, ACT_MAX);
                break;
            case TO_FEATURES:
                r->map[((size_t)(2 * py + dy + BORDER) * r->mw + 2 * px + dx + BORDER) * r->cs +
                       j->branch * nc + c] = av_clip64(v, 0, ACT_MAX);
                break;
            case TO_BASE:
                if (j->branch)
                    r->base_mean[o * r->plane + p] = av_clip64(v, rq->lo[o], rq->hi[o]);
                else
                    r->base_idx[o * r->plane + p] = av_clip64(v, rq->lo[o], rq->hi[o]);
                break;
            }
        }
    }
    return 0;
}

static int run_hyper_layer(CtxRun *r, HyperJob *j)
{
    return r->exec->run(r->exec->opaque, hyper_block, j, (j->n + BLOCK - 1) / BLOCK);
}

/** The 3x3 layer of branch b over the features, at every position of the map. */
static void hyper_last(HyperJob *j, CtxRun *r, int b)
{
    for (int t = 0; t < 9; t++)
        j->off[t] = ((t / 3 - 1) * r->mw + t % 3 - 1) * r->cs;
    j->src   = r->map + ((size_t)BORDER * r->mw + BORDER) * r->cs + b * r->m->n;
    j->row   = (ptrdiff_t)r->mw * r->cs;
    j->pix   = r->cs;
    j->gw    = r->wl;
    j->n     = r->hl * r->wl;
    j->stage = TO_BASE;
    j->in    = r->m->n;
    j->branch = b;
}

/** Both branches up to their features, into the map. */
static int hyper_path(CtxRun *r, const int32_t *zq)
{
    const int n = r->m->n, zw = r->wz + 2, hw = 2 * r->wz + 2;
    int ret;

    for (int c = 0; c < n; c++)
        for (int y = 0; y < r->hz; y++)
            for (int x = 0; x < r->wz; x++)
                r->zmap[((size_t)(y + 1) * zw + x + 1) * n + c] =
                    av_clip(zq[((size_t)c * r->hz + y) * r->wz + x], -127, 127);

    for (int b = 0; b < 2; b++) {
        HyperJob j = { .r = r, .in = n, .branch = b };
        for (int t = 0; t < 9; t++)
            j.off[t] = ((t / 3 - 1) * zw + t % 3 - 1) * n;
        j.l     = &r->c->hyper[b][0];
        j.src   = r->zmap + (size_t)(zw + 1) * n;
        j.row   = (ptrdiff_t)zw * n;
        j.pix   = n;
        j.gw    = r->wz;
        j.n     = r->hz * r->wz;
        j.stage = TO_HALF;
        if ((ret = run_hyper_layer(r, &j)) < 0)
            return ret;

        for (int t = 0; t < 9; t++)
            j.off[t] = ((t / 3 - 1) * hw + t % 3 - 1) * n;
        j.l     = &r->c->hyper[b][1];
        j.src   = r->half + (size_t)(hw + 1) * n;
        j.row   = (ptrdiff_t)hw * n;
        j.gw    = 2 * r->wz;
        j.n     = 4 * r->hz * r->wz;
        j.stage = TO_FEATURES;
        if ((ret = run_hyper_layer(r, &j)) < 0)
            return ret;

    }
    return 0;
}

/**
 * The base parameters of group g's channels: rows [start, start + size)
 * of both branches' last layers (the rows after them exist, padding
 * included, so the GEMM's blocks of rows stay readable).
 */
static int group_base(CtxRun *r, const NicCtxGroup *g)
{
    int ret;
    for (int b = 0; b < 2; b++) {
        const NicCtxLayer *l = &r->c->hyper[b][2];
        NicCtxLayer rows = *l;
        HyperJob j = { .r = r, .l = &rows };
        rows.out        = g->size;
        rows.weight     = l->weight + (size_t)g->start * l->k;
        rows.bias       = l->bias + g->start;
        rows.rq[0].mult = l->rq[0].mult + g->start;
        rows.rq[0].add  = l->rq[0].add + g->start;
        rows.rq[0].lo   = l->rq[0].lo + g->start;
        rows.rq[0].hi   = l->rq[0].hi + g->start;
        hyper_last(&j, r, b);
        if ((ret = run_hyper_layer(r, &j)) < 0)
            return ret;
    }
    return 0;
}

/* ---- the parameters of a pass ---- */

typedef struct PassJob {
    CtxRun *r;
    const NicCtxGroup *g;
    int pass;
    ptrdiff_t off3[9], off5[12];
} PassJob;

/** Requantize n rows of accumulators into activations (rows of ld, zero padded). */
static void activations(int16_t *dst, int ld, const int32_t *acc, int n, int out,
                        const int32_t *bias, const NicRequant *rq)
{
    for (int i = 0; i < n; i++) {
        int16_t *d = dst + (size_t)i * ld;
        const int32_t *a = acc + (size_t)i * out;
        for (int o = 0; o < out; o++)
            d[o] = av_clip64(ff_nic_ctx_requant(a[o] + bias[o], rq->mult[o], rq->add[o],
                                                rq->shift), 0, ACT_MAX);
        memset(d + out, 0, (ld - out) * sizeof(*d));
    }
    if (n & 1)
        memset(dst + (size_t)n * ld, 0, ld * sizeof(*dst));
}

/**
 * Layers 1 to 3 of a group at BLOCK positions of its pass: gathered rows
 * in cols, accumulators then the two activations in rows.
 */
static int pass_block(void *arg, int job, int thread)
{
    const PassJob *j = arg;
    CtxRun *r = j->r;
    const NicCtxGroup *g = j->g;
    const NicContextModel *c = r->c;
    const int pass = j->pass, hid = c->hidden, k = c->components;
    const NicCtxLayer *l1 = &g->l1, *l2 = &g->l2[pass], *l3 = &g->l3[pass];
    const int i0 = job * BLOCK, n = FFMIN(BLOCK, r->npos[pass] - i0);
    const int n2 = FFALIGN(n, NIC_CTX_POS_BLOCK), hk = l2->k;
    const int in = 2 * r->m->n + g->start, kk = pass ? l1->k : g->k0;
    const int *pos = r->pos[pass] + i0;
    const ptrdiff_t *mofs = r->mofs[pass] + i0;
    NicScratch *s = &r->exec->scratch[thread];
    const size_t acc_size = (size_t)BLOCK * FFMAX(hid, l3->out) * sizeof(int32_t);
    int16_t *x, *act1, *act2;
    int32_t *acc;
    uint8_t *buf;

    x   = ff_nic_scratch_get(&s->cols, &s->cols_size, (size_t)n2 * kk * sizeof(*x));
    buf = ff_nic_scratch_get(&s->rows, &s->rows_size, acc_size + 2 * (size_t)n2 * hk * 2);
    if (!x || !buf)
        return AVERROR(ENOMEM);
    acc  = (int32_t *)buf;
    act1 = (int16_t *)(buf + acc_size);
    act2 = act1 + (size_t)n2 * hk;

    for (int i = 0; i < n2; i++) {
        const int16_t *src = r->map + mofs[FFMIN(i, n - 1)];
        int16_t *row = x + (size_t)i * kk;
        ff_nic_ctx_gather(row, g->k0, src, j->off3, 9, in);
        if (pass)
            ff_nic_ctx_gather(row + g->k0, kk - g->k0, src, j->off5, 12, g->size);
    }
    /* layer 1 (the anchor part only in the second pass), then 2 and 3 */
    r->gemm(l1->weight, l1->k, hid, x, n, kk, acc, hid);
    activations(act1, hk, acc, n, hid, l1->bias + pass * hid, &l1->rq[pass]);
    r->gemm(l2->weight, l2->k, hid, act1, n, hk, acc, hid);
    activations(act2, hk, acc, n, hid, l2->bias, &l2->rq[0]);
    r->gemm(l3->weight, l3->k, l3->out, act2, n, hk, acc, l3->out);

    /* parameters: base + correction, clamped; rows kind-major, then
     * component, then channel (kind 0: means, 1: scale indices, 2: logits) */
    for (int o = 0; o < l3->out; o++) {
        const NicRequant *rq = &l3->rq[0];
        const int kind = o / (k * g->size), ch = o % g->size;
        int16_t *dst = r->params + (size_t)o * r->npos[pass] + i0;
        for (int i = 0; i < n; i++) {
            int64_t v = ff_nic_ctx_requant(acc[(size_t)i * l3->out + o] + l3->bias[o],
                                           rq->mult[o], rq->add[o], rq->shift);
            if (kind == 0)
                v += r->base_mean[ch * r->plane + pos[i]];
            else if (kind == 1)
                v += r->base_idx[ch * r->plane + pos[i]];
            dst[i] = av_clip64(v, rq->lo[o], rq->hi[o]);
        }
    }
    return 0;
}

static int pass_params(CtxRun *r, const NicCtxGroup *g, int pass)
{
    PassJob j = { .r = r, .g = g, .pass = pass };
    int t = 0;

    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            j.off3[t++] = ((ptrdiff_t)dy * r->mw + dx) * r->cs;
    t = 0;
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            if ((dy + dx) & 1)
                j.off5[t++] = ((ptrdiff_t)dy * r->mw + dx) * r->cs + 2 * r->m->n + g->start;
    return r->exec->run(r->exec->opaque, pass_block, &j, (r->npos[pass] + BLOCK - 1) / BLOCK);
}

/* ---- coding a pass ---- */

/** The encoder's value: round(y - c / 8), clipped (docs/context-model.md). */
static int32_t coded_value(float y, int32_t center)
{
    const double v = floor((double)y - center / 8.0 + 0.5);
    return v > NIC_VALUE_MAX ? NIC_VALUE_MAX : v >= -NIC_VALUE_MAX ? (int32_t)v : -NIC_VALUE_MAX;
}

/**
 * Code the symbols of one pass, channel by channel in raster order:
 * encode (e, from y) or decode (d, into out); then write their y_hat into
 * the map.
 */
static int code_pass(CtxRun *r, const NicCtxGroup *g, int pass, NicRansEncoder *e,
                     const float *y, NicRansDecoder *d, float *out)
{
    const NicModel *m = r->m;
    const int k = r->c->components, n = r->npos[pass];
    const int *pos = r->pos[pass];
    const ptrdiff_t *mofs = r->mofs[pass];
    const size_t stride = (size_t)g->size * n;   ///< between kinds (and components)
    int ret;

    for (int ch = 0; ch < g->size; ch++) {
        const int16_t *par = r->params + (size_t)ch * n;
        const size_t plane_ofs = (g->start + ch) * r->plane;
        const int map_ch = 2 * m->n + g->start + ch;
        for (int i = 0; i < n; i++) {
            int32_t center, v = 0;
            int64_t y8;
            if (k == 1) {
                const NicCdf *cdf = &m->cdf_y.tables[par[stride + i]];
                center = par[i];
                if (e) {
                    v = coded_value(y[plane_ofs + pos[i]], center);
                    if ((ret = ff_nic_encode_value(e, cdf, v)) < 0)
                        return ret;
                } else if (ff_nic_decode_value(d, cdf, &v) < 0) {
                    return AVERROR_INVALIDDATA;
                }
            } else {
                int32_t means[NIC_MIX_MAX_K], scales[NIC_MIX_MAX_K], logits[NIC_MIX_MAX_K];
                NicMixture mx;
                for (int jc = 0; jc < k; jc++) {
                    means[jc]  = par[jc * stride + i];
                    scales[jc] = par[(k + jc) * stride + i];
                    logits[jc] = par[(2 * k + jc) * stride + i];
                }
                ff_nic_mixture_init(&mx, &r->c->mix, k, means, scales, logits);
                center = mx.center;
                if (e) {
                    v = coded_value(y[plane_ofs + pos[i]], center);
                    if ((ret = ff_nic_mixture_encode(e, &mx, v)) < 0)
                        return ret;
                } else if (ff_nic_mixture_decode(d, &mx, &v) < 0) {
                    return AVERROR_INVALIDDATA;
                }
            }
            y8 = 8 * (int64_t)v + center;
            r->map[mofs[i] + map_ch] = av_clip64(y8, -NIC_CTX_Y_MAX, NIC_CTX_Y_MAX);
            if (out)
                out[plane_ofs + pos[i]] = (float)y8 * 0.125f;
        }
    }
    return 0;
}

/* ---- one image ---- */

static void run_free(CtxRun *r)
{
    av_freep(&r->map);
    av_freep(&r->zmap);
    av_freep(&r->half);
    av_freep(&r->base_mean);
    av_freep(&r->base_idx);
    for (int p = 0; p < 2; p++) {
        av_freep(&r->pos[p]);
        av_freep(&r->mofs[p]);
    }
    av_freep(&r->params);
}

static int run_init(CtxRun *r, const NicModel *m, int hz, int wz, NicExec *exec)
{
    const NicContextModel *c = &m->ctx;
    const int n = m->n;
    int max_rows = 0, max_size = 0;

    memset(r, 0, sizeof(*r));
    r->m     = m;
    r->c     = c;
    r->exec  = exec;
    r->gemm  = ff_nic_ctx_gemm_get();
    r->hz    = hz;
    r->wz    = wz;
    r->hl    = 4 * hz;
    r->wl    = 4 * wz;
    r->plane = (size_t)r->hl * r->wl;
    r->cs    = 2 * n + m->m;
    r->mw    = r->wl + 2 * BORDER;
    for (int i = 0; i < c->nb_groups; i++) {
        max_rows = FFMAX(max_rows, c->group[i].l3[0].out);
        max_size = FFMAX(max_size, c->group[i].size);
    }

    r->map       = av_calloc((size_t)(r->hl + 2 * BORDER) * r->mw, r->cs * sizeof(*r->map));
    r->zmap      = av_calloc((size_t)(hz + 2) * (wz + 2), n * sizeof(*r->zmap));
    r->half      = av_calloc((size_t)(2 * hz + 2) * (2 * wz + 2), n * sizeof(*r->half));
    r->base_mean = av_malloc_array(r->plane, max_size * sizeof(*r->base_mean));
    r->base_idx  = av_malloc_array(r->plane, max_size);
    r->params    = av_malloc_array((r->plane + 1) / 2, max_rows * sizeof(*r->params));
    for (int p = 0; p < 2; p++) {
        r->pos[p]  = av_malloc_array((r->plane + 1) / 2, sizeof(*r->pos[p]));
        r->mofs[p] = av_malloc_array((r->plane + 1) / 2, sizeof(*r->mofs[p]));
        if (!r->pos[p] || !r->mofs[p])
            return AVERROR(ENOMEM);
    }
    if (!r->map || !r->zmap || !r->half || !r->base_mean || !r->base_idx || !r->params)
        return AVERROR(ENOMEM);

    /* the anchors ((y + x) even) and the others, each in raster order */
    for (int y = 0; y < r->hl; y++)
        for (int x = 0; x < r->wl; x++) {
            const int p = (y + x) & 1;
            r->pos[p][r->npos[p]]  = y * r->wl + x;
            r->mofs[p][r->npos[p]] = ((ptrdiff_t)(y + BORDER) * r->mw + x + BORDER) * r->cs;
            r->npos[p]++;
        }
    return 0;
}

/** The passes of every group: the encoder's (e, y) or the decoder's (d, out). */
static int run_passes(CtxRun *r, NicRansEncoder *e, const float *y, NicRansDecoder *d,
                      float *out)
{
    int ret;
    for (int i = 0; i < r->c->nb_groups; i++) {
        if ((ret = group_base(r, &r->c->group[i])) < 0)
            return ret;
        for (int pass = 0; pass < 2; pass++)
            if ((ret = pass_params(r, &r->c->group[i], pass)) < 0 ||
                (ret = code_pass(r, &r->c->group[i], pass, e, y, d, out)) < 0)
                return ret;
    }
    return 0;
}

int ff_nic_context_encode(const NicModel *m, const int32_t *zq, int hz, int wz,
                          const float *y, NicRansEncoder *e, NicExec *exec, void *logctx)
{
    CtxRun r;
    int ret;

    if ((ret = run_init(&r, m, hz, wz, exec)) >= 0 &&
        (ret = hyper_path(&r, zq)) >= 0)
        ret = run_passes(&r, e, y, NULL, NULL);
    if (ret == AVERROR(ERANGE))
        av_log(logctx, AV_LOG_ERROR, "a latent is out of the codable range\n");
    run_free(&r);
    return ret;
}

int ff_nic_context_decode(const NicModel *m, const int32_t *zq, int hz, int wz,
                          const uint8_t *payload, size_t size, float *out, NicExec *exec,
                          void *logctx)
{
    NicRansDecoder dec;
    CtxRun r;
    int ret;

    if ((ret = ff_nic_rans_dec_init(&dec, payload, size)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "corrupt latent payload\n");
        return ret;
    }
    if ((ret = run_init(&r, m, hz, wz, exec)) >= 0 &&
        (ret = hyper_path(&r, zq)) >= 0)
        ret = run_passes(&r, NULL, NULL, &dec, out);
    run_free(&r);
    if (ret == AVERROR_INVALIDDATA || (ret >= 0 && ff_nic_rans_dec_finish(&dec) < 0)) {
        av_log(logctx, AV_LOG_ERROR, "corrupt latent payload\n");
        return AVERROR_INVALIDDATA;
    }
    return ret;
}
