/*
 * nic neural network layers on OpenBLAS
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

#ifndef AVCODEC_NIC_NN_H
#define AVCODEC_NIC_NN_H

#include <stddef.h>
#include <stdint.h>

#include "nic_model.h"

/** A float feature map, channels-first: data[(c * h + y) * w + x]. */
typedef struct NicTensor {
    float *data;
    int c, h, w;
    size_t allocated;  ///< bytes
} NicTensor;

/** The same for the integer path: exact integers held as doubles. */
typedef struct NicIntTensor {
    double *data;
    int c, h, w;
    size_t allocated;
} NicIntTensor;

/** Per-thread scratch memory of the layers. */
typedef struct NicScratch {
    void *cols;
    size_t cols_size;
    void *rows;
    size_t rows_size;
} NicScratch;

/**
 * How layers run their row blocks: run(opaque, fn, arg, nb_jobs) calls
 * fn(arg, job, thread) for every job, on up to nb_threads threads, each
 * thread with its own scratch[thread].  The FFmpeg glue maps this to
 * AVCodecContext.execute2.
 */
typedef struct NicExec {
    void *opaque;
    int nb_threads;
    int (*run)(void *opaque, int (*fn)(void *arg, int job, int thread),
               void *arg, int nb_jobs);
    NicScratch *scratch;   ///< nb_threads entries
    uint64_t flops;        ///< floating-point operations issued so far (for benchmarks)
} NicExec;

int  ff_nic_tensor_alloc(NicTensor *t, int c, int h, int w);
void ff_nic_tensor_free(NicTensor *t);
int  ff_nic_int_tensor_alloc(NicIntTensor *t, int c, int h, int w);
void ff_nic_int_tensor_free(NicIntTensor *t);

/**
 * Grow the scratch buffer *buf of *size bytes to at least bytes.
 * @return the buffer, or NULL on allocation failure
 */
void *ff_nic_scratch_get(void **buf, size_t *size, size_t bytes);

/** Initializes exec for nb_threads threads; run may be NULL (serial). */
int  ff_nic_exec_init(NicExec *exec, int nb_threads, void *opaque,
                      int (*run)(void *, int (*)(void *, int, int), void *, int));
void ff_nic_exec_free(NicExec *exec);

/**
 * out = conv(in) (+ depth-to-space when l->upsample), zero padding k/2.
 * out is (re)allocated; it must not alias in.
 */
int ff_nic_conv(const NicConv *l, const NicTensor *in, NicTensor *out, NicExec *exec);

/** In place GDN or IGDN. */
int ff_nic_gdn(const NicGdn *g, NicTensor *t, NicExec *exec);

/** In place ReLU. */
void ff_nic_relu(NicTensor *t);

/**
 * One layer of the integer scale path (docs/model-format.md): exact
 * integer accumulation, requantization and clamping, then depth-to-space
 * when l->upsample.  out must not alias in.
 */
int ff_nic_int_conv(const NicIntConv *l, const NicIntTensor *in, NicIntTensor *out,
                    NicExec *exec);

#endif /* AVCODEC_NIC_NN_H */
