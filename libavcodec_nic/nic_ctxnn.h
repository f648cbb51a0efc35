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
 * A layer of the context model (docs/model-format.md, "Context model") is
 * a convolution with int8 weights over integer inputs, evaluated only at
 * the positions a caller asks for:
 *
 *     acc   = bias + sum over taps and channels of W * x        (int32)
 *     value = clamp(((acc * mult + add) >> shift) + base, lo, hi)  (int64)
 *
 * Every input of these layers fits in int16 (z_hat clamped to 127,
 * activations 0..255, latents clamped to 2047), and the model loader
 * checks that no accumulator can leave int32 for inputs in range, so the
 * int16 x int16 products summed in int32 are exact in any order, on any
 * instruction set.
 *
 * Maps are stored position-major (HWC): the channels of one position are
 * contiguous int16. A layer gathers, for each position of a block, its
 * taps' channels into one row (im2col), then multiplies the weight rows
 * with those rows (ff_nic_ctx_gemm). Rows are NIC_CTX_ALIGN-element
 * multiples, zero padded, so the inner loop needs no tail.
 */

#ifndef AVCODEC_NIC_CTXNN_H
#define AVCODEC_NIC_CTXNN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libavutil/attributes.h"
#include "libavutil/common.h"

/** Row lengths (weights and gathered inputs) are multiples of this. */
#define NIC_CTX_ALIGN 16
/** Output rows of a weight matrix are read in blocks of this many. */
#define NIC_CTX_OUT_BLOCK 4
/** Gathered rows are read in blocks of this many. */
#define NIC_CTX_POS_BLOCK 2

/**
 * acc[p * acc_stride + o] = sum over i < k of w[o * ldw + i] * x[p * k + i]
 * for o < out and p < npos. k is a multiple of NIC_CTX_ALIGN, k <= ldw;
 * w holds out rounded up to NIC_CTX_OUT_BLOCK rows, x npos rounded up to
 * NIC_CTX_POS_BLOCK rows (the extra rows are read, their results dropped).
 */
typedef void (*NicCtxGemmFn)(const int16_t *w, int ldw, int out, const int16_t *x, int npos,
                             int k, int32_t *acc, int acc_stride);

/** The GEMM for this CPU (all versions give the same integers). */
NicCtxGemmFn ff_nic_ctx_gemm_get(void);

/** n rounded up to NIC_CTX_ALIGN. */
static inline int ff_nic_ctx_align(int n)
{
    return FFALIGN(n, NIC_CTX_ALIGN);
}

/**
 * One gathered row: for every tap t, the n int16 at src + off[t], one
 * after the other; then zeros up to the row length len.
 */
static av_always_inline void ff_nic_ctx_gather(int16_t *row, int len, const int16_t *src,
                                               const ptrdiff_t *off, int taps, int n)
{
    int16_t *dst = row;
    for (int t = 0; t < taps; t++, dst += n)
        memcpy(dst, src + off[t], n * sizeof(*dst));
    memset(dst, 0, (len - (dst - row)) * sizeof(*dst));
}

/** (acc * mult + add) >> shift with an int64 product and an arithmetic shift. */
static av_always_inline int64_t ff_nic_ctx_requant(int32_t acc, int32_t mult, int64_t add,
                                                  int shift)
{
    return ((int64_t)acc * mult + add) >> shift;
}

#endif /* AVCODEC_NIC_CTXNN_H */
