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

#include "nic_entropy.h"

/* The format is specified in docs/model-format.md. */

enum NicArch {
    NIC_ARCH_FACTORIZED = 1,
    NIC_ARCH_HYPERPRIOR = 2,
};

#define NIC_MODEL_MAX_INDEX 3
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
