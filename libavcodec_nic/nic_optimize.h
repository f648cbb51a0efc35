/*
 * nic: encoder-side optimization of the latent for the decoder
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

#ifndef AVCODEC_NIC_OPTIMIZE_H
#define AVCODEC_NIC_OPTIMIZE_H

#include <stdint.h>

#include "nic_codec.h"
#include "nic_model.h"
#include "nic_nn.h"

/** Highest effort level. */
#define NIC_EFFORT_MAX 3

/** One optimization schedule. */
typedef struct NicOptimizeParams {
    int iterations;         ///< Adam steps per tile
    float lr_start, lr_end; ///< Adam step size, decayed geometrically
    float tau_start, tau_end; ///< rounding temperature, decayed geometrically
    float noise;            ///< scale of the logistic noise of the rounding (1: SGA, 0: none)
} NicOptimizeParams;

/**
 * The schedule of an effort level, 1 .. NIC_EFFORT_MAX.
 * @return 0 or AVERROR(EINVAL)
 */
int ff_nic_optimize_params(NicOptimizeParams *p, int effort);

/**
 * The latent the encoder is about to code, and how it will be coded: the
 * fixed centre of each element's quantization (hyperprior: the means
 * from z_hat; factorized: the medians of quality q) and its table.
 */
typedef struct NicLatent {
    NicTensor *y;              ///< M x hl x wl, after the gain
    const NicTensor *means;    ///< hyperprior: same shape as y; factorized: NULL
    const uint8_t *idx;        ///< hyperprior: scale index of every element (m->m planes); else NULL
    int quality;
} NicLatent;

/**
 * Replace y by a latent that lowers rate + lambda * 255^2 * MSE of the
 * decoded image (cropped to img) under the model's own tables and
 * synthesis, with the means and scale indices held fixed, so that the
 * stream stays decodable by any nic decoder.  On return y - mean is an
 * integer for every element.  The image is optimized in tiles.
 */
int ff_nic_optimize_latent(const NicModel *m, const NicLatent *lat, const NicImage *img,
                           const NicOptimizeParams *p, NicExec *exec, void *logctx);

/**
 * The relaxed rounding of v between floor(v) and floor(v) + 1: returns the
 * weight w of the upper neighbour and sets *dw to dw/dv.  Annealed soft
 * rounding (Yang et al. 2020, "stochastic Gumbel annealing"): w is the
 * logistic function of (atanh(d) - atanh(1 - d)) / tau^2 + n / tau, where
 * d = v - floor(v) and n is a sample of the standard logistic noise
 * (0 for the deterministic relaxation).
 */
float ff_nic_relax_round(float v, float tau, float n, float *dw);

/**
 * For tests: the loss of ff_nic_optimize_latent() and its gradient with
 * respect to y, for an image that fits in one tile, at temperature tau
 * without noise.  grad is allocated like y.
 */
int ff_nic_optimize_gradient(const NicModel *m, const NicLatent *lat, const NicImage *img,
                             float tau, NicTensor *grad, double *loss, NicExec *exec);

#endif /* AVCODEC_NIC_OPTIMIZE_H */
