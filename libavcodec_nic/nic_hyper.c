/*
 * nic: the hyperprior's synthesis side (scale indices and means from z_hat)
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
 * Both branches of h_s are two upsampling 3x3 layers and a plain 3x3 layer,
 * from z_hat at 1/64 to the latent grid at 1/16.  They run on tiles of the
 * z grid, so that memory stays bounded for any image size.
 *
 * A tile of z rows [a, b) gives latent rows [4a, 4b).  Those need the last
 * layer's input rows [4a - 1, 4b], i.e. the second layer's 1/32 outputs
 * [2a - 1, 2b], which read 1/32 rows [2a - 2, 2b + 1], i.e. the first
 * layer's outputs at z rows [a - 1, b], which read z rows [a - 2, b + 1].
 * So a halo of HALO_Z = 2 z rows (and columns) on each side makes every
 * kept output exact: the same integers as a run on the whole map for the
 * scale path, and the same values up to float summation order for the
 * means.  At the image's edges the tile is clipped, where the zero padding
 * is the whole map's own.
 */

#include <string.h>

#include "libavutil/common.h"
#include "libavutil/error.h"

#include "nic_hyper.h"

#define TILE_Z 16   ///< z per tile side (64 latents, 1024 pixels)
#define HALO_Z 2

static int tile_count(int n)
{
    return (n + TILE_Z - 1) / TILE_Z;
}

/** Start of part i when n is split into `count` near-equal parts. */
static int split(int n, int count, int i)
{
    return (int)((int64_t)n * i / count);
}

int ff_nic_hyper_tiles(int hz, int wz)
{
    return tile_count(hz) * tile_count(wz);
}

void ff_nic_hyper_tile(NicHyperTile *t, int i, int hz, int wz)
{
    const int ny = tile_count(hz), nx = tile_count(wz);
    const int ty = i / nx, tx = i % nx;
    t->y0 = split(hz, ny, ty);
    t->y1 = split(hz, ny, ty + 1);
    t->x0 = split(wz, nx, tx);
    t->x1 = split(wz, nx, tx + 1);
}

/** The tile with its halo, clipped to the grid. */
static void with_halo(NicHyperTile *h, const NicHyperTile *t, int hz, int wz)
{
    h->y0 = FFMAX(0, t->y0 - HALO_Z);
    h->y1 = FFMIN(hz, t->y1 + HALO_Z);
    h->x0 = FFMAX(0, t->x0 - HALO_Z);
    h->x1 = FFMIN(wz, t->x1 + HALO_Z);
}

int ff_nic_hyper_scales(const NicModel *m, const int32_t *zq, int hz, int wz,
                        const NicHyperTile *t, uint8_t *idx, NicExec *exec)
{
    NicIntTensor a = { 0 }, b = { 0 };
    const size_t plane = (size_t)16 * hz * wz;
    NicHyperTile h;
    int ret;

    with_halo(&h, t, hz, wz);
    if ((ret = ff_nic_int_tensor_alloc(&a, m->n, h.y1 - h.y0, h.x1 - h.x0)) < 0)
        goto end;
    for (int c = 0; c < m->n; c++)
        for (int y = h.y0; y < h.y1; y++) {
            const int32_t *src = zq + ((size_t)c * hz + y) * wz + h.x0;
            double *dst = a.data + ((size_t)c * a.h + y - h.y0) * a.w;
            for (int x = 0; x < a.w; x++)
                dst[x] = av_clip(src[x], -127, 127);
        }
    if ((ret = ff_nic_int_conv(&m->h_s_scale[0], &a, &b, exec)) < 0 ||
        (ret = ff_nic_int_conv(&m->h_s_scale[1], &b, &a, exec)) < 0 ||
        (ret = ff_nic_int_conv(&m->h_s_scale[2], &a, &b, exec)) < 0)
        goto end;
    /* keep the tile's core; outputs are integers in [0, scale_levels - 1] */
    for (int c = 0; c < m->m; c++)
        for (int y = 4 * t->y0; y < 4 * t->y1; y++) {
            const double *src = b.data + ((size_t)c * b.h + y - 4 * h.y0) * b.w
                                       + 4 * (t->x0 - h.x0);
            uint8_t *dst = idx + c * plane + (size_t)y * 4 * wz + 4 * t->x0;
            for (int x = 0; x < 4 * (t->x1 - t->x0); x++)
                dst[x] = src[x];
        }
end:
    ff_nic_int_tensor_free(&a);
    ff_nic_int_tensor_free(&b);
    return ret;
}

int ff_nic_hyper_means(const NicModel *m, const int32_t *zq, int hz, int wz,
                       const NicHyperTile *t, NicTensor *out, NicTensor tmp[2],
                       NicExec *exec)
{
    NicTensor *z = &tmp[0], *x = &tmp[1];
    NicHyperTile h;
    int ret;

    with_halo(&h, t, hz, wz);
    if ((ret = ff_nic_tensor_alloc(z, m->n, h.y1 - h.y0, h.x1 - h.x0)) < 0)
        return ret;
    for (int c = 0; c < m->n; c++)
        for (int y = h.y0; y < h.y1; y++) {
            const int32_t *src = zq + ((size_t)c * hz + y) * wz + h.x0;
            float *dst = z->data + ((size_t)c * z->h + y - h.y0) * z->w;
            for (int i = 0; i < z->w; i++)
                dst[i] = src[i];
        }
    if ((ret = ff_nic_conv(&m->h_s_mean[0], z, x, exec)) < 0)
        return ret;
    ff_nic_relu(x);
    if ((ret = ff_nic_conv(&m->h_s_mean[1], x, z, exec)) < 0)
        return ret;
    ff_nic_relu(z);
    if ((ret = ff_nic_conv(&m->h_s_mean[2], z, x, exec)) < 0)
        return ret;
    /* keep the tile's core */
    if ((ret = ff_nic_tensor_alloc(out, m->m, 4 * (t->y1 - t->y0), 4 * (t->x1 - t->x0))) < 0)
        return ret;
    for (int c = 0; c < m->m; c++)
        for (int y = 0; y < out->h; y++)
            memcpy(out->data + ((size_t)c * out->h + y) * out->w,
                   x->data + ((size_t)c * x->h + y + 4 * (t->y0 - h.y0)) * x->w
                           + 4 * (t->x0 - h.x0),
                   out->w * sizeof(float));
    return 0;
}
