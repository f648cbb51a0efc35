/*
 * nic: encoder-side optimization of the latent for the decoder
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
 * The analysis transform only guesses the latent; the encoder may code any
 * latent, and the best one for an image minimizes
 *
 *     L = R(y_hat) + lambda * 255^2 * sum of squared errors / channels
 *
 * under the decoder that will run (Yang, Bamler & Mandt 2020).  The means
 * and the scale indices stay those of the hyper-latent the encoder codes,
 * so only the symbols of y change and the stream is an ordinary one.
 *
 * The rate R is the exact code length of each symbol under its own table
 * (-log2 of its frequency; escapes add their raw bits), relaxed between
 * integers by linear interpolation: for y - mean = f + w with integer f
 * and 0 <= w < 1 the rate is (1 - w) R(f) + w R(f + 1).  Rounding is
 * relaxed by annealed soft rounding (ff_nic_relax_round()), so gradients
 * reach y through both terms; at the end y - mean is rounded as usual.
 *
 * Large images are optimized tile by tile: the latents of a tile's core
 * are the variables; g_s runs on the core plus OPT_HALO latents of fixed
 * (already rounded) context, and the distortion is taken on the pixels of
 * the core plus HALO_PIX latents, which are exactly those the core's
 * latents reach, so the gradient of each tile is exact for its core.
 */

#include <math.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "nic_nn_grad.h"
#include "nic_optimize.h"

#define OPT_TILE 48  ///< largest tile core, in latents (768 pixels)
#define OPT_HALO 4   ///< latents of context around a core
#define HALO_PIX 2   ///< latents around a core whose pixels it reaches
#define RELAX_EPS 1e-5f

/*
 * Measured on Kodak (README, "Encoder effort"): the deterministic annealed
 * rounding beat the stochastic one (SGA) at every length tried, and short
 * schedules want a small, decaying step.
 */
static const NicOptimizeParams effort_levels[NIC_EFFORT_MAX] = {
    { .iterations =  10, .lr_start = 0.015f, .lr_end = 0.005f,
      .tau_start = 0.5f, .tau_end = 0.05f, .noise = 0 },
    { .iterations =  40, .lr_start = 0.01f,  .lr_end = 0.003f,
      .tau_start = 0.5f, .tau_end = 0.03f, .noise = 0 },
    { .iterations = 120, .lr_start = 0.008f, .lr_end = 0.002f,
      .tau_start = 0.5f, .tau_end = 0.02f, .noise = 0 },
};

int ff_nic_optimize_params(NicOptimizeParams *p, int effort)
{
    if (effort < 1 || effort > NIC_EFFORT_MAX)
        return AVERROR(EINVAL);
    *p = effort_levels[effort - 1];
    return 0;
}

float ff_nic_relax_round(float v, float tau, float n, float *dw)
{
    const float d  = av_clipf(v - floorf(v), RELAX_EPS, 1 - RELAX_EPS);
    const float it = 1 / tau;
    const float s  = (atanhf(d) - atanhf(1 - d)) * it * it + n * it;
    const float w  = 1 / (1 + expf(-s));
    *dw = w * (1 - w) * (1 / (1 - d * d) + 1 / (d * (2 - d))) * it * it;
    return w;
}

/* ---- code lengths ---- */

/** Code lengths in bits of the values of one table. */
typedef struct CodeLengths {
    float *bits;    ///< per symbol, escape last
    int nsym, offset;
} CodeLengths;

static float code_length(const CodeLengths *c, int64_t v)
{
    const int64_t hi = (int64_t)c->offset + c->nsym - 2;
    uint64_t e;
    if (v >= c->offset && v <= hi)
        return c->bits[v - c->offset];
    /* escape: the escape symbol, a 5-bit k and k bits of e + 1 */
    e = v < c->offset ? 2 * (uint64_t)(c->offset - 1 - v) + 1 : 2 * (uint64_t)(v - hi - 1);
    return c->bits[c->nsym - 1] + 5 + av_log2(FFMIN(e + 1, UINT32_MAX));
}

static int code_lengths_init(CodeLengths *c, const NicCdf *cdf)
{
    if (!(c->bits = av_malloc_array(cdf->nsym, sizeof(*c->bits))))
        return AVERROR(ENOMEM);
    c->nsym   = cdf->nsym;
    c->offset = cdf->offset;
    for (int s = 0; s < cdf->nsym; s++)
        c->bits[s] = 16 - log2f(cdf->cdf[s + 1] - cdf->cdf[s]);
    return 0;
}

