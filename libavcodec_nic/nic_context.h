/*
 * nic: coding y with the context entropy model
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

#ifndef AVCODEC_NIC_CONTEXT_H
#define AVCODEC_NIC_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "nic_model.h"
#include "nic_nn.h"
#include "nic_rans.h"

/**
 * Append the symbols of y to e, pass by pass (docs/bitstream.md, "context").
 * m is a NIC_ARCH_CONTEXT model, zq holds z_hat (m->n planes of hz x wz)
 * and y the latent with the gains applied (m->m planes of 4 hz x 4 wz).
 * The parameters of every pass are computed from z_hat and the encoder's
 * own y_hat, exactly as the decoder computes them.
 */
int ff_nic_context_encode(const NicModel *m, const int32_t *zq, int hz, int wz,
                          const float *y, NicRansEncoder *e, NicExec *exec, void *logctx);

/**
 * Decode the y payload (the decoder's end check included) into y_hat:
 * out holds m->m planes of 4 hz x 4 wz floats, y_hat = (8 v + c) / 8 as
 * (float)(8 v + c) * 0.125f. On error out is partly written.
 * @return 0, AVERROR_INVALIDDATA for a corrupt payload, or another error
 */
int ff_nic_context_decode(const NicModel *m, const int32_t *zq, int hz, int wz,
                          const uint8_t *payload, size_t size, float *out, NicExec *exec,
                          void *logctx);

#endif /* AVCODEC_NIC_CONTEXT_H */
