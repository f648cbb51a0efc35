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

#include <stdatomic.h>

#include <cblas.h>

#include "nic_exec.h"

typedef struct ExecJob {
    int (*fn)(void *arg, int job, int thread);
    void *arg;
    atomic_int error;
} ExecJob;

static int exec_job(AVCodecContext *avctx, void *arg, int job, int thread)
{
    ExecJob *j = arg;
    int ret;
    if (atomic_load_explicit(&j->error, memory_order_relaxed))
        return 0;
    ret = j->fn(j->arg, job, thread);
    if (ret < 0) {
        int expected = 0;
        atomic_compare_exchange_strong(&j->error, &expected, ret);
    }
    return ret;
}

static int exec_run(void *opaque, int (*fn)(void *, int, int), void *arg, int nb_jobs)
{
    AVCodecContext *avctx = opaque;
    ExecJob j = { .fn = fn, .arg = arg };
    atomic_init(&j.error, 0);
    avctx->execute2(avctx, exec_job, &j, NULL, nb_jobs);
    return atomic_load(&j.error);
}

int ff_nic_exec_init_avctx(NicExec *exec, AVCodecContext *avctx)
{
    int threads = avctx->active_thread_type & FF_THREAD_SLICE ? avctx->thread_count : 1;
    return ff_nic_exec_init(exec, threads, avctx, exec_run);
}

/*
 * Parallelism comes from the slice threads; a multi-threaded OpenBLAS
 * inside each of them would oversubscribe the cores (and with -threads 1
 * it would not be single-threaded).  OpenBLAS's thread count is process
 * wide (Debian 12's 0.3.21 has no per-call setting), so it is set to 1 for
 * the length of one encode or decode call only and then put back: another
 * OpenBLAS user in the process keeps its setting, except while a nic frame
 * is being coded at the same moment.
 */
int ff_nic_blas_enter(void)
{
    int prev = openblas_get_num_threads();
    if (prev != 1)
        openblas_set_num_threads(1);
    return prev;
}

void ff_nic_blas_leave(int prev)
{
    if (prev != 1 && prev > 0)
        openblas_set_num_threads(prev);
}