/* ---- one tile ---- */

typedef struct Rng {
    uint64_t s;
} Rng;

/** A standard logistic sample. */
static float rng_logistic(Rng *r)
{
    float u;
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    u = ((r->s >> 40) + 0.5f) * (1.0f / (1 << 24));
    return logf(u) - log1pf(-u);
}

typedef struct Optimizer {
    const NicModel *m;
    const NicLatent *lat;
    const NicImage *img;
    NicExec *exec;
    void *logctx;
    int hl, wl;
    float lambda;            ///< per squared error of an 8-bit sample
    CodeLengths *tables;     ///< hyperprior: one per scale index; factorized: per channel
    int nb_tables;
    NicSynthesisGrad gs;

    /* the tile: core [cy0, cy1) x [cx0, cx1), window [wy0, wy1) x [wx0, wx1) */
    int cy0, cy1, cx0, cx1, wy0, wy1, wx0, wx1;
    int py0, py1, px0, px1;  ///< the pixels of the loss, in the image
    size_t nc;               ///< core elements
    float *v;                ///< y - mean of the core
    float *adam_m, *adam_v;
    float *w, *dw, *dr;      ///< relaxed rounding, its derivative, rate slope
    float *target;           ///< the pixels of the loss, 0..1, planar
    NicTensor win, x, dx, dy;
    Rng rng;
} Optimizer;

static float mean_at(const Optimizer *o, int c, size_t i)
{
    const NicLatent *l = o->lat;
    return l->means ? l->means->data[i] : o->m->medians[l->quality * o->m->m + c];
}

static const CodeLengths *table_at(const Optimizer *o, int c, size_t i)
{
    return o->lat->idx ? &o->tables[o->lat->idx[i]] : &o->tables[c];
}

/** Index in the full latent of core element e. */
static size_t core_index(const Optimizer *o, size_t e, int *c)
{
    const int cw = o->cx1 - o->cx0, ch = o->cy1 - o->cy0;
    const int x = e % cw, y = (e / cw) % ch;
    *c = e / ((size_t)cw * ch);
    return ((size_t)*c * o->hl + o->cy0 + y) * o->wl + o->cx0 + x;
}

static void load_target(Optimizer *o)
{
    const NicImage *img = o->img;
    const int rows = o->py1 - o->py0, cols = o->px1 - o->px0;
    const int planes = img->type == NIC_TYPE_RGB ? 3 : 1;
    for (int c = 0; c < planes; c++)
        for (int y = 0; y < rows; y++) {
            const uint8_t *src = img->data + (size_t)(o->py0 + y) * img->linesize;
            float *dst = o->target + ((size_t)c * rows + y) * cols;
            for (int x = 0; x < cols; x++)
                dst[x] = src[(o->px0 + x) * planes + c] * (1.0f / 255);
        }
}

