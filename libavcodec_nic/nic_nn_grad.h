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

#ifndef AVCODEC_NIC_NN_GRAD_H
#define AVCODEC_NIC_NN_GRAD_H

#include "nic_model.h"
#include "nic_nn.h"
#include "nic_winograd.h"

/**
 * The synthesis transform g_s (four upsampling layers, IGDN between them)
 * with what its backward pass needs: the adjoint convolutions and the
 * inputs of the IGDN layers of the last forward pass.
 */
typedef struct NicSynthesisGrad {
    const NicConv *conv;  ///< g_s, 4 layers
    const NicGdn *gdn;    ///< its 3 IGDN layers
    NicConv adj[4];       ///< adjoint of each convolution
    float *arena;         ///< adjoint weights and their zero biases
    NicWinograd fwd_w[4]; ///< the convolutions, as run
    NicWinograd adj_w[4]; ///< their adjoints, as run
    NicTensor act[3];     ///< IGDN inputs of the last forward pass
    NicTensor tmp[2];
} NicSynthesisGrad;

/**
 * Fill w ([l->in][l->out][k][k]) with the weights of the adjoint of the
 * stride-1 convolution l: the convolution from l->out to l->in channels
 * with w[i][o][ky][kx] = l->weight[o][i][k-1-ky][k-1-kx].  With zero bias
 * it maps the gradient at the output of l to the gradient at its input.
 */
void ff_nic_conv_adjoint_weights(const NicConv *l, float *w);

/**
 * out = space-to-depth(in) by 2, the inverse (and adjoint) of the
 * depth-to-space of the upsampling layers: out channel 4c + 2dy + dx at
 * (i, j) is in channel c at (2i + dy, 2j + dx).  in->h and in->w are even.
 */
int ff_nic_space_to_depth(const NicTensor *in, NicTensor *out);

/**
 * Backward pass of the IGDN g in place: a holds the layer's input and d
 * the gradient at its output on entry, the gradient at its input on return.
 */
int ff_nic_igdn_backward(const NicGdn *g, const NicTensor *a, NicTensor *d, NicExec *exec);

int  ff_nic_synthesis_grad_init(NicSynthesisGrad *s, const NicConv *conv, const NicGdn *gdn);
void ff_nic_synthesis_grad_free(NicSynthesisGrad *s);

/**
 * x = g_s(y), keeping the activations for ff_nic_synthesis_backward().
 * The convolutions run as Winograd F(4x4, 3x3) (nic_winograd.h), so x
 * agrees with the decoder's synthesis up to float rounding.
 */
int ff_nic_synthesis_forward(NicSynthesisGrad *s, const NicTensor *y, NicTensor *x,
                             NicExec *exec);

/**
 * dy = gradient at the input of g_s, given dx, the gradient at its output,
 * at the point of the last forward pass.
 */
int ff_nic_synthesis_backward(NicSynthesisGrad *s, const NicTensor *dx, NicTensor *dy,
                              NicExec *exec);

#endif /* AVCODEC_NIC_NN_GRAD_H */
