/*
 * nic: 3x3 convolutions by Winograd's minimal filtering F(4x4, 3x3)
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

#ifndef AVCODEC_NIC_WINOGRAD_H
#define AVCODEC_NIC_WINOGRAD_H

#include "nic_model.h"
#include "nic_nn.h"

/** A stride-1 3x3 convolution with its weights in the Winograd domain. */
typedef struct NicWinograd {
    int in, out;        ///< channels of the convolution (out = 4 * C when upsampling)
    int upsample;       ///< depth-to-space by 2 after the convolution
    float *u;           ///< [36][out][in]: G g G^T of every filter
    const float *bias;  ///< [out], not owned
} NicWinograd;

/** Transform the weights of l (k = 3, stride 1). */
int  ff_nic_winograd_init(NicWinograd *w, const NicConv *l);
void ff_nic_winograd_free(NicWinograd *w);

/**
 * The same as ff_nic_conv() on the layer w was made from, with 4 times
 * fewer multiplications and float rounding of a slightly larger size.
 */
int ff_nic_winograd_conv(const NicWinograd *w, const NicTensor *in, NicTensor *out,
                         NicExec *exec);

#endif /* AVCODEC_NIC_WINOGRAD_H */
