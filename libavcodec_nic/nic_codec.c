/*
 * nic image coding: transforms and entropy coding of one image
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
 * The image is coded at its size padded to a multiple of 64 (edges
 * replicated).  The analysis and synthesis transforms run on tiles of the
 * latent grid with a halo of two latents (32 pixels), which covers their
 * receptive fields exactly, so tiled and untiled output agree up to float
 * rounding while memory stays bounded for any image size.  The hyper
 * synthesis runs on tiles of the z grid too (nic_hyper.c).
 *
 * The decoder spends memory and time in proportion to what the packet has
 * shown: it checks the payload sizes against the fewest bits the model's
 * tables allow for the header's geometry before it allocates anything the
 * size of the image, decodes z, the scale indices (one byte a latent) and
 * the y symbols with the rANS end checks, and only then computes the means
 * and runs the synthesis.
 */

#include <math.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "nic_codec.h"
#include "nic_context.h"
#include "nic_entropy.h"
#include "nic_hyper.h"
#include "nic_optimize.h"
#include "nic_rans.h"

#define TILE      40   ///< latents per tile side of a large image (640 pixels)
#define TILE_ONE  4096 ///< an image of at most this many latents is one tile
#define HALO  2    ///< latents of context on each side of a tile

typedef struct Geometry {
    int hl, wl;    ///< latent grid (1/16)
    int hz, wz;    ///< hyper-latent grid (1/64)
} Geometry;

static void geometry(Geometry *g, int width, int height)
{
    g->hz = (height + 63) >> 6;
    g->wz = (width + 63) >> 6;
    g->hl = 4 * g->hz;
    g->wl = 4 * g->wz;
}

/** Splits n latents into tiles of at most TILE, of near-equal size. */
static int tile_size(int n)
{
    int count = (n + TILE - 1) / TILE;
    return (n + count - 1) / count;
}

/**
 * Tile height and width in latents.  An image up to TILE_ONE latents (1 MP)
 * is one tile, with no halo to compute twice; larger ones are tiled, which
 * bounds the memory of the transforms' widest layers (a 24 MP decode needs
 * about 80 MB for them).
 */
static void tile_dims(const Geometry *g, int *th, int *tw)
{
    if (g->hl * g->wl <= TILE_ONE) {
        *th = g->hl;
        *tw = g->wl;
    } else {
        *th = tile_size(g->hl);
        *tw = tile_size(g->wl);
    }
}

/* ---- transforms ---- */

/** Four convolutions with (I)GDN between them: g_a or g_s. */
static int run_transform(const NicConv *conv, const NicGdn *gdn, NicTensor *x,
                         NicTensor *tmp, NicExec *exec)
{
    int ret;
    for (int i = 0; i < 4; i++) {
        if ((ret = ff_nic_conv(&conv[i], x, tmp, exec)) < 0)
            return ret;
        FFSWAP(NicTensor, *x, *tmp);
        if (i < 3 && (ret = ff_nic_gdn(&gdn[i], x, exec)) < 0)
            return ret;
    }
    return 0;
}

/** Three convolutions with ReLU between them: out = chain(in); tmp is scratch. */
static int run_chain(const NicConv *l, const NicTensor *in, NicTensor *out, NicTensor *tmp,
                     NicExec *exec)
{
    int ret;
    if ((ret = ff_nic_conv(&l[0], in, out, exec)) < 0)
        return ret;
    ff_nic_relu(out);
    if ((ret = ff_nic_conv(&l[1], out, tmp, exec)) < 0)
        return ret;
    ff_nic_relu(tmp);
    return ff_nic_conv(&l[2], tmp, out, exec);
}

/**
 * Scale indices (one byte a latent) and, when means is not NULL, the means
 * of the whole latent grid from z_hat, tile by tile.
 */
