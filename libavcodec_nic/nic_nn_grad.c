/*
 * nic: backward pass of the synthesis transform with respect to its input
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
 * Only gradients with respect to the data are needed (the weights are
 * fixed), so every layer's backward pass is again a forward-shaped
 * operation that runs on the layers of nic_nn.c:
 *
 * - an upsampling layer is a stride-1 3x3 convolution followed by
 *   depth-to-space; its backward pass is space-to-depth followed by the
 *   adjoint convolution (weights transposed in the channels and flipped
 *   in space, no bias), a GEMM of the same size as the forward one;
 * - IGDN, b_i = a_i sqrt(n_i) with n_i = beta_i + sum_j gamma_ij a_j^2,
 *   has the backward pass
 *   da_j = db_j sqrt(n_j) + a_j sum_i gamma_ij db_i a_i / sqrt(n_i),
 *   two GEMMs with gamma (one recomputes n from the stored input a).
 */

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"

#include "nic_nn_grad.h"

/* Spatial positions of one IGDN backward block. */
#define GDN_BLOCK 2048

void ff_nic_conv_adjoint_weights(const NicConv *l, float *w)
{
    const int k = l->k, kk = k * k;
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < l->in; i++) {
            const float *src = l->weight + ((size_t)o * l->in + i) * kk;
            float *dst = w + ((size_t)i * l->out + o) * kk;
            for (int t = 0; t < kk; t++)
                dst[kk - 1 - t] = src[t];
        }
}

int ff_nic_space_to_depth(const NicTensor *in, NicTensor *out)
{
    const int h = in->h / 2, w = in->w / 2;
    int ret;

    if ((in->h | in->w) & 1)
        return AVERROR_BUG;
    if ((ret = ff_nic_tensor_alloc(out, 4 * in->c, h, w)) < 0)
        return ret;
    for (int c = 0; c < in->c; c++)
        for (int d = 0; d < 4; d++) {
            const int dy = d >> 1, dx = d & 1;
            float *dst = out->data + (size_t)(4 * c + d) * h * w;
            for (int y = 0; y < h; y++) {
                const float *src = in->data + ((size_t)c * in->h + 2 * y + dy) * in->w + dx;
                for (int x = 0; x < w; x++)
                    dst[y * w + x] = src[2 * x];
            }
        }
    return 0;
}

typedef struct GdnJob {
    const NicGdn *g;
    const NicTensor *a;
    NicTensor *d;
    NicExec *exec;
    size_t hw;
} GdnJob;

