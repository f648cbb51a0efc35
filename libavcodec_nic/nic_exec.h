/*
 * nic: running layer blocks on libavcodec's slice threads
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

#ifndef AVCODEC_NIC_EXEC_H
#define AVCODEC_NIC_EXEC_H

#include "avcodec.h"
#include "nic_nn.h"

/** Set up exec to run on avctx's slice threads (avctx->execute2). */
int ff_nic_exec_init_avctx(NicExec *exec, AVCodecContext *avctx);

/**
 * Keep OpenBLAS on one thread for the length of one encode or decode call
 * (the slice threads give the parallelism): returns the thread count to
 * hand back to ff_nic_blas_leave() afterwards.
 */
int ff_nic_blas_enter(void);
void ff_nic_blas_leave(int prev);

#endif /* AVCODEC_NIC_EXEC_H */
