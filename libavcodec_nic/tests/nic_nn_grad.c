/*
 * Unit test of the nic backward kernels against finite differences
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

/*
 * nic_nn_grad [MODEL.gguf...]
 *
 * The Winograd convolution is checked against the direct one.  The
 * backward kernels (adjoint convolution, space-to-depth, IGDN, the
 * whole synthesis transform) are checked on random layers against central
 * finite differences of a double-precision reference of the forward pass;
 * the relaxed rounding against finite differences of itself; and with each
 * model given, the gradient of the optimizer's whole loss with respect to
 * the latent against finite differences of that loss on a small image.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/common.h"
#include "libavutil/mem.h"
#include "libavcodec/nic_codec.h"
#include "libavcodec/nic_nn_grad.h"
#include "libavcodec/nic_optimize.h"
#include "libavcodec/nic_winograd.h"
#include "libavcodec/tests/nic_test_rng.h"


/* ---- double-precision references of the forward layers ---- */

/** An upsampling layer: 3x3 convolution to 4C channels, depth-to-space. */
static void ref_upconv(const NicConv *l, const double *in, int h, int w, double *out)
{
    const int c4 = l->out, oh = 2 * h, ow = 2 * w;
    for (int o = 0; o < c4; o++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = l->bias[o];
                for (int i = 0; i < l->in; i++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int iy = y + ky - 1, ix = x + kx - 1;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                acc += l->weight[((o * l->in + i) * 3 + ky) * 3 + kx] *
                                       in[((size_t)i * h + iy) * w + ix];
                        }
                out[((size_t)(o >> 2) * oh + 2 * y + ((o >> 1) & 1)) * ow + 2 * x + (o & 1)] = acc;
            }
}

static void ref_igdn(const NicGdn *g, double *t, int hw)
{
    const int c = g->channels;
    double *n = malloc(sizeof(*n) * c);
    for (int p = 0; p < hw; p++) {
        for (int i = 0; i < c; i++) {
            n[i] = g->beta[i];
            for (int j = 0; j < c; j++)
                n[i] += g->gamma[i * c + j] * t[(size_t)j * hw + p] * t[(size_t)j * hw + p];
        }
        for (int i = 0; i < c; i++)
            t[(size_t)i * hw + p] *= sqrt(n[i]);
    }
    free(n);
}

/** A synthesis of `layers` upsampling layers with IGDN between them. */
typedef struct RefNet {
    int layers;
    int ch[5];        ///< channels at each stage
    NicConv conv[4];
    NicGdn gdn[3];
} RefNet;

/** <g, net(x)> */
static double ref_forward(const RefNet *n, const double *x, int h, int w, const double *g)
{
    double *cur = malloc(sizeof(*cur) * n->ch[0] * h * w), *next, dot = 0;
    size_t size;
    memcpy(cur, x, sizeof(*cur) * n->ch[0] * h * w);
    for (int i = 0; i < n->layers; i++) {
        next = malloc(sizeof(*next) * n->ch[i + 1] * 4 * h * w);
        ref_upconv(&n->conv[i], cur, h, w, next);
        free(cur);
        cur = next;
        h *= 2;
        w *= 2;
        if (i < n->layers - 1)
            ref_igdn(&n->gdn[i], cur, h * w);
    }
    size = (size_t)n->ch[n->layers] * h * w;
    for (size_t i = 0; i < size; i++)
        dot += g[i] * cur[i];
    free(cur);
    return dot;
}