static int igdn_backward_block(void *arg, int job, int thread)
{
    const GdnJob *j = arg;
    const int c = j->g->channels;
    const float *gamma = j->g->gamma;
    NicScratch *s = &j->exec->scratch[thread];
    const size_t p0 = (size_t)job * GDN_BLOCK;
    const int n = FFMIN(GDN_BLOCK, j->hw - p0);
    float *t, *u;

    if (!(t = ff_nic_scratch_get(&s->cols, &s->cols_size, (size_t)c * n * sizeof(float))) ||
        !(u = ff_nic_scratch_get(&s->rows, &s->rows_size, (size_t)c * n * sizeof(float))))
        return AVERROR(ENOMEM);
    /* u = n = beta + gamma a^2 */
    for (int i = 0; i < c; i++) {
        const float *a = j->a->data + i * j->hw + p0;
        for (int k = 0; k < n; k++) {
            t[i * n + k] = a[k] * a[k];
            u[i * n + k] = j->g->beta[i];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, n, c,
                1.0f, gamma, c, t, n, 1.0f, u, n);
    /* t = db a / sqrt(n); d = db sqrt(n) */
    for (int i = 0; i < c; i++) {
        const float *a = j->a->data + i * j->hw + p0;
        float *d = j->d->data + i * j->hw + p0;
        for (int k = 0; k < n; k++) {
            const float r = sqrtf(u[i * n + k]);
            t[i * n + k] = d[k] * a[k] / r;
            d[k] *= r;
        }
    }
    /* d += a * (gamma^T t) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, n, c,
                1.0f, gamma, c, t, n, 0.0f, u, n);
    for (int i = 0; i < c; i++) {
        const float *a = j->a->data + i * j->hw + p0;
        float *d = j->d->data + i * j->hw + p0;
        for (int k = 0; k < n; k++)
            d[k] += a[k] * u[i * n + k];
    }
    return 0;
}

int ff_nic_igdn_backward(const NicGdn *g, const NicTensor *a, NicTensor *d, NicExec *exec)
{
    GdnJob j = { .g = g, .a = a, .d = d, .exec = exec, .hw = (size_t)a->h * a->w };
    if (!g->inverse || a->c != g->channels || d->c != a->c || d->h != a->h || d->w != a->w)
        return AVERROR_BUG;
    exec->flops += 4ULL * g->channels * g->channels * j.hw;
    return exec->run(exec->opaque, igdn_backward_block, &j,
                     (j.hw + GDN_BLOCK - 1) / GDN_BLOCK);
}

int ff_nic_synthesis_grad_init(NicSynthesisGrad *s, const NicConv *conv, const NicGdn *gdn)
{
    size_t size = 0;
    float *p;

    memset(s, 0, sizeof(*s));
    s->conv = conv;
    s->gdn  = gdn;
    for (int i = 0; i < 4; i++) {
        if (!conv[i].upsample || conv[i].stride != 1 || conv[i].k != 3)
            return AVERROR_BUG;
        size += (size_t)conv[i].in * conv[i].out * 9 + conv[i].in;
    }
    if (!(s->arena = av_calloc(size, sizeof(float))))
        return AVERROR(ENOMEM);
    p = s->arena;
    for (int i = 0; i < 4; i++) {
        NicConv *a = &s->adj[i];
        *a = (NicConv){ .in = conv[i].out, .out = conv[i].in, .k = 3, .stride = 1 };
        ff_nic_conv_adjoint_weights(&conv[i], p);
        a->weight = p;
        p += (size_t)a->in * a->out * 9;
        a->bias = p;     /* zeros */
        p += a->out;
    }
    for (int i = 0; i < 4; i++) {
        int ret;
        if ((ret = ff_nic_winograd_init(&s->fwd_w[i], &conv[i])) < 0 ||
            (ret = ff_nic_winograd_init(&s->adj_w[i], &s->adj[i])) < 0)
            return ret;
    }
    return 0;
}

void ff_nic_synthesis_grad_free(NicSynthesisGrad *s)
{
    for (int i = 0; i < 3; i++)
        ff_nic_tensor_free(&s->act[i]);
    for (int i = 0; i < 2; i++)
        ff_nic_tensor_free(&s->tmp[i]);
    for (int i = 0; i < 4; i++) {
        ff_nic_winograd_free(&s->fwd_w[i]);
        ff_nic_winograd_free(&s->adj_w[i]);
    }
    av_freep(&s->arena);
}

static int copy_tensor(const NicTensor *src, NicTensor *dst)
{
    int ret = ff_nic_tensor_alloc(dst, src->c, src->h, src->w);
    if (ret >= 0)
        memcpy(dst->data, src->data, (size_t)src->c * src->h * src->w * sizeof(float));
    return ret;
}

int ff_nic_synthesis_forward(NicSynthesisGrad *s, const NicTensor *y, NicTensor *x,
                             NicExec *exec)
{
    const NicTensor *in = y;
    int ret;

    for (int i = 0; i < 3; i++) {
        if ((ret = ff_nic_winograd_conv(&s->fwd_w[i], in, &s->act[i], exec)) < 0 ||
            (ret = copy_tensor(&s->act[i], &s->tmp[0])) < 0 ||
            (ret = ff_nic_gdn(&s->gdn[i], &s->tmp[0], exec)) < 0)
            return ret;
        in = &s->tmp[0];
    }
    return ff_nic_winograd_conv(&s->fwd_w[3], in, x, exec);
}

int ff_nic_synthesis_backward(NicSynthesisGrad *s, const NicTensor *dx, NicTensor *dy,
                              NicExec *exec)
{
    NicTensor *t = &s->tmp[0], *u = &s->tmp[1];
    int ret;

    if ((ret = ff_nic_space_to_depth(dx, t)) < 0)
        return ret;
    for (int i = 3; i > 0; i--) {
        if ((ret = ff_nic_winograd_conv(&s->adj_w[i], t, u, exec)) < 0 ||
            (ret = ff_nic_igdn_backward(&s->gdn[i - 1], &s->act[i - 1], u, exec)) < 0 ||
            (ret = ff_nic_space_to_depth(u, t)) < 0)
            return ret;
    }
    return ff_nic_winograd_conv(&s->adj_w[0], t, dy, exec);
}