static int tile_setup(Optimizer *o, int cy0, int cy1, int cx0, int cx1)
{
    const NicModel *m = o->m;
    const int ch = cy1 - cy0, cw = cx1 - cx0;
    int ret;

    o->cy0 = cy0; o->cy1 = cy1; o->cx0 = cx0; o->cx1 = cx1;
    o->wy0 = FFMAX(0, cy0 - OPT_HALO);
    o->wy1 = FFMIN(o->hl, cy1 + OPT_HALO);
    o->wx0 = FFMAX(0, cx0 - OPT_HALO);
    o->wx1 = FFMIN(o->wl, cx1 + OPT_HALO);
    o->py0 = 16 * FFMAX(0, cy0 - HALO_PIX);
    o->px0 = 16 * FFMAX(0, cx0 - HALO_PIX);
    o->py1 = FFMIN(16 * FFMIN(o->hl, cy1 + HALO_PIX), o->img->height);
    o->px1 = FFMIN(16 * FFMIN(o->wl, cx1 + HALO_PIX), o->img->width);
    o->nc  = (size_t)m->m * ch * cw;

    av_freep(&o->v);
    av_freep(&o->target);
    if (!(o->v = av_malloc_array(6 * o->nc, sizeof(float))) ||
        !(o->target = av_malloc_array((size_t)3 * (o->py1 - o->py0) * (o->px1 - o->px0),
                                      sizeof(float))))
        return AVERROR(ENOMEM);
    o->adam_m = o->v + o->nc;
    o->adam_v = o->v + 2 * o->nc;
    o->w      = o->v + 3 * o->nc;
    o->dw     = o->v + 4 * o->nc;
    o->dr     = o->v + 5 * o->nc;
    memset(o->adam_m, 0, 2 * o->nc * sizeof(float));
    for (size_t e = 0; e < o->nc; e++) {
        int c;
        size_t i = core_index(o, e, &c);
        o->v[e] = o->lat->y->data[i] - mean_at(o, c, i);
    }
    load_target(o);

    /* the window: the latent the decoder will see (context already rounded) */
    if ((ret = ff_nic_tensor_alloc(&o->win, m->m, o->wy1 - o->wy0, o->wx1 - o->wx0)) < 0)
        return ret;
    for (int c = 0; c < m->m; c++) {
        const float ig = m->inv_gain[o->lat->quality * m->m + c];
        for (int y = o->wy0; y < o->wy1; y++)
            for (int x = o->wx0; x < o->wx1; x++) {
                const size_t i = ((size_t)c * o->hl + y) * o->wl + x;
                const float mu = mean_at(o, c, i);
                o->win.data[((size_t)c * o->win.h + y - o->wy0) * o->win.w + x - o->wx0] =
                    (mu + rintf(o->lat->y->data[i] - mu)) * ig;
            }
    }
    return 0;
}

/**
 * Relaxed rounding of the core at temperature tau (noise scaled by
 * noise) into the window; returns the relaxed rate in bits.
 */
static double relax_core(Optimizer *o, float tau, float noise)
{
    const NicModel *m = o->m;
    const int cw = o->cx1 - o->cx0, ch = o->cy1 - o->cy0;
    double bits = 0;

    for (size_t e = 0; e < o->nc; e++) {
        int c;
        const size_t i = core_index(o, e, &c);
        const CodeLengths *t = table_at(o, c, i);
        const float mu = mean_at(o, c, i), v = o->v[e], f = floorf(v);
        const float n = noise ? noise * rng_logistic(&o->rng) : 0;
        const float w = ff_nic_relax_round(v, tau, n, &o->dw[e]);
        const int64_t fi = (int64_t)av_clipf(f, -(1 << 30), 1 << 30);
        const float r0 = code_length(t, fi), r1 = code_length(t, fi + 1);
        const int x = e % cw, y = (e / cw) % ch;

        o->w[e]  = w;
        o->dr[e] = r1 - r0;
        bits += r0 + w * (r1 - r0);
        o->win.data[((size_t)c * o->win.h + o->cy0 - o->wy0 + y) * o->win.w +
                    o->cx0 - o->wx0 + x] = (mu + f + w) * m->inv_gain[o->lat->quality * m->m + c];
    }
    return bits;
}

/**
 * Distortion term of the decoded window x against the target, and its
 * gradient into dx (zero outside the loss region and where the decoder
 * clips).  Returns lambda * 255^2 * sum of squared errors / channels.
 */
static double distortion(Optimizer *o)
{
    const int rows = o->py1 - o->py0, cols = o->px1 - o->px0;
    const int oy = o->py0 - 16 * o->wy0, ox = o->px0 - 16 * o->wx0;
    const size_t plane = (size_t)o->x.h * o->x.w;
    const float k = o->lambda * 255 * 255;
    double sse = 0;

    memset(o->dx.data, 0, 3 * plane * sizeof(float));
    for (int y = 0; y < rows; y++) {
        const size_t row = (size_t)(oy + y) * o->x.w + ox;
        if (o->img->type == NIC_TYPE_RGB) {
            for (int c = 0; c < 3; c++) {
                const float *xh = o->x.data + c * plane + row;
                const float *t  = o->target + ((size_t)c * rows + y) * cols;
                float *g = o->dx.data + c * plane + row;
                for (int i = 0; i < cols; i++) {
                    const float e = av_clipf(xh[i], 0, 1) - t[i];
                    sse += e * e;
                    g[i] = xh[i] > 0 && xh[i] < 1 ? 2 * k / 3 * e : 0;
                }
            }
        } else {
            const float *t = o->target + (size_t)y * cols;
            for (int i = 0; i < cols; i++) {
                const float s = (o->x.data[row + i] + o->x.data[plane + row + i] +
                                 o->x.data[2 * plane + row + i]) * (1.0f / 3);
                const float e = av_clipf(s, 0, 1) - t[i];
                sse += 3 * e * e;
                for (int c = 0; c < 3; c++)
                    o->dx.data[c * plane + row + i] = s > 0 && s < 1 ? 2 * k / 3 * e : 0;
            }
        }
    }
    return k / 3 * sse;
}

