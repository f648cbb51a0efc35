/*
 * nic neural network layers on OpenBLAS
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
 * Convolutions are lowered to GEMM with im2col, one block of output rows
 * at a time so that the column buffer stays small; blocks are the unit of
 * parallelism.  Upsampling layers (3x3 convolution to 4C channels, then
 * depth-to-space) scatter each GEMM block straight into the 2x larger
 * output.  GDN is a 1x1 convolution of the squares (a GEMM with gamma).
 *
 * The integer scale path runs through dgemm on integers held as doubles:
 * every product (int8 x uint8) and every partial sum is an integer below
 * 2^31 in magnitude, which a double represents exactly, so the result is the
 * exact integer whatever the kernel, summation order, FMA use or thread
 * count.  The requantization that follows is int64 arithmetic.
 */

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"

#include "nic_nn.h"

/* Column buffer budget of one block, in elements. */
#define COLS_BUDGET (1 << 21)
/* Spatial positions of one GDN block. */
#define GDN_BLOCK   2048

static int tensor_alloc(void **data, size_t *allocated, int c, int h, int w, size_t esize)
{
    size_t n = (size_t)c * h * w;
    if (c <= 0 || h <= 0 || w <= 0 || n > SIZE_MAX / esize / 2)
        return AVERROR(EINVAL);
    if (n * esize > *allocated) {
        av_freep(data);
        *allocated = 0;
        if (!(*data = av_malloc(n * esize)))
            return AVERROR(ENOMEM);
        *allocated = n * esize;
    }
    return 0;
}

int ff_nic_tensor_alloc(NicTensor *t, int c, int h, int w)
{
    int ret = tensor_alloc((void **)&t->data, &t->allocated, c, h, w, sizeof(float));
    if (ret >= 0) {
        t->c = c;
        t->h = h;
        t->w = w;
    }
    return ret;
}

void ff_nic_tensor_free(NicTensor *t)
{
    av_freep(&t->data);
    t->allocated = 0;
}

int ff_nic_int_tensor_alloc(NicIntTensor *t, int c, int h, int w)
{
    int ret = tensor_alloc((void **)&t->data, &t->allocated, c, h, w, sizeof(double));
    if (ret >= 0) {
        t->c = c;
        t->h = h;
        t->w = w;
    }
    return ret;
}

void ff_nic_int_tensor_free(NicIntTensor *t)
{
    av_freep(&t->data);
    t->allocated = 0;
}

