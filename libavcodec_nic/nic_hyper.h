/*
 * nic: the hyperprior's synthesis side (scale indices and means from z_hat)
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

#ifndef AVCODEC_NIC_HYPER_H
#define AVCODEC_NIC_HYPER_H

#include <stdint.h>

#include "nic_model.h"
#include "nic_nn.h"

/**
 * A tile of the hyper-latent grid: z columns [x0, x1) and rows [y0, y1);
 * it covers latents [4 * x0, 4 * x1) x [4 * y0, 4 * y1).
 */
typedef struct NicHyperTile {
    int x0, x1, y0, y1;
} NicHyperTile;

/** Number of tiles the hz x wz grid is split into; tile i by ff_nic_hyper_tile(). */
int ff_nic_hyper_tiles(int hz, int wz);
void ff_nic_hyper_tile(NicHyperTile *t, int i, int hz, int wz);

/**
 * Scale indices of every latent of the tile (the integer path, exact on any
 * machine), written into idx: m->m planes of 4 hz x 4 wz bytes.
 * zq holds z_hat, m->n planes of hz x wz.
 */
int ff_nic_hyper_scales(const NicModel *m, const int32_t *zq, int hz, int wz,
                        const NicHyperTile *t, uint8_t *idx, NicExec *exec);

/**
 * Means of the latents of the tile: out becomes m->m planes of
 * 4 (t->y1 - t->y0) x 4 (t->x1 - t->x0).  tmp is scratch.
 */
int ff_nic_hyper_means(const NicModel *m, const int32_t *zq, int hz, int wz,
                       const NicHyperTile *t, NicTensor *out, NicTensor tmp[2],
                       NicExec *exec);

#endif /* AVCODEC_NIC_HYPER_H */
