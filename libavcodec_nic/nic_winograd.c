/*
 * nic: 3x3 convolutions by Winograd's minimal filtering F(4x4, 3x3)
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
 * Lavin & Gray, "Fast algorithms for convolutional neural networks" (2016):
 * the output is cut into 4x4 tiles; each tile's 6x6 input patch d becomes
 * B^T d B, each 3x3 filter g becomes G g G^T (once, at init), and for each
 * of the 36 positions of the 6x6 transform domain the products summed
 * over input channels are one GEMM, (out x in) by (in x tiles).  The output
 * tile is A^T m A.  That is 36 multiplications per tile and channel pair
 * where the direct convolution needs 144.
 *
 * Tiles are processed in bands of tile rows (the jobs), so the transformed
 * input and output of a band stay a few MB.  The transforms use constants
 * up to 8, so the result differs from the direct convolution by float
 * rounding of a few times the usual size: good for the encoder's
 * optimization, not used by the decoder, whose output must not depend on
 * which of the two ran.
 */

#include <string.h>

#include <cblas.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"

#include "nic_winograd.h"

#define ALPHA 6              ///< input tile side
#define NXI   (ALPHA * ALPHA) ///< points of the transform domain
#define OUT_T 4              ///< output tile side
#define BAND_TILES 96        ///< tiles per job, about

int ff_nic_winograd_init(NicWinograd *w, const NicConv *l)
{
    static const double G[ALPHA][3] = {
        {  1.0 / 4,        0,       0 },
        { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
        { -1.0 / 6,  1.0 / 6, -1.0 / 6 },
        { 1.0 / 24, 1.0 / 12,  1.0 / 6 },
        { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
        {        0,        0,       1 },
    };

    if (l->k != 3 || l->stride != 1)
        return AVERROR_BUG;
    w->in       = l->in;
    w->out      = l->out;
    w->upsample = l->upsample;
    w->bias     = l->bias;
    if (!(w->u = av_malloc_array((size_t)NXI * l->out * l->in, sizeof(float))))
        return AVERROR(ENOMEM);
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < l->in; i++) {
            const float *g = l->weight + ((size_t)o * l->in + i) * 9;
            double t[ALPHA][3];
            for (int a = 0; a < ALPHA; a++)
                for (int k = 0; k < 3; k++)
                    t[a][k] = G[a][0] * g[k] + G[a][1] * g[3 + k] + G[a][2] * g[6 + k];
            for (int a = 0; a < ALPHA; a++)
                for (int b = 0; b < ALPHA; b++)
                    w->u[((size_t)(a * ALPHA + b) * l->out + o) * l->in + i] =
                        t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2];
        }
    return 0;
}

void ff_nic_winograd_free(NicWinograd *w)
{
    av_freep(&w->u);
}

/** r[k * rs] = (B^T d)[k] for the 6 values d[k * ds]. */
#define BT6_STRIDED(r, rs, d, ds) do {                                              \
    const float d0 = (d)[0], d1 = (d)[ds], d2 = (d)[2 * (ds)], d3 = (d)[3 * (ds)];  \
    const float d4 = (d)[4 * (ds)], d5 = (d)[5 * (ds)];                             \
    (r)[0]        = 4 * d0 - 5 * d2 + d4;                                           \
    (r)[rs]       = -4 * (d1 + d2) + d3 + d4;                                       \
    (r)[2 * (rs)] = 4 * (d1 - d2) - d3 + d4;                                        \
    (r)[3 * (rs)] = 2 * (d3 - d1) - d2 + d4;                                        \
    (r)[4 * (rs)] = 2 * (d1 - d3) - d2 + d4;                                        \
    (r)[5 * (rs)] = 4 * d1 - 5 * d3 + d5;                                           \
} while (0)

/** r[k * rs] = (A^T m)[k] for the 6 values m[k * ms]. */
#define AT4_STRIDED(r, rs, m, ms) do {                                              \
    const float m0 = (m)[0], m1 = (m)[ms], m2 = (m)[2 * (ms)], m3 = (m)[3 * (ms)];  \
    const float m4 = (m)[4 * (ms)], m5 = (m)[5 * (ms)];                             \
    const float p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;         \
    (r)[0]        = m0 + p12 + p34;                                                 \
    (r)[rs]       = n12 + 2 * n34;                                                  \
    (r)[2 * (rs)] = p12 + 4 * p34;                                                  \
    (r)[3 * (rs)] = n12 + 8 * n34 + m5;                                             \
} while (0)

typedef struct WinoJob {
    const NicWinograd *w;
    const NicTensor *in;
    NicTensor *out;
    NicExec *exec;
    int th, tw;      ///< tiles
    int band;        ///< tile rows per job
} WinoJob;

/*
 * The transforms run a row of tiles at a time with the tile index
 * innermost, so that the compiler vectorizes them: first along the
 * columns of the row of patches, then along their rows.
 */

/** Scratch floats of the transforms of a row of tw tiles. */
static size_t aux_size(int tw)
{
    return (size_t)2 * ALPHA * (OUT_T * tw + 2) + (size_t)OUT_T * ALPHA * tw + OUT_T * tw;
}

