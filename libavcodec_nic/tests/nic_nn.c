/*
 * Unit test of the nic layers against naive references
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "libavutil/common.h"
#include "libavutil/mem.h"
#include "libavcodec/nic_nn.h"
#include "libavcodec/tests/nic_test_rng.h"


static float at(const float *x, int c, int h, int w, int y, int xx)
{
    if (y < 0 || y >= h || xx < 0 || xx >= w)
        return 0;
    return x[((size_t)c * h + y) * w + xx];
}

/** Direct convolution (+ depth-to-space) in double precision. */
static double naive_conv(const NicConv *l, const NicTensor *in, int o, int oy, int ox)
{
    const int p = l->k / 2;
    double acc = l->bias[o];
    for (int i = 0; i < l->in; i++)
        for (int ky = 0; ky < l->k; ky++)
            for (int kx = 0; kx < l->k; kx++)
                acc += (double)l->weight[((o * l->in + i) * l->k + ky) * l->k + kx] *
                       at(in->data, i, in->h, in->w, oy * l->stride + ky - p,
                          ox * l->stride + kx - p);
    return acc;
}

static int test_conv(Rng *r, NicExec *exec, int cin, int cout, int k, int stride,
                     int up, int h, int w)
{
    NicConv l = { .in = cin, .out = up ? 4 * cout : cout, .k = k, .stride = stride,
                  .upsample = up };
    NicTensor in = { 0 }, out = { 0 };
    float *wt = av_malloc_array(l.out * cin * k * k, sizeof(float));
    float *b  = av_malloc_array(l.out, sizeof(float));
    double err = 0;
    int fails = 0;

    for (int i = 0; i < l.out * cin * k * k; i++)
        wt[i] = rng_float(r);
    for (int i = 0; i < l.out; i++)
        b[i] = rng_float(r);
    l.weight = wt;
    l.bias   = b;
    ff_nic_tensor_alloc(&in, cin, h, w);
    for (int i = 0; i < cin * h * w; i++)
        in.data[i] = rng_float(r);
    if (ff_nic_conv(&l, &in, &out, exec) < 0) {
        printf("conv %dx%d failed\n", h, w);
        return 1;
    }
    for (int c = 0; c < out.c; c++)
        for (int y = 0; y < out.h; y++)
            for (int x = 0; x < out.w; x++) {
                double ref = up ? naive_conv(&l, &in, 4 * c + 2 * (y & 1) + (x & 1), y >> 1, x >> 1)
                                : naive_conv(&l, &in, c, y, x);
                err = fmax(err, fabs(ref - out.data[((size_t)c * out.h + y) * out.w + x]));
            }
    if (err > 1e-3 * cin * k * k / 9.0 + 1e-4) {
        printf("conv cin %d cout %d k %d s %d up %d %dx%d: max error %g\n",
               cin, cout, k, stride, up, h, w, err);
        fails++;
    }
    ff_nic_tensor_free(&in);
    ff_nic_tensor_free(&out);
    av_free(wt);
    av_free(b);
    return fails;
}

static int test_gdn(Rng *r, NicExec *exec, int c, int h, int w, int inverse)
{
    float *beta = av_malloc_array(c, sizeof(float)), *gamma = av_malloc_array(c * c, sizeof(float));
    NicGdn g = { .channels = c, .inverse = inverse, .beta = beta, .gamma = gamma };
    NicTensor t = { 0 };
    float *orig;
    double err = 0;

    for (int i = 0; i < c; i++)
        beta[i] = 0.5f + fabsf(rng_float(r));
    for (int i = 0; i < c * c; i++)
        gamma[i] = 0.1f * fabsf(rng_float(r));
    ff_nic_tensor_alloc(&t, c, h, w);
    orig = av_malloc_array(c * h * w, sizeof(float));
    for (int i = 0; i < c * h * w; i++)
        orig[i] = t.data[i] = 3 * rng_float(r);
    ff_nic_gdn(&g, &t, exec);
    for (int p = 0; p < h * w; p++)
        for (int i = 0; i < c; i++) {
            double n = beta[i], ref;
            for (int j = 0; j < c; j++)
                n += (double)gamma[i * c + j] * orig[j * h * w + p] * orig[j * h * w + p];
            ref = inverse ? orig[i * h * w + p] * sqrt(n) : orig[i * h * w + p] / sqrt(n);
            err = fmax(err, fabs(ref - t.data[i * h * w + p]) / (1 + fabs(ref)));
        }
    ff_nic_tensor_free(&t);
    av_free(orig);
    av_free(beta);
    av_free(gamma);
    if (err > 1e-5) {
        printf("gdn c %d %dx%d inverse %d: relative error %g\n", c, h, w, inverse, err);
        return 1;
    }
    return 0;
}