static void random_net(Rng *r, RefNet *n, int layers, const int *ch, float **arena)
{
    size_t size = 0;
    float *p;
    n->layers = layers;
    for (int i = 0; i <= layers; i++)
        n->ch[i] = ch[i];
    for (int i = 0; i < layers; i++)
        size += 4 * ch[i + 1] * ch[i] * 9 + 4 * ch[i + 1] + ch[i + 1] * (ch[i + 1] + 1);
    p = *arena = av_malloc_array(size, sizeof(float));
    for (int i = 0; i < layers; i++) {
        const int in = ch[i], out = ch[i + 1];
        n->conv[i] = (NicConv){ .in = in, .out = 4 * out, .k = 3, .stride = 1, .upsample = 1 };
        for (int k = 0; k < 4 * out * in * 9; k++)
            p[k] = rng_float(r) / sqrtf(in * 9);
        n->conv[i].weight = p;
        p += 4 * out * in * 9;
        for (int k = 0; k < 4 * out; k++)
            p[k] = 0.1f * rng_float(r);
        n->conv[i].bias = p;
        p += 4 * out;
        n->gdn[i] = (NicGdn){ .channels = out, .inverse = 1 };
        for (int k = 0; k < out; k++)
            p[k] = 0.5f + 0.5f * fabsf(rng_float(r));
        n->gdn[i].beta = p;
        p += out;
        for (int k = 0; k < out * out; k++)
            p[k] = 0.2f * fabsf(rng_float(r)) / out;
        n->gdn[i].gamma = p;
        p += out * out;
    }
}

/**
 * Check grad (float, the kernel's) against central differences of
 * ref_forward at every element of x: max |fd - grad| / (1 + |fd|).
 */
static double check_fd(const RefNet *n, const float *x, int h, int w, const double *g,
                       const float *grad)
{
    const size_t size = (size_t)n->ch[0] * h * w;
    const double step = 1e-4;
    double *xd = malloc(sizeof(*xd) * size), err = 0;
    for (size_t i = 0; i < size; i++)
        xd[i] = x[i];
    for (size_t i = 0; i < size; i++) {
        double fp, fm, fd;
        xd[i] = x[i] + step;
        fp = ref_forward(n, xd, h, w, g);
        xd[i] = x[i] - step;
        fm = ref_forward(n, xd, h, w, g);
        xd[i] = x[i];
        fd = (fp - fm) / (2 * step);
        err = fmax(err, fabs(fd - grad[i]) / (1 + fabs(fd)));
    }
    free(xd);
    return err;
}

/** One upsampling layer: space-to-depth then the adjoint convolution. */
static int test_conv(Rng *r, NicExec *exec, int cin, int cout, int h, int w)
{
    const int ch[2] = { cin, cout };
    RefNet n;
    NicConv adj;
    NicTensor g = { 0 }, t = { 0 }, dx = { 0 };
    float *arena, *wa = av_malloc_array(4 * cout * cin * 9 + cin, sizeof(float));
    double *gd = malloc(sizeof(*gd) * cout * 4 * h * w), err;
    float *x = malloc(sizeof(*x) * cin * h * w);

    random_net(r, &n, 1, ch, &arena);
    ff_nic_conv_adjoint_weights(&n.conv[0], wa);
    memset(wa + 4 * cout * cin * 9, 0, cin * sizeof(float));
    adj = (NicConv){ .in = 4 * cout, .out = cin, .k = 3, .stride = 1,
                     .weight = wa, .bias = wa + 4 * cout * cin * 9 };
    for (int i = 0; i < cin * h * w; i++)
        x[i] = rng_float(r);
    ff_nic_tensor_alloc(&g, cout, 2 * h, 2 * w);
    for (int i = 0; i < cout * 4 * h * w; i++)
        gd[i] = g.data[i] = rng_float(r);
    if (ff_nic_space_to_depth(&g, &t) < 0 || ff_nic_conv(&adj, &t, &dx, exec) < 0) {
        printf("conv backward failed\n");
        return 1;
    }
    err = check_fd(&n, x, h, w, gd, dx.data);
    av_free(arena);
    av_free(wa);
    free(gd);
    free(x);
    ff_nic_tensor_free(&g);
    ff_nic_tensor_free(&t);
    ff_nic_tensor_free(&dx);
    if (err > 1e-4) {
        printf("conv backward cin %d cout %d %dx%d: error %g\n", cin, cout, h, w, err);
        return 1;
    }
    return 0;
}