static int run_hyper(const NicModel *m, const int32_t *zq, const Geometry *g,
                     uint8_t *idx, NicTensor *means, NicExec *exec)
{
    NicTensor band = { 0 }, tmp[2] = { { 0 } };
    const size_t plane = (size_t)g->hl * g->wl;
    int ret = 0;

    if (means && (ret = ff_nic_tensor_alloc(means, m->m, g->hl, g->wl)) < 0)
        return ret;
    for (int i = 0; i < ff_nic_hyper_tiles(g->hz, g->wz); i++) {
        NicHyperTile t;
        ff_nic_hyper_tile(&t, i, g->hz, g->wz);
        if ((ret = ff_nic_hyper_scales(m, zq, g->hz, g->wz, &t, idx, exec)) < 0)
            break;
        if (!means)
            continue;
        if ((ret = ff_nic_hyper_means(m, zq, g->hz, g->wz, &t, &band, tmp, exec)) < 0)
            break;
        for (int c = 0; c < m->m; c++)
            for (int y = 0; y < band.h; y++)
                memcpy(means->data + c * plane + (size_t)(4 * t.y0 + y) * g->wl + 4 * t.x0,
                       band.data + ((size_t)c * band.h + y) * band.w, band.w * sizeof(float));
    }
    ff_nic_tensor_free(&band);
    ff_nic_tensor_free(&tmp[0]);
    ff_nic_tensor_free(&tmp[1]);
    return ret;
}

/* ---- encoder ---- */

static void load_tile(NicTensor *t, const NicImage *img, int py0, int px0)
{
    const float scale = 1.0f / 255;
    const int step = img->type == NIC_TYPE_RGB ? 3 : 1;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < t->h; y++) {
            const uint8_t *row = img->data +
                                 FFMIN(py0 + y, img->height - 1) * img->linesize;
            float *dst = t->data + ((size_t)c * t->h + y) * t->w;
            const int off = step == 3 ? c : 0;
            for (int x = 0; x < t->w; x++)
                dst[x] = row[FFMIN(px0 + x, img->width - 1) * step + off] * scale;
        }
}

/** y = g_a(image) * gain[quality], tile by tile. */
static int analysis(const NicModel *m, int quality, const NicImage *img, const Geometry *g,
                    NicTensor *y, NicExec *exec)
{
    NicTensor x = { 0 }, tmp = { 0 };
    int th, tw, ret;

    tile_dims(g, &th, &tw);
    if ((ret = ff_nic_tensor_alloc(y, m->m, g->hl, g->wl)) < 0)
        return ret;
    for (int ty = 0; ty < g->hl; ty += th)
        for (int tx = 0; tx < g->wl; tx += tw) {
            const int y0 = FFMAX(0, ty - HALO), y1 = FFMIN(g->hl, ty + th + HALO);
            const int x0 = FFMAX(0, tx - HALO), x1 = FFMIN(g->wl, tx + tw + HALO);
            const int rows = FFMIN(th, g->hl - ty), cols = FFMIN(tw, g->wl - tx);
            if ((ret = ff_nic_tensor_alloc(&x, 3, 16 * (y1 - y0), 16 * (x1 - x0))) < 0)
                goto end;
            load_tile(&x, img, 16 * y0, 16 * x0);
            if ((ret = run_transform(m->g_a, m->g_a_gdn, &x, &tmp, exec)) < 0)
                goto end;
            for (int c = 0; c < m->m; c++) {
                const float gain = m->gain[quality * m->m + c];
                for (int r = 0; r < rows; r++) {
                    const float *src = x.data + ((size_t)c * x.h + ty - y0 + r) * x.w + tx - x0;
                    float *dst = y->data + ((size_t)c * g->hl + ty + r) * g->wl + tx;
                    for (int i = 0; i < cols; i++)
                        dst[i] = src[i] * gain;
                }
            }
        }
end:
    ff_nic_tensor_free(&x);
    ff_nic_tensor_free(&tmp);
    return ret;
}

static int32_t quantize(float v)
{
    return av_clip(lrintf(av_clipf(v, -NIC_VALUE_MAX, NIC_VALUE_MAX)), -NIC_VALUE_MAX,
                   NIC_VALUE_MAX);
}

static int finish_payload(NicRansEncoder *enc, uint8_t **buf, size_t *size, void *logctx)
{
    int ret = ff_nic_rans_enc_finish(enc, buf, size);
    if (ret >= 0 && *size > UINT32_MAX) {
        av_log(logctx, AV_LOG_ERROR, "payload too large\n");
        av_freep(buf);
        ret = AVERROR(ERANGE);
    }
    return ret;
}