/** Loss of the relaxed core and its gradient with respect to v, into grad. */
static int loss_grad(Optimizer *o, float tau, float noise, float *grad, double *bits,
                     double *dist)
{
    const NicModel *m = o->m;
    const int cw = o->cx1 - o->cx0, ch = o->cy1 - o->cy0;
    int ret;

    *bits = relax_core(o, tau, noise);
    if ((ret = ff_nic_synthesis_forward(&o->gs, &o->win, &o->x, o->exec)) < 0 ||
        (ret = ff_nic_tensor_alloc(&o->dx, 3, o->x.h, o->x.w)) < 0)
        return ret;
    *dist = distortion(o);
    if ((ret = ff_nic_synthesis_backward(&o->gs, &o->dx, &o->dy, o->exec)) < 0)
        return ret;
    for (size_t e = 0; e < o->nc; e++) {
        const int c = e / ((size_t)cw * ch), x = e % cw, y = (e / cw) % ch;
        const float ig = m->inv_gain[o->lat->quality * m->m + c];
        const float gd = o->dy.data[((size_t)c * o->dy.h + o->cy0 - o->wy0 + y) * o->dy.w +
                                    o->cx0 - o->wx0 + x];
        grad[e] = (o->dr[e] + ig * gd) * o->dw[e];
    }
    return 0;
}

static void write_back(Optimizer *o)
{
    for (size_t e = 0; e < o->nc; e++) {
        int c;
        const size_t i = core_index(o, e, &c);
        const float mu = mean_at(o, c, i);
        o->lat->y->data[i] = mu + rintf(o->v[e]);
    }
}

static int optimize_tile(Optimizer *o, const NicOptimizeParams *p, float *grad, int tile,
                         int nb_tiles)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    const int T = p->iterations;
    double b1t = 1, b2t = 1, bits = 0, dist = 0;
    int ret;

    for (int t = 0; t < T; t++) {
        const float frac = T > 1 ? (float)t / (T - 1) : 1;
        const float tau  = p->tau_start * powf(p->tau_end / p->tau_start, frac);
        const float lr   = p->lr_start * powf(p->lr_end / p->lr_start, frac);
        float a;

        if ((ret = loss_grad(o, tau, p->noise, grad, &bits, &dist)) < 0)
            return ret;
        b1t *= b1;
        b2t *= b2;
        a = lr * sqrt(1 - b2t) / (1 - b1t);
        for (size_t e = 0; e < o->nc; e++) {
            const float g = grad[e];
            o->adam_m[e] = b1 * o->adam_m[e] + (1 - b1) * g;
            o->adam_v[e] = b2 * o->adam_v[e] + (1 - b2) * g * g;
            o->v[e] -= a * o->adam_m[e] / (sqrtf(o->adam_v[e]) + eps);
        }
        if (t == 0 || t == T - 1 || !((t + 1) % 10))
            av_log(o->logctx, AV_LOG_VERBOSE, "effort: tile %d/%d, iteration %d/%d: "
                   "%.0f bits + %.0f distortion (relaxed, tau %.3f)\n",
                   tile + 1, nb_tiles, t + 1, T, bits, dist, tau);
    }
    write_back(o);
    return 0;
}

/* ---- setup ---- */

static void optimizer_free(Optimizer *o)
{
    for (int i = 0; o->tables && i < o->nb_tables; i++)
        av_freep(&o->tables[i].bits);
    av_freep(&o->tables);
    ff_nic_synthesis_grad_free(&o->gs);
    av_freep(&o->v);
    av_freep(&o->target);
    ff_nic_tensor_free(&o->win);
    ff_nic_tensor_free(&o->x);
    ff_nic_tensor_free(&o->dx);
    ff_nic_tensor_free(&o->dy);
}