static int run_serial(void *opaque, int (*fn)(void *, int, int), void *arg, int nb_jobs)
{
    for (int i = 0; i < nb_jobs; i++) {
        int ret = fn(arg, i, 0);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int ff_nic_exec_init(NicExec *exec, int nb_threads, void *opaque,
                     int (*run)(void *, int (*)(void *, int, int), void *, int))
{
    exec->nb_threads = run ? FFMAX(nb_threads, 1) : 1;
    exec->opaque     = opaque;
    exec->run        = run ? run : run_serial;
    exec->scratch    = av_calloc(exec->nb_threads, sizeof(*exec->scratch));
    return exec->scratch ? 0 : AVERROR(ENOMEM);
}

void ff_nic_exec_free(NicExec *exec)
{
    for (int i = 0; exec->scratch && i < exec->nb_threads; i++) {
        av_freep(&exec->scratch[i].cols);
        av_freep(&exec->scratch[i].rows);
    }
    av_freep(&exec->scratch);
}

void *ff_nic_scratch_get(void **buf, size_t *size, size_t bytes)
{
    if (bytes > *size) {
        av_freep(buf);
        *size = 0;
        if (!(*buf = av_malloc(bytes)))
            return NULL;
        *size = bytes;
    }
    return *buf;
}

/*
 * im2col for output rows [r0, r0 + nb): cols[(ci * k + ky) * k + kx][r * wo + x]
 * = in[ci][(r0 + r) * s + ky - p][x * s + kx - p], zero outside.
 */
#define DEFINE_IM2COL(type, name)                                                   \
static void name(type *cols, const type *in, int cin, int h, int w, int k, int s,   \
                 int r0, int nb, int wo)                                            \
{                                                                                   \
    const int p = k / 2;                                                            \
    for (int ci = 0; ci < cin; ci++)                                                \
        for (int ky = 0; ky < k; ky++)                                              \
            for (int kx = 0; kx < k; kx++) {                                        \
                type *dst = cols + (size_t)((ci * k + ky) * k + kx) * nb * wo;      \
                /* output columns whose input column lies inside [0, w) */          \
                int x0 = FFMAX(0, (p - kx + s - 1) / s);                            \
                int x1 = w - 1 + p - kx < 0 ? 0 :                                   \
                         FFMIN(wo, (w - 1 + p - kx) / s + 1);                       \
                for (int r = 0; r < nb; r++, dst += wo) {                           \
                    int iy = (r0 + r) * s + ky - p;                                 \
                    const type *src;                                                \
                    if (iy < 0 || iy >= h || x1 <= x0) {                            \
                        memset(dst, 0, wo * sizeof(type));                          \
                        continue;                                                   \
                    }                                                               \
                    src = in + ((size_t)ci * h + iy) * w + kx - p;                  \
                    memset(dst, 0, x0 * sizeof(type));                              \
                    if (s == 1) {                                                   \
                        memcpy(dst + x0, src + x0, (x1 - x0) * sizeof(type));       \
                    } else {                                                        \
                        for (int x = x0; x < x1; x++)                               \
                            dst[x] = src[x * s];                                    \
                    }                                                               \
                    memset(dst + x1, 0, (wo - x1) * sizeof(type));                  \
                }                                                                   \
            }                                                                       \
}

DEFINE_IM2COL(float, im2col_float)
DEFINE_IM2COL(double, im2col_double)

/** Output rows per block: a column buffer within budget, and at least
 *  two blocks per thread when the map is tall enough. */
static int block_rows(int k_elems, int ho, int wo, int nb_threads)
{
    int rows = FFMAX(1, COLS_BUDGET / FFMAX(1, k_elems * wo));
    int even = (ho + 2 * nb_threads - 1) / (2 * nb_threads);
    return av_clip(FFMIN(rows, even), 1, ho);
}

typedef struct ConvJob {
    const NicConv *l;
    const NicTensor *in;
    NicTensor *out;
    NicExec *exec;
    int ho, wo, rows;
} ConvJob;

static int conv_block(void *arg, int job, int thread)
{
    const ConvJob *j = arg;
    const NicConv *l = j->l;
    NicScratch *s = &j->exec->scratch[thread];
    const int kk = l->in * l->k * l->k;
    const int r0 = job * j->rows, nb = FFMIN(j->rows, j->ho - r0);
    const int n = nb * j->wo;
    float *cols, *dst;
    int ldc;

    if (!(cols = ff_nic_scratch_get(&s->cols, &s->cols_size, (size_t)kk * n * sizeof(float))))
        return AVERROR(ENOMEM);
    im2col_float(cols, j->in->data, l->in, j->in->h, j->in->w, l->k, l->stride, r0, nb, j->wo);

    if (l->upsample) {
        if (!(dst = ff_nic_scratch_get(&s->rows, &s->rows_size,
                                       (size_t)l->out * n * sizeof(float))))
            return AVERROR(ENOMEM);
        ldc = n;
    } else {
        dst = j->out->data + (size_t)r0 * j->wo;
        ldc = j->ho * j->wo;
    }
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < n; i++)
            dst[(size_t)o * ldc + i] = l->bias[o];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out, n, kk,
                1.0f, l->weight, kk, cols, n, 1.0f, dst, ldc);

    if (l->upsample) {
        /* output channel c at (2y + dy, 2x + dx) is GEMM row 4c + 2dy + dx */
        const int w2 = 2 * j->wo, h2 = 2 * j->ho;
        for (int o = 0; o < l->out; o++) {
            const int c = o >> 2, dy = (o >> 1) & 1, dx = o & 1;
            const float *src = dst + (size_t)o * n;
            for (int r = 0; r < nb; r++) {
                float *row = j->out->data + ((size_t)c * h2 + 2 * (r0 + r) + dy) * w2 + dx;
                for (int x = 0; x < j->wo; x++)
                    row[2 * x] = src[r * j->wo + x];
            }
        }
    }
    return 0;
}

int ff_nic_conv(const NicConv *l, const NicTensor *in, NicTensor *out, NicExec *exec)
{
    ConvJob j = { .l = l, .in = in, .out = out, .exec = exec };
    int ret;

    if (in->c != l->in)
        return AVERROR_BUG;
    j.ho = (in->h - 1) / l->stride + 1;
    j.wo = (in->w - 1) / l->stride + 1;
    if (l->upsample)
        ret = ff_nic_tensor_alloc(out, l->out / 4, 2 * j.ho, 2 * j.wo);
    else
        ret = ff_nic_tensor_alloc(out, l->out, j.ho, j.wo);
    if (ret < 0)
        return ret;
    j.rows = block_rows(l->in * l->k * l->k, j.ho, j.wo, exec->nb_threads);
    exec->flops += 2ULL * l->out * l->in * l->k * l->k * j.ho * j.wo;
    return exec->run(exec->opaque, conv_block, &j, (j.ho + j.rows - 1) / j.rows);
}

typedef struct GdnJob {
    const NicGdn *g;
    NicTensor *t;
    NicExec *exec;
    size_t hw;
} GdnJob;

