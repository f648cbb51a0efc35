/*
 * sgemm_peak: OpenBLAS sgemm throughput on this machine, on the shapes of
 * nic's layers and on a large square product, as the yardstick for the
 * transforms' GFLOP/s in `make bench`.
 *
 *   sgemm_peak THREADS     prints one JSON object
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double gflops(int m, int n, int k)
{
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
    float *c = malloc(sizeof(float) * m * n);
    double best = 0;
    for (long i = 0; i < (long)m * k; i++)
        a[i] = (i % 17) * 0.01f;
    for (long i = 0; i < (long)k * n; i++)
        b[i] = (i % 13) * 0.01f;
    for (int r = 0; r < 7; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
        t = now() - t;
        if (2.0 * m * n * k / t > best)
            best = 2.0 * m * n * k / t;
    }
    free(a);
    free(b);
    free(c);
    return best * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    openblas_set_num_threads(threads);
    printf("{\"threads\": %d, \"square_2048\": %.1f, \"layer_512x4096x1152\": %.1f, "
           "\"gdn_128x2048x128\": %.1f}\n", threads, gflops(2048, 2048, 2048),
           gflops(512, 4096, 1152), gflops(128, 2048, 128));
    return 0;
}