static int optimizer_init(Optimizer *o, const NicModel *m, const NicLatent *lat,
                          const NicImage *img, NicExec *exec, void *logctx)
{
    const NicCdf *cdfs;
    int ret;

    memset(o, 0, sizeof(*o));
    o->m = m;
    o->lat = lat;
    o->img = img;
    o->exec = exec;
    o->logctx = logctx;
    o->hl = lat->y->h;
    o->wl = lat->y->w;
    o->lambda = m->lambda[lat->quality];
    o->rng.s = 0x9e3779b97f4a7c15ULL;
    if (m->metric != NIC_METRIC_MSE) {
        av_log(logctx, AV_LOG_ERROR, "latent optimization supports MSE models only\n");
        return AVERROR(ENOSYS);
    }
    if ((m->arch == NIC_ARCH_HYPERPRIOR) != !!lat->means || !lat->means != !lat->idx ||
        lat->y->c != m->m || 16 * o->hl < img->height || 16 * o->wl < img->width)
        return AVERROR_BUG;
    if (m->arch == NIC_ARCH_HYPERPRIOR) {
        o->nb_tables = m->cdf_y.count;
        cdfs = m->cdf_y.tables;
    } else {
        o->nb_tables = m->m;
        cdfs = m->cdf_y.tables + lat->quality * m->m;
    }
    if (!(o->tables = av_calloc(o->nb_tables, sizeof(*o->tables))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < o->nb_tables; i++)
        if ((ret = code_lengths_init(&o->tables[i], &cdfs[i])) < 0)
            return ret;
    return ff_nic_synthesis_grad_init(&o->gs, m->g_s, m->g_s_gdn);
}

/** Splits n latents into tiles of at most OPT_TILE, of near-equal size. */
static int tile_size(int n)
{
    int count = (n + OPT_TILE - 1) / OPT_TILE;
    return (n + count - 1) / count;
}

int ff_nic_optimize_latent(const NicModel *m, const NicLatent *lat, const NicImage *img,
                           const NicOptimizeParams *p, NicExec *exec, void *logctx)
{
    Optimizer o;
    float *grad = NULL;
    int ret, tile = 0, nb_tiles;
    int th, tw;

    if (p->iterations < 1 || !(p->lr_start > 0) || !(p->lr_end > 0) ||
        !(p->tau_start > 0) || !(p->tau_end > 0) || p->noise < 0)
        return AVERROR(EINVAL);
    if ((ret = optimizer_init(&o, m, lat, img, exec, logctx)) < 0)
        goto end;
    th = tile_size(o.hl);
    tw = tile_size(o.wl);
    nb_tiles = ((o.hl + th - 1) / th) * ((o.wl + tw - 1) / tw);
    if (!(grad = av_malloc_array((size_t)m->m * th * tw, sizeof(*grad)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int ty = 0; ty < o.hl; ty += th)
        for (int tx = 0; tx < o.wl; tx += tw, tile++) {
            /* tiles wholly in the padding only cost rate: round them as they are */
            if (16 * ty >= img->height || 16 * tx >= img->width)
                continue;
            if ((ret = tile_setup(&o, ty, FFMIN(o.hl, ty + th), tx, FFMIN(o.wl, tx + tw))) < 0 ||
                (ret = optimize_tile(&o, p, grad, tile, nb_tiles)) < 0)
                goto end;
        }
end:
    av_free(grad);
    optimizer_free(&o);
    return ret;
}

int ff_nic_optimize_gradient(const NicModel *m, const NicLatent *lat, const NicImage *img,
                             float tau, NicTensor *grad, double *loss, NicExec *exec)
{
    Optimizer o;
    double bits, dist;
    float *g = NULL;
    int ret;

    if ((ret = optimizer_init(&o, m, lat, img, exec, NULL)) < 0)
        goto end;
    if (o.hl > OPT_TILE || o.wl > OPT_TILE) {
        ret = AVERROR(EINVAL);
        goto end;
    }
    if ((ret = tile_setup(&o, 0, o.hl, 0, o.wl)) < 0 ||
        (ret = ff_nic_tensor_alloc(grad, m->m, o.hl, o.wl)) < 0)
        goto end;
    if (!(g = av_malloc_array(o.nc, sizeof(*g)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = loss_grad(&o, tau, 0, g, &bits, &dist)) < 0)
        goto end;
    /* dL/dy = dL/dv: the core is the whole latent, in the same order */
    memcpy(grad->data, g, o.nc * sizeof(*g));
    *loss = bits + dist;
end:
    av_free(g);
    optimizer_free(&o);
    return ret;
}
