/*
 * nictool: the nic codec core without FFmpeg's demuxers and muxers, for
 * tests, parity checks against PyTorch, and benchmarks.
 *
 *   nictool encode MODEL.gguf QUALITY in.ppm out.nic [EFFORT]
 *   nictool decode MODEL.gguf in.nic out.ppm
 *   nictool bench MODEL.gguf QUALITY in.ppm RUNS [EFFORT]
 *                                     (median encode/decode seconds, GFLOP/s)
 *   nictool grad MODEL.gguf QUALITY TAU in.ppm out.bin
 *   nictool analyse MODEL.gguf QUALITY in.ppm out.bin
 *   nictool latents MODEL.gguf in.nic out.bin
 *
 * EFFORT is an effort level (0 .. 3) or an explicit schedule
 * ITERATIONS:LR_START:LR_END:TAU_START:TAU_END:NOISE (nic_optimize.h).
 * grad writes, for an image of at most 768x768, the loss of the latent
 * optimization at temperature TAU (no noise) and its gradient with respect
 * to y, for models/grad_parity.py: int32 M, H, W (the latent), float64
 * loss, then float32 arrays of M*H*W: y, the means, the scale indices (or
 * the medians and -1 for the factorized model) and the gradient.
 * analyse writes the latent the encoder codes, y = g_a(image) * gain, and
 * latents what the decoder hands to the synthesis, y_hat * inv_gain, both
 * as int32 M, H, W then float32 M*H*W (models/ctxparity.py).
 *
 * Images are binary PPM (P6) or PGM (P5), 8 bits.  Threads: NIC_THREADS
 * (default 1), run on pthreads the way libavcodec's slice threads run them.
 * NIC_VERBOSE=1 prints the codec's verbose log (the optimization's progress).
 * NIC_CPUFLAGS changes the CPU flags the codec sees, as ffmpeg's -cpuflags
 * (e.g. "-avx2").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "libavutil/cpu.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "libavcodec/nic_bitstream.h"
#include "libavcodec/nic_codec.h"
#include "libavcodec/nic_entropy.h"
#include "libavcodec/nic_model.h"
#include "libavcodec/nic_nn.h"
#include "libavcodec/nic_optimize.h"

typedef struct Pool {
    int (*fn)(void *, int, int);
    void *arg;
    int nb_jobs, next, error;
    pthread_mutex_t lock;
} Pool;

typedef struct Worker {
    Pool *pool;
    int thread;
} Worker;

static void *worker(void *p)
{
    Worker *w = p;
    Pool *pool = w->pool;
    for (;;) {
        int job, ret;
        pthread_mutex_lock(&pool->lock);
        job = pool->next++;
        pthread_mutex_unlock(&pool->lock);
        if (job >= pool->nb_jobs)
            return NULL;
        if ((ret = pool->fn(pool->arg, job, w->thread)) < 0) {
            pthread_mutex_lock(&pool->lock);
            pool->error = ret;
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

static int run_threads(void *opaque, int (*fn)(void *, int, int), void *arg, int nb_jobs)
{
    int threads = *(int *)opaque;
    Pool pool = { fn, arg, nb_jobs, 0, 0 };
    pthread_t tid[64];
    Worker w[64];
    pthread_mutex_init(&pool.lock, NULL);
    for (int i = 0; i < threads; i++) {
        w[i] = (Worker){ &pool, i };
        pthread_create(&tid[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    return pool.error;
}

static int read_pnm(const char *path, NicImage *img)
{
    FILE *f = fopen(path, "rb");
    char magic[3] = { 0 };
    int maxval, ch;
    if (!f || fscanf(f, "%2s %d %d %d", magic, &img->width, &img->height, &maxval) != 4 ||
        maxval != 255 || (strcmp(magic, "P6") && strcmp(magic, "P5"))) {
        fprintf(stderr, "%s: not an 8-bit binary PPM/PGM\n", path);
        return -1;
    }
    fgetc(f);
    img->type = magic[1] == '6' ? NIC_TYPE_RGB : NIC_TYPE_GRAY;
    ch = img->type == NIC_TYPE_RGB ? 3 : 1;
    img->linesize = (ptrdiff_t)img->width * ch;
    img->data = malloc(img->linesize * img->height);
    if (fread(img->data, img->linesize, img->height, f) != img->height) {
        fprintf(stderr, "%s: truncated\n", path);
        return -1;
    }
    fclose(f);
    return 0;
}

static int write_pnm(const char *path, const NicImage *img)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "P%c\n%d %d\n255\n", img->type == NIC_TYPE_RGB ? '6' : '5',
            img->width, img->height);
    fwrite(img->data, img->linesize, img->height, f);
    return fclose(f);
}

/** "0" (none), a level, or a schedule; returns 0 with *opt NULL for none. */
static int parse_effort(const char *arg, NicOptimizeParams *p, const NicOptimizeParams **opt)
{
    int effort;
    *opt = NULL;
    if (!arg)
        return 0;
    if (strchr(arg, ':')) {
        if (sscanf(arg, "%d:%f:%f:%f:%f:%f", &p->iterations, &p->lr_start, &p->lr_end,
                   &p->tau_start, &p->tau_end, &p->noise) != 6)
            return -1;
        *opt = p;
        return 0;
    }
    effort = atoi(arg);
    if (!effort)
        return 0;
    if (ff_nic_optimize_params(p, effort) < 0)
        return -1;
    *opt = p;
    return 0;
}