/** Winograd convolution against the direct one, on odd sizes too. */
static int test_winograd(Rng *r, NicExec *exec, int cin, int cout, int up, int h, int w)
{
    const int rows = up ? 4 * cout : cout;
    NicConv l = { .in = cin, .out = rows, .k = 3, .stride = 1, .upsample = up };
    NicWinograd wg;
    NicTensor in = { 0 }, a = { 0 }, b = { 0 };
    float *wt = av_malloc_array(rows * cin * 9 + rows, sizeof(float));
    double err = 0, scale = 0;

    for (int i = 0; i < rows * cin * 9 + rows; i++)
        wt[i] = rng_float(r);
    l.weight = wt;
    l.bias = wt + rows * cin * 9;
    ff_nic_tensor_alloc(&in, cin, h, w);
    for (int i = 0; i < cin * h * w; i++)
        in.data[i] = rng_float(r);
    if (ff_nic_winograd_init(&wg, &l) < 0 || ff_nic_conv(&l, &in, &a, exec) < 0 ||
        ff_nic_winograd_conv(&wg, &in, &b, exec) < 0 || a.c != b.c || a.h != b.h ||
        a.w != b.w) {
        printf("winograd %dx%d failed\n", h, w);
        return 1;
    }
    for (size_t i = 0; i < (size_t)a.c * a.h * a.w; i++) {
        err = fmax(err, fabs(a.data[i] - b.data[i]));
        scale = fmax(scale, fabs(a.data[i]));
    }
    ff_nic_winograd_free(&wg);
    ff_nic_tensor_free(&in);
    ff_nic_tensor_free(&a);
    ff_nic_tensor_free(&b);
    av_free(wt);
    if (err > 1e-5 * scale * sqrt(cin)) {
        printf("winograd cin %d cout %d up %d %dx%d: error %g (scale %g)\n",
               cin, cout, up, h, w, err, scale);
        return 1;
    }
    return 0;
}

/** Space-to-depth must invert depth-to-space exactly. */
static int test_space_to_depth(Rng *r, NicExec *exec)
{
    float wt[16 * 4 * 9] = { 0 }, b[16] = { 0 };
    NicConv id = { .in = 4, .out = 16, .k = 3, .stride = 1, .upsample = 1,
                   .weight = wt, .bias = b };
    NicTensor in = { 0 }, up = { 0 }, back = { 0 };
    int fails = 0;

    /* a convolution that copies channel o >> 2: output = depth-to-space of 4 copies */
    for (int o = 0; o < 16; o++)
        wt[(o * 4 + (o >> 2)) * 9 + 4] = 1;
    ff_nic_tensor_alloc(&in, 4, 3, 5);
    for (int i = 0; i < 60; i++)
        in.data[i] = rng_float(r);
    ff_nic_conv(&id, &in, &up, exec);
    ff_nic_space_to_depth(&up, &back);
    for (int c = 0; c < 16; c++)
        for (int p = 0; p < 15; p++)
            fails += back.data[c * 15 + p] != in.data[(c >> 2) * 15 + p];
    ff_nic_tensor_free(&in);
    ff_nic_tensor_free(&up);
    ff_nic_tensor_free(&back);
    if (fails)
        printf("space-to-depth: %d mismatches\n", fails);
    return !!fails;
}

