/*
 * nic model files: loading and validation
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

#ifndef AVCODEC_NIC_MODEL_H
#define AVCODEC_NIC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nic_bitstream.h"
#include "nic_entropy.h"
#include "nic_mixture.h"

/* The format is specified in docs/model-format.md. */

enum NicArch {
    NIC_ARCH_FACTORIZED = 1,
    NIC_ARCH_HYPERPRIOR = 2,
    NIC_ARCH_CONTEXT    = 3,
};

#define NIC_MAX_QUALITIES   64

/** What a model was trained to minimize besides the rate. */
enum NicMetric {
    NIC_METRIC_MSE    = 1,
    NIC_METRIC_MSSSIM = 2,
};

/** A float convolution, optionally followed by depth-to-space by 2. */
typedef struct NicConv {
    int in, out;        ///< channels of the convolution itself (out = 4 * C when upsampling)
    int k, stride;
    int upsample;       ///< depth-to-space by 2 after the convolution
    const float *weight; ///< [out][in][k][k]
    const float *bias;   ///< [out]
} NicConv;

/** GDN (divide) or IGDN (multiply) with effective parameters. */
typedef struct NicGdn {
    int channels;
    int inverse;
    const float *beta;  ///< [channels]
    const float *gamma; ///< [channels][channels]
} NicGdn;

/** One layer of the integer scale path: 3x3, stride 1, then requantization. */
typedef struct NicIntConv {
    int in, out;
    int upsample;
    int shift;
    int out_max;          ///< outputs are clamped to [0, out_max]
    const double *weight; ///< int8 values, held as doubles for exact dgemm
    const int32_t *bias;
    const int32_t *mult;
    const int64_t *add;
} NicIntConv;

/**
 * The requantization of a context-model layer: per output c,
 * clamp(((acc * mult[c] + add[c]) >> shift) + base, lo[c], hi[c]).
 */
typedef struct NicRequant {
    const int32_t *mult;
    const int64_t *add;
    int shift;
    const int32_t *lo, *hi; ///< NULL for activations: [0, 255]
} NicRequant;

/**
 * A layer of the context model, its int8 weights widened to int16 in the
 * order of the rows nic_ctxnn.h gathers: tap-major, then input channel.
 */
typedef struct NicCtxLayer {
    int out;
    int k;                  ///< elements of a weight row, a multiple of NIC_CTX_ALIGN
    const int16_t *weight;  ///< out rounded up to NIC_CTX_OUT_BLOCK rows of k, then a block
                            ///< of zero rows: any range of rows is readable in blocks
    const int32_t *bias;    ///< [passes][out]
    NicRequant rq[2];       ///< per pass (group layer 1), else rq[0]
} NicCtxLayer;

/**
 * The networks of one channel group. Layer 1's rows hold the 3x3 part (9
 * taps of the 2N + start context channels, padded to k0 elements), then
 * the 12 taps of the 5x5 anchor part whose ky + kx is odd (the others only
 * ever meet zeros) over the group's own size channels; the anchor pass
 * uses the first k0 elements only.
 */
typedef struct NicCtxGroup {
    int start, size;        ///< the group's channels of y
    int k0;
    NicCtxLayer l1;
    NicCtxLayer l2[2], l3[2]; ///< per pass
} NicCtxGroup;

#define NIC_CTX_MAX_GROUPS 64
#define NIC_CTX_Y_MAX      2047  ///< |y_hat| (1/8 units) as a context input

/** The context entropy model (docs/context-model.md). */
typedef struct NicContextModel {
    int components;         ///< K: 1 (a Gaussian) .. NIC_MIX_MAX_K
    int hidden;
    int nb_groups;
    NicCtxGroup *group;
    NicCtxLayer hyper[2][3]; ///< [0: scale, 1: mean][layer]
    NicMixTables mix;       ///< K > 1
} NicContextModel;

/** A set of CDF tables (one tensor pair of the file). */
typedef struct NicCdfSet {
    int count;
    NicCdf *tables;
} NicCdfSet;

typedef struct NicModel {
    char name[32];
    int index;            ///< bitstream model index
    enum NicArch arch;
    int n, m;
    int qualities;
    uint32_t hash;
    uint64_t steps;
    int scale_levels;
    enum NicMetric metric;
    float lambda[NIC_MAX_QUALITIES]; ///< rate-distortion weight of each quality

    const float *gain;     ///< [qualities][m]
    const float *inv_gain; ///< [qualities][m]
    const float *medians;  ///< factorized: [qualities][m]

    NicConv g_a[4];
    NicGdn  g_a_gdn[3];
    NicConv g_s[4];
    NicGdn  g_s_gdn[3];
    NicConv h_a[3];
    NicConv h_s_mean[3];
    NicIntConv h_s_scale[3];

    NicCdfSet cdf_y;
    NicCdfSet cdf_z;

    NicContextModel ctx;  ///< NIC_ARCH_CONTEXT

    uint8_t *arena;       ///< owns every array above
} NicModel;

/**
 * Parse and validate a model file held in memory.
 * @return 0 or a negative AVERROR; on failure *out is untouched and an
 *         error naming the problem has been logged.
 */
int ff_nic_model_parse(NicModel **out, const uint8_t *buf, size_t size, void *logctx);

/** Read and parse a model file. */
int ff_nic_model_load(NicModel **out, const char *path, void *logctx);

/**
 * Find and load the model with the given name: in dir when given, else
 * in each directory of the NIC_MODEL_PATH environment variable (':'
 * separated), else in the directory compiled in as NIC_MODEL_DIR.
 */
int ff_nic_model_open(NicModel **out, const char *name, const char *dir, void *logctx);

/** Model name of a bitstream model index, or NULL. */
const char *ff_nic_model_name(int index);

void ff_nic_model_free(NicModel **model);

#endif /* AVCODEC_NIC_MODEL_H */