static int write_floats(FILE *f, const float *v, size_t n)
{
    return fwrite(v, sizeof(*v), n, f) == n ? 0 : -1;
}

/** grad MODEL QUALITY TAU in.ppm out.bin (see the top of this file) */
static int dump_gradient(NicModel *m, int quality, float tau, const NicImage *img,
                         const char *path, NicExec *exec)
{
    NicTensor y = { 0 }, means = { 0 }, grad = { 0 };
    uint8_t *idx = NULL;
    const int hyper = m->arch == NIC_ARCH_HYPERPRIOR;
    double loss;
    float *buf;
    size_t n;
    FILE *f;
    int ret;

    if ((ret = ff_nic_analyse_image(m, quality, img, exec, &y, &means, &idx)) < 0 ||
        (ret = ff_nic_optimize_gradient(m, &(NicLatent){ &y, hyper ? &means : NULL,
                                                         hyper ? idx : NULL, quality },
                                        img, tau, &grad, &loss, exec)) < 0) {
        fprintf(stderr, "gradient failed: %s\n", av_err2str(ret));
        return 1;
    }
    n = (size_t)y.c * y.h * y.w;
    if (!(buf = malloc(n * sizeof(*buf))) || !(f = fopen(path, "wb")))
        return 1;
    fwrite(&y.c, 4, 1, f);
    fwrite(&y.h, 4, 1, f);
    fwrite(&y.w, 4, 1, f);
    fwrite(&loss, 8, 1, f);
    write_floats(f, y.data, n);
    for (size_t i = 0; i < n; i++)
        buf[i] = hyper ? means.data[i] : m->medians[quality * m->m + i / ((size_t)y.h * y.w)];
    write_floats(f, buf, n);
    for (size_t i = 0; i < n; i++)
        buf[i] = hyper ? idx[i] : -1;
    write_floats(f, buf, n);
    write_floats(f, grad.data, n);
    ret = fclose(f) ? 1 : 0;
    printf("{\"loss\": %.6f, \"elements\": %zu}\n", loss, n);
    free(buf);
    ff_nic_tensor_free(&y);
    ff_nic_tensor_free(&means);
    ff_nic_tensor_free(&grad);
    av_free(idx);
    return ret;
}

