/*
 * nic image coding: transforms and entropy coding of one image
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

#ifndef AVCODEC_NIC_CODEC_H
#define AVCODEC_NIC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "nic_bitstream.h"
#include "nic_model.h"
#include "nic_nn.h"

/** An 8-bit packed image: rgb24 (3 bytes a pixel) or gray8. */
typedef struct NicImage {
    uint8_t *data;
    ptrdiff_t linesize;
    int width, height;
    enum NicImageType type;
} NicImage;

struct NicOptimizeParams;

/**
 * Encode img with model m at the given quality into a complete packet
 * (header and payloads), allocated with av_malloc into *out.  With opt,
 * the latent is optimized for the decoder first (nic_optimize.h).
 */
int ff_nic_encode_image(const NicModel *m, int quality, const struct NicOptimizeParams *opt,
                        const NicImage *img, NicExec *exec, uint8_t **out, size_t *out_size,
                        void *logctx);

/**
 * For tests: the latent the encoder would code before any optimization,
 * y = g_a(img) * gain[quality], and for the hyperprior the means and the
 * scale indices of y (decoded from z_hat as the decoder does).
 */
int ff_nic_analyse_image(const NicModel *m, int quality, const NicImage *img, NicExec *exec,
                         NicTensor *y, NicTensor *means, uint8_t **idx);

/** The latents of one image, decoded, before synthesis. */
typedef struct NicDecoded {
    float *y;             ///< y_hat times the inverse gain: m->m planes of the latent grid
    int width, height;    ///< of the image
} NicDecoded;

/**
 * Decode the payloads of a packet whose header h has been parsed and
 * checked against m; payload holds h->z_size + h->y_size bytes.  Nothing
 * the size of the image is allocated before the payload sizes have been
 * checked against the model's tables, and the synthesis (the costly part)
 * is left to ff_nic_synthesize(), so a caller allocates its frame only for
 * a payload that has decoded whole.
 */
int ff_nic_decode_latents(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                          NicDecoded *lat, NicExec *exec, void *logctx);

/** Reconstruct the image from its latents; img has the header's size and type. */
int ff_nic_synthesize(const NicModel *m, const NicDecoded *lat, NicImage *img,
                      NicExec *exec);

void ff_nic_latents_free(NicDecoded *lat);

/** ff_nic_decode_latents() then ff_nic_synthesize(). */
int ff_nic_decode_image(const NicModel *m, const NicHeader *h, const uint8_t *payload,
                        NicImage *img, NicExec *exec, void *logctx);

/**
 * Check that a parsed header can be decoded with model m and that the
 * packet holds its payloads.
 */
int ff_nic_check_header(const NicModel *m, const NicHeader *h, size_t packet_size,
                        void *logctx);

#endif /* AVCODEC_NIC_CODEC_H */