static int gdn_block(void *arg, int job, int thread)
{
    const GdnJob *j = arg;
    const int c = j->g->channels;
    NicScratch *s = &j->exec->scratch[thread];
    const size_t p0 = (size_t)job * GDN_BLOCK;
    const int n = FFMIN(GDN_BLOCK, j->hw - p0);
    float *sq, *norm;

    if (!(sq = ff_nic_scratch_get(&s->cols, &s->cols_size, (size_t)c * n * sizeof(float))) ||
        !(norm = ff_nic_scratch_get(&s->rows, &s->rows_size, (size_t)c * n * sizeof(float))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < c; i++) {
        const float *x = j->t->data + i * j->hw + p0;
        for (int k = 0; k < n; k++) {
            sq[i * n + k]   = x[k] * x[k];
            norm[i * n + k] = j->g->beta[i];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, n, c,
                1.0f, j->g->gamma, c, sq, n, 1.0f, norm, n);
    for (int i = 0; i < c; i++) {
        float *x = j->t->data + i * j->hw + p0;
        const float *d = norm + i * n;
        if (j->g->inverse)
            for (int k = 0; k < n; k++)
                x[k] *= sqrtf(d[k]);
        else
            for (int k = 0; k < n; k++)
                x[k] /= sqrtf(d[k]);
    }
    return 0;
}

int ff_nic_gdn(const NicGdn *g, NicTensor *t, NicExec *exec)
{
    GdnJob j = { .g = g, .t = t, .exec = exec, .hw = (size_t)t->h * t->w };
    if (t->c != g->channels)
        return AVERROR_BUG;
    exec->flops += 2ULL * g->channels * g->channels * j.hw;
    return exec->run(exec->opaque, gdn_block, &j, (j.hw + GDN_BLOCK - 1) / GDN_BLOCK);
}

void ff_nic_relu(NicTensor *t)
{
    size_t n = (size_t)t->c * t->h * t->w;
    for (size_t i = 0; i < n; i++)
        t->data[i] = FFMAX(t->data[i], 0.0f);
}

typedef struct IntConvJob {
    const NicIntConv *l;
    const NicIntTensor *in;
    NicIntTensor *out;
    NicExec *exec;
    int ho, wo, rows;
} IntConvJob;

static int int_conv_block(void *arg, int job, int thread)
{
    const IntConvJob *j = arg;
    const NicIntConv *l = j->l;
    NicScratch *s = &j->exec->scratch[thread];
    const int kk = l->in * 9;
    const int r0 = job * j->rows, nb = FFMIN(j->rows, j->ho - r0);
    const int n = nb * j->wo;
    double *cols, *acc;

    if (!(cols = ff_nic_scratch_get(&s->cols, &s->cols_size, (size_t)kk * n * sizeof(double))) ||
        !(acc = ff_nic_scratch_get(&s->rows, &s->rows_size, (size_t)l->out * n * sizeof(double))))
        return AVERROR(ENOMEM);
    im2col_double(cols, j->in->data, l->in, j->in->h, j->in->w, 3, 1, r0, nb, j->wo);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out, n, kk,
                1.0, l->weight, kk, cols, n, 0.0, acc, n);

    for (int o = 0; o < l->out; o++) {
        const double *src = acc + (size_t)o * n;
        const int c = l->upsample ? o >> 2 : o;
        const int dy = l->upsample ? (o >> 1) & 1 : 0, dx = l->upsample ? o & 1 : 0;
        const int w2 = j->out->w, h2 = j->out->h;
        for (int r = 0; r < nb; r++) {
            double *row = j->out->data + (size_t)c * h2 * w2 +
                          (size_t)((l->upsample ? 2 * (r0 + r) + dy : r0 + r)) * w2 + dx;
            for (int x = 0; x < j->wo; x++) {
                int64_t a = (int64_t)src[r * j->wo + x] + l->bias[o];
                int64_t v = (a * l->mult[o] + l->add[o]) >> l->shift;
                row[l->upsample ? 2 * x : x] = av_clip64(v, 0, l->out_max);
            }
        }
    }
    return 0;
}

int ff_nic_int_conv(const NicIntConv *l, const NicIntTensor *in, NicIntTensor *out,
                    NicExec *exec)
{
    IntConvJob j = { .l = l, .in = in, .out = out, .exec = exec, .ho = in->h, .wo = in->w };
    int ret;

    if (in->c != l->in)
        return AVERROR_BUG;
    if (l->upsample)
        ret = ff_nic_int_tensor_alloc(out, l->out / 4, 2 * in->h, 2 * in->w);
    else
        ret = ff_nic_int_tensor_alloc(out, l->out, in->h, in->w);
    if (ret < 0)
        return ret;
    j.rows = block_rows(l->in * 9, j.ho, j.wo, exec->nb_threads);
    return exec->run(exec->opaque, int_conv_block, &j, (j.ho + j.rows - 1) / j.rows);
}