/** int32 c, h, w then the floats of a latent */
static int write_latent(const char *path, const float *v, int c, int h, int w)
{
    FILE *f = fopen(path, "wb");
    int ret;
    if (!f)
        return 1;
    fwrite(&c, 4, 1, f);
    fwrite(&h, 4, 1, f);
    fwrite(&w, 4, 1, f);
    ret = write_floats(f, v, (size_t)c * h * w);
    return fclose(f) || ret ? 1 : 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/** The whole file at path into *buf (av_malloc'd) and *size. */
static int read_file(const char *path, uint8_t **buf, size_t *size)
{
    FILE *f = fopen(path, "rb");
    long n;
    int ok;
    if (!f)
        return -1;
    ok = !fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
         (*buf = av_malloc(n ? n : 1)) && fread(*buf, 1, n, f) == (size_t)n;
    fclose(f);
    if (!ok)
        return -1;
    *size = n;
    return 0;
}

static int decode_file(NicModel *m, const uint8_t *buf, size_t size, NicImage *out,
                       NicExec *exec)
{
    NicHeader h;
    int ret;
    if ((ret = ff_nic_header_parse(&h, buf, size, NULL)) < 0 ||
        (ret = ff_nic_check_header(m, &h, size, NULL)) < 0)
        return ret;
    out->width    = h.width;
    out->height   = h.height;
    out->type     = h.type;
    out->linesize = (ptrdiff_t)h.width * (h.type == NIC_TYPE_RGB ? 3 : 1);
    out->data     = malloc(out->linesize * h.height);
    return ff_nic_decode_image(m, &h, buf + NIC_HEADER_SIZE, out, exec, NULL);
}

int main(int argc, char **argv)
{
    NicModel *m = NULL;
    NicExec exec;
    NicImage img = { 0 };
    NicOptimizeParams params;
    const NicOptimizeParams *opt;
    const char *env = getenv("NIC_THREADS"), *cpuflags = getenv("NIC_CPUFLAGS");
    int threads = env ? atoi(env) : 1;
    uint8_t *buf = NULL;
    size_t size;
    int ret;

    if (argc < 4) {
        fprintf(stderr, "usage: nictool encode|decode|bench|load|forge MODEL ...\n");
        return 2;
    }
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    openblas_set_num_threads(1);
    av_log_set_level(getenv("NIC_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_ERROR);
    if (cpuflags && *cpuflags) {
        unsigned flags = av_get_cpu_flags();
        if (av_parse_cpu_caps(&flags, cpuflags) < 0) {
            fprintf(stderr, "bad NIC_CPUFLAGS %s\n", cpuflags);
            return 2;
        }
        av_force_cpu_flags(flags);
    }

    /* load MODEL RUNS: median seconds to read, check and convert a model file */
    if (!strcmp(argv[1], "load") && argc == 4) {
        int runs = atoi(argv[3]);
        double t[64];
        if (runs < 1 || runs > 64)
            return 2;
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            if (ff_nic_model_load(&m, argv[2], NULL) < 0) {
                fprintf(stderr, "cannot load model %s\n", argv[2]);
                return 1;
            }
            t[r] = now() - t0;
            ff_nic_model_free(&m);
        }
        qsort(t, runs, sizeof(double), cmp_double);
        printf("{\"load_s\": %.4f, \"runs\": %d}\n", t[runs / 2], runs);
        return 0;
    }
    if (argc < 5) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }

    /*
     * forge MODEL QUALITY WIDTH HEIGHT YBYTES OUT: a hostile packet for the
     * tests: a valid header, a valid z payload (every z value 0) for a
     * hyperprior or context model, then YBYTES bytes of junk where the y
     * payload belongs.
     */
    if (!strcmp(argv[1], "forge") && argc == 8) {
        const int q = atoi(argv[3]), w = atoi(argv[4]), h = atoi(argv[5]);
        const size_t ybytes = strtoul(argv[6], NULL, 10);
        NicHeader hd = { .width = w, .height = h, .type = NIC_TYPE_RGB, .quality = q };
        uint8_t hdr[NIC_HEADER_SIZE];
        size_t zsize = 0;
        FILE *f;
        if (ff_nic_model_load(&m, argv[2], NULL) < 0)
            return 1;
        hd.model      = m->index;
        hd.model_hash = m->hash;
        if (q < 0 || q >= m->qualities || w < 1 || w > 65535 || h < 1 || h > 65535)
            return 2;
        if (m->arch != NIC_ARCH_FACTORIZED) {
            NicRansEncoder enc;
            const size_t pz = (size_t)((h + 63) >> 6) * ((w + 63) >> 6);
            ff_nic_rans_enc_init(&enc);
            for (int c = 0; c < m->n; c++)
                for (size_t i = 0; i < pz; i++)
                    if (ff_nic_encode_value(&enc, &m->cdf_z.tables[q * m->n + c], 0) < 0)
                        return 1;
            if (ff_nic_rans_enc_finish(&enc, &buf, &zsize) < 0)
                return 1;
            ff_nic_rans_enc_free(&enc);
        }
        hd.z_size = zsize;
        hd.y_size = ybytes;
        ff_nic_header_write(hdr, &hd);
        if (!(f = fopen(argv[7], "wb")))
            return 1;
        fwrite(hdr, 1, sizeof(hdr), f);
        if (zsize)
            fwrite(buf, 1, zsize, f);
        for (size_t i = 0; i < ybytes; i++)
            fputc((int)(i * 151 + 7) & 0xff, f);
        fclose(f);
        printf("%zu bytes: header, %zu z, %zu junk y\n", NIC_HEADER_SIZE + zsize + ybytes,
               zsize, ybytes);
        av_free(buf);
        ff_nic_model_free(&m);
        return 0;
    }
    if (ff_nic_model_load(&m, argv[2], NULL) < 0) {
        fprintf(stderr, "cannot load model %s\n", argv[2]);
        return 1;
    }
    if (ff_nic_exec_init(&exec, threads, &threads, threads > 1 ? run_threads : NULL) < 0)
        return 1;

    if (!strcmp(argv[1], "encode") && (argc == 6 || argc == 7)) {
        FILE *f;
        if (read_pnm(argv[4], &img) < 0)
            return 1;
        if (parse_effort(argc == 7 ? argv[6] : NULL, &params, &opt) < 0) {
            fprintf(stderr, "bad effort %s\n", argv[6]);
            return 2;
        }
        if ((ret = ff_nic_encode_image(m, atoi(argv[3]), opt, &img, &exec, &buf, &size,
                                       NULL)) < 0) {
            fprintf(stderr, "encode failed: %s\n", av_err2str(ret));
            return 1;
        }
        f = fopen(argv[5], "wb");
        fwrite(buf, 1, size, f);
        fclose(f);
        printf("%zu bytes, %.4f bpp\n", size, 8.0 * size / ((double)img.width * img.height));
    } else if (!strcmp(argv[1], "decode") && argc == 5) {
        NicImage out;
        if (read_file(argv[3], &buf, &size) < 0)
            return 1;
        if ((ret = decode_file(m, buf, size, &out, &exec)) < 0) {
            fprintf(stderr, "decode failed: %s\n", av_err2str(ret));
            return 1;
        }
        write_pnm(argv[4], &out);
    } else if (!strcmp(argv[1], "analyse") && argc == 6) {
        NicTensor y = { 0 }, means = { 0 };
        uint8_t *idx = NULL;
        if (read_pnm(argv[4], &img) < 0)
            return 1;
        if ((ret = ff_nic_analyse_image(m, atoi(argv[3]), &img, &exec, &y, &means, &idx)) < 0) {
            fprintf(stderr, "analysis failed: %s\n", av_err2str(ret));
            return 1;
        }
        if (write_latent(argv[5], y.data, y.c, y.h, y.w))
            return 1;
        ff_nic_tensor_free(&y);
        ff_nic_tensor_free(&means);
        av_free(idx);
    } else if (!strcmp(argv[1], "latents") && argc == 5) {
        NicDecoded lat = { 0 };
        NicHeader h;
        if (read_file(argv[3], &buf, &size) < 0)
            return 1;
        if ((ret = ff_nic_header_parse(&h, buf, size, NULL)) < 0 ||
            (ret = ff_nic_check_header(m, &h, size, NULL)) < 0 ||
            (ret = ff_nic_decode_latents(m, &h, buf + NIC_HEADER_SIZE, &lat, &exec, NULL)) < 0) {
            fprintf(stderr, "decode failed: %s\n", av_err2str(ret));
            return 1;
        }
        if (write_latent(argv[4], lat.y, m->m, 4 * ((h.height + 63) >> 6),
                         4 * ((h.width + 63) >> 6)))
            return 1;
        ff_nic_latents_free(&lat);
        av_freep(&buf);
    } else if (!strcmp(argv[1], "grad") && argc == 7) {
        if (read_pnm(argv[5], &img) < 0)
            return 1;
        ret = dump_gradient(m, atoi(argv[3]), atof(argv[4]), &img, argv[6], &exec);
        if (ret)
            return ret;
    } else if (!strcmp(argv[1], "bench") && (argc == 6 || argc == 7)) {
        int runs = atoi(argv[5]);
        double te[64], td[64];
        uint64_t fe = 0, fd = 0;
        NicImage out;
        if (read_pnm(argv[4], &img) < 0 || runs < 1 || runs > 64 ||
            parse_effort(argc == 7 ? argv[6] : NULL, &params, &opt) < 0)
            return 1;
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            av_freep(&buf);
            exec.flops = 0;
            if (ff_nic_encode_image(m, atoi(argv[3]), opt, &img, &exec, &buf, &size, NULL) < 0)
                return 1;
            te[r] = now() - t0;
            fe = exec.flops;
            exec.flops = 0;
            t0 = now();
            if (decode_file(m, buf, size, &out, &exec) < 0)
                return 1;
            td[r] = now() - t0;
            fd = exec.flops;
            free(out.data);
        }
        qsort(te, runs, sizeof(double), cmp_double);
        qsort(td, runs, sizeof(double), cmp_double);
        printf("{\"encode_s\": %.4f, \"decode_s\": %.4f, \"encode_gflop\": %.3f, "
               "\"decode_gflop\": %.3f, \"bytes\": %zu, \"threads\": %d}\n",
               te[runs / 2], td[runs / 2], fe * 1e-9, fd * 1e-9, size, threads);
    } else {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    av_free(buf);
    ff_nic_exec_free(&exec);
    ff_nic_model_free(&m);
    return 0;
}