/** The integer layer must equal a scalar int64 evaluation exactly. */
static int test_int_conv(Rng *r, NicExec *exec, int cin, int cout, int up, int h, int w,
                         int in_min, int in_max, int out_max)
{
    const int rows = up ? 4 * cout : cout;
    NicIntConv l = { .in = cin, .out = rows, .upsample = up, .shift = 31, .out_max = out_max };
    double *wt = av_malloc_array(rows * cin * 9, sizeof(double));
    int32_t *bias = av_malloc_array(rows, sizeof(int32_t)), *mult = av_malloc_array(rows, sizeof(int32_t));
    int64_t *add = av_malloc_array(rows, sizeof(int64_t));
    NicIntTensor in = { 0 }, out = { 0 };
    int fails = 0;

    for (int i = 0; i < rows * cin * 9; i++)
        wt[i] = (int)(rng_u32(r) % 255) - 127;
    for (int o = 0; o < rows; o++) {
        bias[o] = (int)(rng_u32(r) % 200001) - 100000;
        mult[o] = rng_u32(r) % (1u << 20);
        add[o]  = (int64_t)1 << 30;
    }
    l.weight = wt;
    l.bias = bias;
    l.mult = mult;
    l.add = add;
    ff_nic_int_tensor_alloc(&in, cin, h, w);
    for (int i = 0; i < cin * h * w; i++)
        in.data[i] = in_min + (int)(rng_u32(r) % (in_max - in_min + 1));
    ff_nic_int_conv(&l, &in, &out, exec);
    for (int o = 0; o < rows; o++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int64_t acc = bias[o], v;
                int oy = up ? 2 * y + ((o >> 1) & 1) : y, ox = up ? 2 * x + (o & 1) : x;
                int c = up ? o >> 2 : o;
                for (int i = 0; i < cin; i++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - 1, ix = x + kx - 1;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                acc += (int64_t)wt[((o * cin + i) * 3 + ky) * 3 + kx] *
                                       (int64_t)in.data[((size_t)i * h + iy) * w + ix];
                        }
                v = (acc * mult[o] + add[o]) >> l.shift;
                v = v < 0 ? 0 : v > out_max ? out_max : v;
                if (out.data[((size_t)c * out.h + oy) * out.w + ox] != (double)v)
                    fails++;
            }
    if (fails)
        printf("int conv cin %d cout %d up %d %dx%d: %d mismatches\n", cin, cout, up, h, w, fails);
    ff_nic_int_tensor_free(&in);
    ff_nic_int_tensor_free(&out);
    av_free(wt);
    av_free(bias);
    av_free(mult);
    av_free(add);
    return !!fails;
}

int main(void)
{
    Rng r = { 0x9e3779b97f4a7c15ULL };
    NicExec exec;
    int fails = 0, tests = 0;
    static const int sizes[][2] = { { 1, 1 }, { 2, 3 }, { 5, 1 }, { 7, 9 }, { 16, 16 }, { 33, 17 } };

    if (ff_nic_exec_init(&exec, 1, NULL, NULL) < 0)
        return 1;
    for (int i = 0; i < FF_ARRAY_ELEMS(sizes); i++) {
        int h = sizes[i][0], w = sizes[i][1];
        fails += test_conv(&r, &exec, 3, 8, 5, 2, 0, h, w);
        fails += test_conv(&r, &exec, 8, 6, 3, 1, 0, h, w);
        fails += test_conv(&r, &exec, 6, 5, 3, 1, 1, h, w);
        fails += test_gdn(&r, &exec, 7, h, w, 0);
        fails += test_gdn(&r, &exec, 7, h, w, 1);
        fails += test_int_conv(&r, &exec, 5, 3, 1, h, w, -127, 127, 255);
        fails += test_int_conv(&r, &exec, 6, 4, 0, h, w, 0, 255, 63);
        tests += 7;
    }
    /* a wide map, several row blocks, and the extremes of the int path */
    fails += test_conv(&r, &exec, 32, 16, 5, 2, 0, 40, 300);
    fails += test_int_conv(&r, &exec, 128, 2, 0, 6, 5, 255, 255, 1 << 20);
    tests += 2;
    ff_nic_exec_free(&exec);
    printf("%d passed, %d failed\n", tests - fails, fails);
    return !!fails;
}