/** The IGDN backward pass, through a network of one layer and IGDN after it. */
static int test_igdn(Rng *r, NicExec *exec, int c, int h, int w)
{
    float *beta = av_malloc_array(c, sizeof(float)), *gamma = av_malloc_array(c * c, sizeof(float));
    NicGdn g = { .channels = c, .inverse = 1, .beta = beta, .gamma = gamma };
    NicTensor a = { 0 }, d = { 0 };
    const int n = c * h * w;
    double *ad = malloc(sizeof(*ad) * n), *gd = malloc(sizeof(*gd) * n), err = 0;

    for (int i = 0; i < c; i++)
        beta[i] = 0.5f + fabsf(rng_float(r));
    for (int i = 0; i < c * c; i++)
        gamma[i] = 0.3f * fabsf(rng_float(r));
    ff_nic_tensor_alloc(&a, c, h, w);
    ff_nic_tensor_alloc(&d, c, h, w);
    for (int i = 0; i < n; i++) {
        a.data[i] = 2 * rng_float(r);
        gd[i] = d.data[i] = rng_float(r);
    }
    if (ff_nic_igdn_backward(&g, &a, &d, exec) < 0) {
        printf("igdn backward failed\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const double step = 1e-4;
        double f[2];
        for (int s = 0; s < 2; s++) {
            f[s] = 0;
            for (int k = 0; k < n; k++)
                ad[k] = a.data[k];
            ad[i] += s ? -step : step;
            ref_igdn(&g, ad, h * w);
            for (int k = 0; k < n; k++)
                f[s] += gd[k] * ad[k];
        }
        err = fmax(err, fabs((f[0] - f[1]) / (2 * step) - d.data[i]) /
                        (1 + fabs(d.data[i])));
    }
    ff_nic_tensor_free(&a);
    ff_nic_tensor_free(&d);
    av_free(beta);
    av_free(gamma);
    free(ad);
    free(gd);
    if (err > 1e-4) {
        printf("igdn backward c %d %dx%d: error %g\n", c, h, w, err);
        return 1;
    }
    return 0;
}

/** Four upsampling layers with IGDN: ff_nic_synthesis_backward(). */
static int test_synthesis(Rng *r, NicExec *exec, int h, int w)
{
    const int ch[5] = { 6, 5, 4, 5, 3 };
    NicSynthesisGrad s;
    RefNet n;
    NicTensor y = { 0 }, x = { 0 }, dx = { 0 }, dy = { 0 };
    float *arena;
    double *gd, err;
    size_t nx;

    random_net(r, &n, 4, ch, &arena);
    if (ff_nic_synthesis_grad_init(&s, n.conv, n.gdn) < 0)
        return 1;
    ff_nic_tensor_alloc(&y, ch[0], h, w);
    for (int i = 0; i < ch[0] * h * w; i++)
        y.data[i] = rng_float(r);
    if (ff_nic_synthesis_forward(&s, &y, &x, exec) < 0)
        return 1;
    nx = (size_t)x.c * x.h * x.w;
    gd = malloc(sizeof(*gd) * nx);
    ff_nic_tensor_alloc(&dx, x.c, x.h, x.w);
    for (size_t i = 0; i < nx; i++)
        gd[i] = dx.data[i] = rng_float(r);
    if (ff_nic_synthesis_backward(&s, &dx, &dy, exec) < 0)
        return 1;
    err = check_fd(&n, y.data, h, w, gd, dy.data);
    ff_nic_synthesis_grad_free(&s);
    ff_nic_tensor_free(&y);
    ff_nic_tensor_free(&x);
    ff_nic_tensor_free(&dx);
    ff_nic_tensor_free(&dy);
    av_free(arena);
    free(gd);
    if (err > 1e-3) {
        printf("synthesis backward %dx%d: error %g\n", h, w, err);
        return 1;
    }
    return 0;
}

static int test_relax(void)
{
    static const float taus[] = { 1.0f, 0.5f, 0.2f, 0.1f };
    double err = 0;
    int fails = 0;

    for (int t = 0; t < FF_ARRAY_ELEMS(taus); t++)
        for (float v = -2.9f; v < 3; v += 0.173f)
            for (float n = -2; n <= 2; n += 2) {
                const float h = 1e-3f;
                float dw, d0, d1, w = ff_nic_relax_round(v, taus[t], n, &dw);
                double fd;
                /* near an integer the relaxation is too steep for the step */
                if (fabsf(v - rintf(v)) < 0.02f)
                    continue;
                fd = (ff_nic_relax_round(v + h, taus[t], n, &d0) -
                             ff_nic_relax_round(v - h, taus[t], n, &d1)) / (2.0 * h);
                if (!(w >= 0 && w <= 1))
                    fails++;
                err = fmax(err, fabs(fd - dw) / (1 + fabs(dw)));
            }
    /* as tau goes to 0 without noise the relaxation becomes rounding */
    for (float v = -2.9f; v < 3; v += 0.173f) {
        float dw, w = ff_nic_relax_round(v, 0.02f, 0, &dw);
        fails += fabsf(floorf(v) + w - rintf(v)) > 1e-3f;
    }
    if (err > 2e-2 || fails) {
        printf("relaxed rounding: derivative error %g, %d failures\n", err, fails);
        return 1;
    }
    return 0;
}

/** The optimizer's loss gradient on a small image, against finite differences. */
static int test_loss(Rng *r, NicExec *exec, const char *path)
{
    NicModel *m;
    NicImage img = { .width = 40, .height = 36, .type = NIC_TYPE_RGB };
    NicTensor y = { 0 }, means = { 0 }, grad = { 0 }, g2 = { 0 };
    uint8_t *idx = NULL;
    NicLatent lat;
    const float tau = 0.5f, step = 0.03f;
    const int q = 4;
    double loss, err = 0;
    int fails = 0, checked = 0;
    uint8_t *px;

    if (ff_nic_model_load(&m, path, NULL) < 0) {
        printf("cannot load %s\n", path);
        return 1;
    }
    px = av_malloc(img.width * img.height * 3);
    img.data = px;
    img.linesize = img.width * 3;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++)
            for (int c = 0; c < 3; c++)
                px[(y * img.width + x) * 3 + c] = av_clip_uint8(128 + 60 * sinf(0.2f * x + c) *
                                                                cosf(0.15f * y) +
                                                                20 * rng_float(r));
    if (ff_nic_analyse_image(m, q, &img, exec, &y, &means, &idx) < 0)
        return 1;
    lat = (NicLatent){ &y, m->arch == NIC_ARCH_HYPERPRIOR ? &means : NULL,
                       m->arch == NIC_ARCH_HYPERPRIOR ? idx : NULL, q };
    if (ff_nic_optimize_gradient(m, &lat, &img, tau, &grad, &loss, exec) < 0)
        return 1;
    for (int k = 0; k < 40; k++) {
        const size_t i = rng_u32(r) % ((size_t)y.c * y.h * y.w);
        const float y0 = y.data[i];
        const float mu = lat.means ? means.data[i] :
                         m->medians[q * m->m + i / ((size_t)y.h * y.w)];
        double lp, lm, fd;
        /* stay off the integers, where the relaxation is not smooth */
        if (fabsf(y0 - mu - rintf(y0 - mu)) < 2 * step)
            continue;
        y.data[i] = y0 + step;
        ff_nic_optimize_gradient(m, &lat, &img, tau, &g2, &lp, exec);
        y.data[i] = y0 - step;
        ff_nic_optimize_gradient(m, &lat, &img, tau, &g2, &lm, exec);
        y.data[i] = y0;
        fd = (lp - lm) / (2 * step);
        err = fmax(err, fabs(fd - grad.data[i]) / (1 + fabs(fd)));
        fails += fabs(fd - grad.data[i]) > 0.05 * (1 + fabs(fd));
        if (getenv("NIC_TEST_VERBOSE"))
            printf("y[%zu] fd %g grad %g\n", i, fd, grad.data[i]);
        checked++;
    }
    printf("%s: loss %.1f, %d elements checked, max relative error %.3g\n",
           m->name, loss, checked, err);
    ff_nic_model_free(&m);
    ff_nic_tensor_free(&y);
    ff_nic_tensor_free(&means);
    ff_nic_tensor_free(&grad);
    ff_nic_tensor_free(&g2);
    av_free(idx);
    av_free(px);
    return fails || checked < 20;
}

int main(int argc, char **argv)
{
    Rng r = { 0x1234567887654321ULL };
    NicExec exec;
    int fails = 0;

    if (ff_nic_exec_init(&exec, 1, NULL, NULL) < 0)
        return 1;
    fails += test_winograd(&r, &exec, 3, 5, 0, 1, 1);
    fails += test_winograd(&r, &exec, 7, 4, 1, 9, 13);
    fails += test_winograd(&r, &exec, 16, 3, 1, 40, 23);
    fails += test_winograd(&r, &exec, 5, 9, 0, 250, 6);
    fails += test_space_to_depth(&r, &exec);
    fails += test_conv(&r, &exec, 3, 2, 3, 4);
    fails += test_conv(&r, &exec, 7, 5, 5, 2);
    fails += test_igdn(&r, &exec, 1, 2, 3);
    fails += test_igdn(&r, &exec, 6, 3, 5);
    fails += test_synthesis(&r, &exec, 2, 3);
    fails += test_relax();
    for (int i = 1; i < argc; i++)
        fails += test_loss(&r, &exec, argv[i]);
    ff_nic_exec_free(&exec);
    if (fails)
        printf("%d failures\n", fails);
    return !!fails;
}