/** v[xi * stride + t] = B^T d B of the tiles of one input channel. */
static void input_transform(float *v, size_t stride, const float *in, int h, int w,
                            int tr0, int nbr, int tw, float *aux)
{
    const int wp = OUT_T * tw + 2;          /* patch columns x = -1 .. 4 tw */
    float *d = aux, *e = aux + ALPHA * wp;  /* [ALPHA][wp] each */

    for (int r = 0; r < nbr; r++) {
        const int y0 = OUT_T * (tr0 + r) - 1;
        const size_t t0 = (size_t)r * tw;
        for (int a = 0; a < ALPHA; a++) {
            float *row = d + a * wp;
            const int y = y0 + a, n = FFMIN(w, wp - 1);
            memset(row, 0, wp * sizeof(*row));
            if (y >= 0 && y < h)
                memcpy(row + 1, in + (size_t)y * w, n * sizeof(*row));
        }
        for (int x = 0; x < wp; x++)
            BT6_STRIDED(e + x, wp, d + x, wp);
        for (int a = 0; a < ALPHA; a++) {
            const float *src = e + a * wp;
            float *dst = v + (size_t)a * ALPHA * stride + t0;
            for (int tj = 0; tj < tw; tj++)
                BT6_STRIDED(dst + tj, stride, src + OUT_T * tj, 1);
        }
    }
}

/** out = A^T m A + bias for the tiles of output channel o, written in place. */
static void output_transform(const WinoJob *j, const float *m, size_t stride, int o,
                             int tr0, int nbr, float *aux)
{
    const NicWinograd *w = j->w;
    const int h = j->in->h, wd = j->in->w, tw = j->tw;
    const int c = w->upsample ? o >> 2 : o;
    const int dy = w->upsample ? (o >> 1) & 1 : 0, dx = w->upsample ? o & 1 : 0;
    const int sh = w->upsample ? 2 : 1;
    float *plane = j->out->data + (size_t)c * j->out->h * j->out->w;
    float *f = aux, *row = aux + (size_t)OUT_T * ALPHA * tw;  /* [OUT_T][ALPHA][tw], [4 tw] */
    const float bias = w->bias[o];

    for (int r = 0; r < nbr; r++) {
        const size_t t0 = (size_t)r * tw;
        const int y0 = OUT_T * (tr0 + r);
        for (int b = 0; b < ALPHA; b++)
            for (int tj = 0; tj < tw; tj++)
                AT4_STRIDED(f + b * tw + tj, (size_t)ALPHA * tw, m + b * stride + t0 + tj,
                            ALPHA * stride);
        for (int i = 0; i < OUT_T && y0 + i < h; i++) {
            const float *src = f + (size_t)i * ALPHA * tw;
            float *dst = plane + (size_t)(sh * (y0 + i) + dy) * j->out->w + dx;
            for (int tj = 0; tj < tw; tj++)
                AT4_STRIDED(row + OUT_T * tj, 1, src + tj, tw);
            for (int x = 0; x < wd; x++)
                dst[sh * x] = row[x] + bias;
        }
    }
}

static int wino_block(void *arg, int job, int thread)
{
    const WinoJob *j = arg;
    const NicWinograd *w = j->w;
    NicScratch *s = &j->exec->scratch[thread];
    const int tr0 = job * j->band, nbr = FFMIN(j->band, j->th - tr0);
    const size_t nt = (size_t)nbr * j->tw;
    const size_t hw = (size_t)j->in->h * j->in->w;
    const size_t nv = NXI * w->in * nt;
    float *v, *m, *aux;

    if (!(v = ff_nic_scratch_get(&s->cols, &s->cols_size,
                                 (nv + aux_size(j->tw)) * sizeof(float))) ||
        !(m = ff_nic_scratch_get(&s->rows, &s->rows_size, NXI * w->out * nt * sizeof(float))))
        return AVERROR(ENOMEM);
    aux = v + nv;
    for (int i = 0; i < w->in; i++)
        input_transform(v + i * nt, w->in * nt, j->in->data + i * hw, j->in->h, j->in->w,
                        tr0, nbr, j->tw, aux);
    for (int xi = 0; xi < NXI; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w->out, nt, w->in,
                    1.0f, w->u + (size_t)xi * w->out * w->in, w->in,
                    v + xi * w->in * nt, nt, 0.0f, m + xi * w->out * nt, nt);
    for (int o = 0; o < w->out; o++)
        output_transform(j, m + o * nt, w->out * nt, o, tr0, nbr, aux);
    return 0;
}

int ff_nic_winograd_conv(const NicWinograd *w, const NicTensor *in, NicTensor *out,
                         NicExec *exec)
{
    WinoJob j = { .w = w, .in = in, .out = out, .exec = exec };
    int ret, jobs;

    if (in->c != w->in)
        return AVERROR_BUG;
    if (w->upsample)
        ret = ff_nic_tensor_alloc(out, w->out / 4, 2 * in->h, 2 * in->w);
    else
        ret = ff_nic_tensor_alloc(out, w->out, in->h, in->w);
    if (ret < 0)
        return ret;
    j.th   = (in->h + OUT_T - 1) / OUT_T;
    j.tw   = (in->w + OUT_T - 1) / OUT_T;
    j.band = av_clip(BAND_TILES / j.tw, 1, (j.th + 2 * exec->nb_threads - 1) /
                                           (2 * exec->nb_threads));
    jobs   = (j.th + j.band - 1) / j.band;
    exec->flops += 2ULL * NXI * w->out * w->in * j.th * j.tw;
    return exec->run(exec->opaque, wino_block, &j, jobs);
}
