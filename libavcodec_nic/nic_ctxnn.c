/*
 * nic: the integer layers of the context model
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
 * The GEMM of the context model's layers: int16 x int16 products summed
 * in int32. The inner loop is a plain C dot product of 4 weight rows with
 * 2 input rows (8 sums), which compilers turn into pmaddwd/vpmaddwd
 * (multiply int16 pairs, add adjacent products into int32: exact here,
 * see nic_ctxnn.h). The same C is compiled once for the baseline
 * instruction set and, on x86 with GCC or Clang, once more for AVX2,
 * chosen at run time; both give the same integers.
 *
 * FFmpeg builds with -fno-tree-vectorize under GCC; this file turns GCC's
 * loop vectorizer back on for its own functions (Clang vectorizes by
 * default).
 */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include <stdint.h>

#include "config.h"

#include "libavutil/attributes.h"
#include "libavutil/cpu.h"

#include "nic_ctxnn.h"

#if ARCH_X86 && HAVE_AVX2 && (AV_GCC_VERSION_AT_LEAST(4, 9) || defined(__clang__))
#define NIC_CTX_AVX2 1
#else
#define NIC_CTX_AVX2 0
#endif

/** 4 outputs x 2 positions over k elements. */
static av_always_inline void dot_4x2(const int16_t *restrict w, int ldw,
                                     const int16_t *restrict x, int k,
                                     int32_t *restrict acc, int acc_stride)
{
    const int16_t *restrict w0 = w, *restrict w1 = w + ldw;
    const int16_t *restrict w2 = w + 2 * ldw, *restrict w3 = w + 3 * ldw;
    const int16_t *restrict a = x, *restrict b = x + k;
    int32_t s0a = 0, s0b = 0, s1a = 0, s1b = 0, s2a = 0, s2b = 0, s3a = 0, s3b = 0;

    for (int i = 0; i < k; i++) {
        s0a += w0[i] * a[i];
        s0b += w0[i] * b[i];
        s1a += w1[i] * a[i];
        s1b += w1[i] * b[i];
        s2a += w2[i] * a[i];
        s2b += w2[i] * b[i];
        s3a += w3[i] * a[i];
        s3b += w3[i] * b[i];
    }
    acc[0] = s0a;
    acc[1] = s1a;
    acc[2] = s2a;
    acc[3] = s3a;
    acc[acc_stride + 0] = s0b;
    acc[acc_stride + 1] = s1b;
    acc[acc_stride + 2] = s2b;
    acc[acc_stride + 3] = s3b;
}

/**
 * Weight rows in blocks of 4 (a block stays in L1 while it meets every
 * input row of the block), positions in pairs; results of the padding
 * rows go to a local buffer.
 */
static av_always_inline void gemm(const int16_t *w, int ldw, int out, const int16_t *x,
                                  int npos, int k, int32_t *acc, int acc_stride)
{
    int32_t tmp[2 * NIC_CTX_OUT_BLOCK];

    for (int o = 0; o < out; o += NIC_CTX_OUT_BLOCK) {
        const int16_t *wo = w + (size_t)o * ldw;
        const int full = out - o >= NIC_CTX_OUT_BLOCK;
        for (int p = 0; p < npos; p += NIC_CTX_POS_BLOCK) {
            int32_t *dst = acc + (size_t)p * acc_stride + o;
            if (full && p + 1 < npos) {
                dot_4x2(wo, ldw, x + (size_t)p * k, k, dst, acc_stride);
            } else {
                dot_4x2(wo, ldw, x + (size_t)p * k, k, tmp, NIC_CTX_OUT_BLOCK);
                for (int i = 0; i < FFMIN(out - o, NIC_CTX_OUT_BLOCK); i++) {
                    dst[i] = tmp[i];
                    if (p + 1 < npos)
                        dst[acc_stride + i] = tmp[NIC_CTX_OUT_BLOCK + i];
                }
            }
        }
    }
}

static void gemm_c(const int16_t *w, int ldw, int out, const int16_t *x, int npos, int k,
                   int32_t *acc, int acc_stride)
{
    gemm(w, ldw, out, x, npos, k, acc, acc_stride);
}

#if NIC_CTX_AVX2
__attribute__((target("avx2")))
static void gemm_avx2(const int16_t *w, int ldw, int out, const int16_t *x, int npos, int k,
                      int32_t *acc, int acc_stride)
{
    gemm(w, ldw, out, x, npos, k, acc, acc_stride);
}
#endif

NicCtxGemmFn ff_nic_ctx_gemm_get(void)
{
#if NIC_CTX_AVX2
    if (av_get_cpu_flags() & AV_CPU_FLAG_AVX2)
        return gemm_avx2;
#endif
    return gemm_c;
}