/**
 * The latent as the analysis gives it: y = g_a(img) * gain, for the
 * hyperprior and context models z's symbols (*zq), and for the hyperprior
 * the means and the scale indices of y.
 */
static int analyse(const NicModel *m, int quality, const NicImage *img, const Geometry *g,
                   NicExec *exec, NicTensor *y, NicTensor *means, uint8_t **idx,
                   int32_t **zq)
{
    NicTensor z = { 0 }, tmp = { 0 };
    size_t nz = (size_t)m->n * g->hz * g->wz;
    int ret;

    if ((ret = analysis(m, quality, img, g, y, exec)) < 0 || m->arch == NIC_ARCH_FACTORIZED)
        return ret;
    ret = run_chain(m->h_a, y, &z, &tmp, exec);
    ff_nic_tensor_free(&tmp);
    if (ret < 0)
        goto end;
    if (!(*zq = av_malloc_array(nz, sizeof(**zq)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (size_t i = 0; i < nz; i++)
        (*zq)[i] = quantize(z.data[i]);
    if (m->arch == NIC_ARCH_CONTEXT)
        goto end;
    if (!(*idx = av_malloc((size_t)g->hl * g->wl * m->m))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = run_hyper(m, *zq, g, *idx, means, exec)) < 0)
        goto end;
end:
    ff_nic_tensor_free(&z);
    return ret;
}

static int check_encode_args(const NicModel *m, int quality, const NicImage *img,
                             void *logctx)
{
    if (quality < 0 || quality >= m->qualities) {
        av_log(logctx, AV_LOG_ERROR, "quality %d out of range 0..%d for model %s\n",
               quality, m->qualities - 1, m->name);
        return AVERROR(EINVAL);
    }
    if (img->width < 1 || img->width > 65535 || img->height < 1 || img->height > 65535)
        return AVERROR(EINVAL);
    return 0;
}

int ff_nic_analyse_image(const NicModel *m, int quality, const NicImage *img, NicExec *exec,
                         NicTensor *y, NicTensor *means, uint8_t **idx)
{
    Geometry g;
    int32_t *zq = NULL;
    int ret;

    if ((ret = check_encode_args(m, quality, img, NULL)) < 0)
        return ret;
    geometry(&g, img->width, img->height);
    ret = analyse(m, quality, img, &g, exec, y, means, idx, &zq);
    av_free(zq);
    return ret;
}

int ff_nic_encode_image(const NicModel *m, int quality, const NicOptimizeParams *opt,
                        const NicImage *img, NicExec *exec, uint8_t **out, size_t *out_size,
                        void *logctx)
{
    NicTensor y = { 0 }, means = { 0 };
    uint8_t *idx = NULL;
    NicRansEncoder enc;
    NicHeader h = { 0 };
    Geometry g;
    int32_t *zq = NULL;
    uint8_t *zbuf = NULL, *ybuf = NULL;
    size_t zsize = 0, ysize = 0, plane;
    int ret;

    if ((ret = check_encode_args(m, quality, img, logctx)) < 0)
        return ret;
    geometry(&g, img->width, img->height);
    plane = (size_t)g.hl * g.wl;
    ff_nic_rans_enc_init(&enc);

    if ((ret = analyse(m, quality, img, &g, exec, &y, &means, &idx, &zq)) < 0)
        goto end;
    if (opt) {
        const int hyper = m->arch == NIC_ARCH_HYPERPRIOR;
        NicLatent lat = { &y, hyper ? &means : NULL, hyper ? idx : NULL, quality };
        if ((ret = ff_nic_optimize_latent(m, &lat, img, opt, exec, logctx)) < 0)
            goto end;
    }

    if (m->arch != NIC_ARCH_FACTORIZED) {
        size_t nz = (size_t)m->n * g.hz * g.wz;
        for (size_t i = 0; i < nz; i++) {
            const int c = i / ((size_t)g.hz * g.wz);
            if ((ret = ff_nic_encode_value(&enc, &m->cdf_z.tables[quality * m->n + c],
                                           zq[i])) < 0)
                goto end;
        }
        if ((ret = finish_payload(&enc, &zbuf, &zsize, logctx)) < 0)
            goto end;
        ff_nic_rans_enc_init(&enc);
    }
    if (m->arch == NIC_ARCH_CONTEXT) {
        if ((ret = ff_nic_context_encode(m, zq, g.hz, g.wz, y.data, &enc, exec, logctx)) < 0)
            goto end;
    } else if (m->arch == NIC_ARCH_HYPERPRIOR) {
        for (size_t i = 0; i < plane * m->m; i++) {
            const NicCdf *cdf = &m->cdf_y.tables[idx[i]];
            if ((ret = ff_nic_encode_value(&enc, cdf, quantize(y.data[i] - means.data[i]))) < 0)
                goto end;
        }
    } else {
        for (int c = 0; c < m->m; c++) {
            const NicCdf *cdf = &m->cdf_y.tables[quality * m->m + c];
            const float med = m->medians[quality * m->m + c];
            for (size_t i = 0; i < plane; i++)
                if ((ret = ff_nic_encode_value(&enc, cdf,
                                               quantize(y.data[c * plane + i] - med))) < 0)
                    goto end;
        }
    }
    if ((ret = finish_payload(&enc, &ybuf, &ysize, logctx)) < 0)
        goto end;

    h.width      = img->width;
    h.height     = img->height;
    h.type       = img->type;
    h.quality    = quality;
    h.model      = m->index;
    h.model_hash = m->hash;
    h.z_size     = zsize;
    h.y_size     = ysize;
    *out_size = ff_nic_packet_size(&h);
    if (!(*out = av_malloc(*out_size))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ff_nic_header_write(*out, &h);
    if (zsize)
        memcpy(*out + NIC_HEADER_SIZE, zbuf, zsize);
    memcpy(*out + NIC_HEADER_SIZE + zsize, ybuf, ysize);
    ret = 0;
end:
    ff_nic_rans_enc_free(&enc);
    ff_nic_tensor_free(&y);
    ff_nic_tensor_free(&means);
    av_free(idx);
    av_free(zq);
    av_free(zbuf);
    av_free(ybuf);
    return ret;
}

/* ---- decoder ---- */

int ff_nic_check_header(const NicModel *m, const NicHeader *h, size_t packet_size,
                        void *logctx)
{
    if (h->model != m->index) {
        av_log(logctx, AV_LOG_ERROR, "stream uses model %d, loaded model is %s\n",
               h->model, m->name);
        return AVERROR_INVALIDDATA;
    }
    if (h->model_hash != m->hash) {
        av_log(logctx, AV_LOG_ERROR, "stream was made with other weights of model %s "
               "(hash %08x, installed %08x)\n", m->name, h->model_hash, m->hash);
        return AVERROR_INVALIDDATA;
    }
    if (h->quality >= m->qualities) {
        av_log(logctx, AV_LOG_ERROR, "quality %d out of range for model %s\n",
               h->quality, m->name);
        return AVERROR_INVALIDDATA;
    }
    if ((m->arch == NIC_ARCH_FACTORIZED) != !h->z_size) {
        av_log(logctx, AV_LOG_ERROR, "side information size %u invalid for model %s\n",
               h->z_size, m->name);
        return AVERROR_INVALIDDATA;
    }
    if (ff_nic_packet_size(h) > packet_size) {
        av_log(logctx, AV_LOG_ERROR, "packet truncated: %"PRIu64" bytes announced, %zu present\n",
               ff_nic_packet_size(h), packet_size);
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

static int decode_payload_end(NicRansDecoder *d, const char *what, void *logctx)
{
    if (ff_nic_rans_dec_finish(d) < 0) {
        av_log(logctx, AV_LOG_ERROR, "corrupt %s payload\n", what);
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

static void store_tile(NicImage *img, const NicTensor *x, int py0, int px0, int oy, int ox,
                       int rows, int cols)
{
    for (int y = 0; y < rows; y++) {
        uint8_t *dst = img->data + (size_t)(oy + y) * img->linesize;
        const float *r = x->data + ((size_t)0 * x->h + py0 + y) * x->w + px0;
        const float *g = x->data + ((size_t)1 * x->h + py0 + y) * x->w + px0;
        const float *b = x->data + ((size_t)2 * x->h + py0 + y) * x->w + px0;
        if (img->type == NIC_TYPE_RGB) {
            for (int i = 0; i < cols; i++) {
                dst[3 * (ox + i) + 0] = av_clip_uint8(lrintf(r[i] * 255));
                dst[3 * (ox + i) + 1] = av_clip_uint8(lrintf(g[i] * 255));
                dst[3 * (ox + i) + 2] = av_clip_uint8(lrintf(b[i] * 255));
            }
        } else {
            for (int i = 0; i < cols; i++)
                dst[ox + i] = av_clip_uint8(lrintf((r[i] + g[i] + b[i]) * (255.0f / 3)));
        }
    }
}

/** image = g_s(y_hat), tile by tile, cropped to the image. */
static int synthesis(const NicModel *m, const float *yh, const Geometry *g,
                     NicImage *img, NicExec *exec)
{
    NicTensor x = { 0 }, tmp = { 0 };
    int th, tw, ret = 0;

    tile_dims(g, &th, &tw);
    for (int ty = 0; ty < g->hl && 16 * ty < img->height; ty += th)
        for (int tx = 0; tx < g->wl && 16 * tx < img->width; tx += tw) {
            const int y0 = FFMAX(0, ty - HALO), y1 = FFMIN(g->hl, ty + th + HALO);
            const int x0 = FFMAX(0, tx - HALO), x1 = FFMIN(g->wl, tx + tw + HALO);
            if ((ret = ff_nic_tensor_alloc(&x, m->m, y1 - y0, x1 - x0)) < 0)
                goto end;
            for (int c = 0; c < m->m; c++)
                for (int r = y0; r < y1; r++)
                    memcpy(x.data + ((size_t)c * x.h + r - y0) * x.w,
                           yh + ((size_t)c * g->hl + r) * g->wl + x0,
                           (x1 - x0) * sizeof(float));
            if ((ret = run_transform(m->g_s, m->g_s_gdn, &x, &tmp, exec)) < 0)
                goto end;
            store_tile(img, &x, 16 * (ty - y0), 16 * (tx - x0), 16 * ty, 16 * tx,
                       FFMIN(16 * th, img->height - 16 * ty),
                       FFMIN(16 * tw, img->width - 16 * tx));
        }
end:
    ff_nic_tensor_free(&x);
    ff_nic_tensor_free(&tmp);
    return ret;
}

/**
 * Reject a payload shorter than the fewest bytes `count` values coded with
 * tables of cost `cost` (1/65536 bit each, a lower bound) can take.  rANS
 * output stays within a few bytes of the information it carries; the bound
 * keeps a margin of 1/8 and 16 bytes on top, so no real stream comes near it.
 */
static int check_min_size(uint64_t cost_q16, uint32_t size, const char *what, void *logctx)
{
    const uint64_t min_bytes = cost_q16 / (8 << 16) / 8 * 7;
    if (min_bytes > (uint64_t)size + 16) {
        av_log(logctx, AV_LOG_ERROR, "%s payload of %u bytes is too short for the image "
               "size (at least %"PRIu64" bytes)\n", what, size, min_bytes - 16);
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

/** Smallest min_cost of the tables [first, first + count) of a set. */
static uint32_t min_cost_of(const NicCdfSet *set, int first, int count)
{
    uint32_t c = UINT32_MAX;
    for (int i = first; i < first + count; i++)
        c = FFMIN(c, set->tables[i].min_cost);
    return c;
}

/** A latent as decoded (an integer symbol), then as y_hat (a float), in place. */
typedef union NicCoded {
    int32_t sym;
    float y;
} NicCoded;

static int decode_z(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                    const Geometry *g, int32_t **zq, void *logctx)
{
    const size_t pz = (size_t)g->hz * g->wz, nz = pz * m->n;
    NicRansDecoder dec;
    int ret;

    if (!(*zq = av_malloc_array(nz, sizeof(**zq))))
        return AVERROR(ENOMEM);
    if ((ret = ff_nic_rans_dec_init(&dec, payload, h->z_size)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "corrupt side information payload\n");
        return ret;
    }
    for (int c = 0; c < m->n && !dec.error; c++) {
        const NicCdf *cdf = &m->cdf_z.tables[h->quality * m->n + c];
        for (size_t i = 0; i < pz && !dec.error; i++)
            ff_nic_decode_value(&dec, cdf, &(*zq)[c * pz + i]);
    }
    return decode_payload_end(&dec, "side information", logctx);
}

/** y symbols of a hyperprior stream, then y_hat = symbol + mean. */
static int decode_y_hyperprior(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                               const Geometry *g, const int32_t *zq, NicCoded *lat,
                               NicExec *exec, void *logctx)
{
    const size_t plane = (size_t)g->hl * g->wl;
    NicTensor band = { 0 }, tmp[2] = { { 0 } };
    NicRansDecoder dec;
    uint8_t *idx;
    uint64_t cost = 0;
    int ret;

    if (!(idx = av_malloc(plane * m->m)))
        return AVERROR(ENOMEM);
    /* The scale indices, tile by tile.  With them the tables are known:
     * the size bound grows with every tile, and a payload too short for
     * the tiles so far is rejected there, so the work done on a short
     * payload stays in proportion to its size. */
    for (int i = 0; i < ff_nic_hyper_tiles(g->hz, g->wz); i++) {
        NicHyperTile t;
        ff_nic_hyper_tile(&t, i, g->hz, g->wz);
        if ((ret = ff_nic_hyper_scales(m, zq, g->hz, g->wz, &t, idx, exec)) < 0)
            goto end;
        for (int c = 0; c < m->m; c++)
            for (int y = 4 * t.y0; y < 4 * t.y1; y++) {
                const uint8_t *row = idx + c * plane + (size_t)y * g->wl;
                for (int x = 4 * t.x0; x < 4 * t.x1; x++)
                    cost += m->cdf_y.tables[row[x]].min_cost;
            }
        if ((ret = check_min_size(cost, h->y_size, "latent", logctx)) < 0)
            goto end;
    }
    if ((ret = ff_nic_rans_dec_init(&dec, payload, h->y_size)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "corrupt latent payload\n");
        goto end;
    }
    for (size_t i = 0; i < plane * m->m && !dec.error; i++)
        ff_nic_decode_value(&dec, &m->cdf_y.tables[idx[i]], &lat[i].sym);
    if ((ret = decode_payload_end(&dec, "latent", logctx)) < 0)
        goto end;
    av_freep(&idx);

    /* the payload is whole: now the means, tile by tile */
    for (int i = 0; i < ff_nic_hyper_tiles(g->hz, g->wz); i++) {
        NicHyperTile t;
        ff_nic_hyper_tile(&t, i, g->hz, g->wz);
        if ((ret = ff_nic_hyper_means(m, zq, g->hz, g->wz, &t, &band, tmp, exec)) < 0)
            goto end;
        for (int c = 0; c < m->m; c++)
            for (int y = 0; y < band.h; y++) {
                NicCoded *l = lat + c * plane + (size_t)(4 * t.y0 + y) * g->wl + 4 * t.x0;
                const float *mean = band.data + ((size_t)c * band.h + y) * band.w;
                for (int x = 0; x < band.w; x++)
                    l[x].y = l[x].sym + mean[x];
            }
    }
end:
    av_free(idx);
    ff_nic_tensor_free(&band);
    ff_nic_tensor_free(&tmp[0]);
    ff_nic_tensor_free(&tmp[1]);
    return ret;
}

/** y symbols of a factorized stream, then y_hat = symbol + median. */
static int decode_y_factorized(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                               const Geometry *g, NicCoded *lat, void *logctx)
{
    const size_t plane = (size_t)g->hl * g->wl;
    NicRansDecoder dec;
    int ret;

    if ((ret = ff_nic_rans_dec_init(&dec, payload, h->y_size)) < 0) {
        av_log(logctx, AV_LOG_ERROR, "corrupt latent payload\n");
        return ret;
    }
    for (int c = 0; c < m->m && !dec.error; c++) {
        const NicCdf *cdf = &m->cdf_y.tables[h->quality * m->m + c];
        for (size_t i = 0; i < plane && !dec.error; i++)
            ff_nic_decode_value(&dec, cdf, &lat[c * plane + i].sym);
    }
    if ((ret = decode_payload_end(&dec, "latent", logctx)) < 0)
        return ret;
    for (int c = 0; c < m->m; c++) {
        const float med = m->medians[h->quality * m->m + c];
        NicCoded *l = lat + c * plane;
        for (size_t i = 0; i < plane; i++)
            l[i].y = l[i].sym + med;
    }
    return 0;
}

int ff_nic_decode_latents(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                          NicDecoded *out, NicExec *exec, void *logctx)
{
    const int q = h->quality;
    NicCoded *lat = NULL;
    int32_t *zq = NULL;
    Geometry g;
    size_t plane;
    int ret;

    geometry(&g, h->width, h->height);
    plane = (size_t)g.hl * g.wl;

    /* before anything the size of the image: can the payloads hold it? */
    if (m->arch != NIC_ARCH_FACTORIZED) {
        uint64_t zcost = 0;
        uint32_t ycost = min_cost_of(&m->cdf_y, 0, m->cdf_y.count);
        if (m->arch == NIC_ARCH_CONTEXT && m->ctx.components > 1)
            ycost = FFMIN(ycost, m->ctx.mix.min_cost);
        for (int c = 0; c < m->n; c++)
            zcost += (uint64_t)m->cdf_z.tables[q * m->n + c].min_cost * g.hz * g.wz;
        if ((ret = check_min_size(zcost, h->z_size, "side information", logctx)) < 0 ||
            (ret = check_min_size((uint64_t)ycost * plane * m->m, h->y_size, "latent",
                                  logctx)) < 0)
            return ret;
    } else {
        uint64_t ycost = 0;
        for (int c = 0; c < m->m; c++)
            ycost += (uint64_t)m->cdf_y.tables[q * m->m + c].min_cost * plane;
        if ((ret = check_min_size(ycost, h->y_size, "latent", logctx)) < 0)
            return ret;
    }

    if (m->arch != NIC_ARCH_FACTORIZED &&
        (ret = decode_z(m, h, payload, &g, &zq, logctx)) < 0)
        goto end;
    if (!(lat = av_malloc_array(plane * m->m, sizeof(*lat)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (m->arch == NIC_ARCH_CONTEXT)
        ret = ff_nic_context_decode(m, zq, g.hz, g.wz, payload + h->z_size, h->y_size,
                                    &lat->y, exec, logctx);
    else if (m->arch == NIC_ARCH_HYPERPRIOR)
        ret = decode_y_hyperprior(m, h, payload + h->z_size, &g, zq, lat, exec, logctx);
    else
        ret = decode_y_factorized(m, h, payload, &g, lat, logctx);
    if (ret < 0)
        goto end;

    for (int c = 0; c < m->m; c++) {
        const float ig = m->inv_gain[q * m->m + c];
        NicCoded *l = lat + c * plane;
        for (size_t i = 0; i < plane; i++)
            l[i].y *= ig;
    }
    out->y      = &lat->y;
    out->width  = h->width;
    out->height = h->height;
    lat = NULL;
end:
    av_free(lat);
    av_free(zq);
    return ret;
}

int ff_nic_synthesize(const NicModel *m, const NicDecoded *lat, NicImage *img, NicExec *exec)
{
    Geometry g;
    if (img->width != lat->width || img->height != lat->height)
        return AVERROR_BUG;
    geometry(&g, lat->width, lat->height);
    return synthesis(m, lat->y, &g, img, exec);
}

void ff_nic_latents_free(NicDecoded *lat)
{
    av_freep(&lat->y);
}

int ff_nic_decode_image(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                        NicImage *img, NicExec *exec, void *logctx)
{
    NicDecoded lat = { 0 };
    int ret = ff_nic_decode_latents(m, h, payload, &lat, exec, logctx);
    if (ret >= 0)
        ret = ff_nic_synthesize(m, &lat, img, exec);
    ff_nic_latents_free(&lat);
    return ret;
}
