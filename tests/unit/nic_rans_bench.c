#define _POSIX_C_SOURCE 200809L
/*
 * Throughput of the nic rANS value coder with a Gaussian table.
 *
 * Usage: nic_rans_bench [symbols] [sigma] [nsym]
 */

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "libavutil/mem.h"

#include "libavcodec/nic_entropy.h"
#include "libavcodec/nic_rans.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t xs(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
    size_t n    = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000000;
    double sig  = argc > 2 ? atof(argv[2]) : 4.0;
    int nsym    = argc > 3 ? atoi(argv[3]) : 51;
    uint32_t *cdf = malloc((nsym + 1) * sizeof(*cdf));
    int32_t *vals = malloc(n * sizeof(*vals));
    double *w     = malloc(nsym * sizeof(*w));
    double sum = 0, acc = 0, ent = 0, mid = (nsym - 2) / 2.0, t0, t1, t2, t3;
    NicCdf c = { cdf, nsym, -(nsym - 2) / 2 };
    NicRansEncoder e;
    NicRansDecoder d;
    uint64_t s = 0x1234567887654321ULL;
    uint8_t *buf;
    size_t size, esc = 0;
    int64_t check = 0, ref = 0;
    int best_rep;
    double best_enc = 1e9, best_dec = 1e9, best_put = 1e9;

    for (int i = 0; i < nsym - 1; i++)
        sum += w[i] = exp(-(i - mid) * (i - mid) / (2 * sig * sig));
    w[nsym - 1] = sum * 1e-4;
    sum += w[nsym - 1];
    cdf[0] = 0;
    for (int i = 0; i < nsym; i++) {
        acc += w[i];
        cdf[i + 1] = (uint32_t)(acc / sum * (65536 - nsym)) + i + 1;
    }
    cdf[nsym] = 65536;
    if (ff_nic_cdf_validate(cdf, nsym) < 0)
        return 1;
    for (int i = 0; i < nsym; i++) {
        double p = (cdf[i + 1] - cdf[i]) / 65536.0;
        ent -= p * log2(p);
    }

    /* values drawn from the table (escape slot -> a far value) */
    for (size_t i = 0; i < n; i++) {
        uint32_t u = xs(&s) >> 48;
        int lo = 0, hi = nsym;
        while (hi - lo > 1) {
            int m = (lo + hi) / 2;
            if (cdf[m] <= u) lo = m; else hi = m;
        }
        if (lo == nsym - 1) {
            vals[i] = 1000 + (int32_t)(xs(&s) >> 54);
            esc++;
        } else {
            vals[i] = c.offset + lo;
        }
        ref += vals[i];
    }

    ff_nic_rans_enc_init(&e);
    for (best_rep = 0; best_rep < 5; best_rep++) {
        t0 = now();
        for (size_t i = 0; i < n; i++)
            if (ff_nic_encode_value(&e, &c, vals[i]) < 0)
                return 1;
        t1 = now();
        if (ff_nic_rans_enc_finish(&e, &buf, &size) < 0)
            return 1;
        t2 = now();
        ff_nic_rans_dec_init(&d, buf, size);
        check = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            ff_nic_decode_value(&d, &c, &v);
            check += v;
        }
        t3 = now();
        if (ff_nic_rans_dec_finish(&d) < 0 || check != ref) {
            fprintf(stderr, "round trip failed\n");
            return 1;
        }
        if (best_rep < 4)
            av_free(buf);
        if (t1 - t0 < best_put) best_put = t1 - t0;
        if (t2 - t0 < best_enc) best_enc = t2 - t0;
        if (t3 - t2 < best_dec) best_dec = t3 - t2;
    }
    printf("%zu symbols, nsym %d, sigma %.2f, %zu escapes\n", n, nsym, sig, esc);
    printf("table entropy %.4f bits/sym, coded %.4f bits/sym (%zu bytes)\n",
           ent, 8.0 * size / n, size);
    printf("encode (put + finish): %.1f Msym/s  (put only %.1f Msym/s)\n",
           n / best_enc * 1e-6, n / best_put * 1e-6);
    printf("decode: %.1f Msym/s\n", n / best_dec * 1e-6);
    av_free(buf);
    ff_nic_rans_enc_free(&e);
    free(cdf);
    free(vals);
    free(w);
    return 0;
}
