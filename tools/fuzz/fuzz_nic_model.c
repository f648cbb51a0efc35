/*
 * libFuzzer target for the nic model loader: ff_nic_model_parse() on GGUF
 * files (docs/model-format.md).  A model the loader accepts must be safe
 * to use, so an accepted model then codes a small image and decodes the
 * packet; the decoder must accept what the encoder made with the same
 * model (the tables that code a symbol come from integers only).
 *
 * A model file carries a content hash (nic.content_hash, the first bytes
 * of the SHA-256 of its tensor data): mutants would almost never match it
 * and the loader would stop every one of them there.  The custom mutator
 * below therefore writes the right hash into each mutant whose data
 * section it can locate, so that the inputs libFuzzer keeps are files the
 * loader has to judge on their contents, and replay the same way outside
 * the fuzzer.
 *
 * Seeds: tools/fuzz/corpus/model/, tiny models made by make_seeds.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/intreadwrite.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/mem.h"

#include "libavcodec/nic_bitstream.h"
#include "libavcodec/nic_codec.h"
#include "libavcodec/nic_model.h"
#include "libavcodec/nic_sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);

#define IMG_W 40
#define IMG_H 24

/* ---- locating the hash and the data section (GGUF v3, little-endian) ---- */

typedef struct Walk {
    const uint8_t *p, *end;
    int error;
} Walk;

static uint64_t take(Walk *w, size_t n)
{
    uint64_t v = 0;
    if (w->error || (size_t)(w->end - w->p) < n) {
        w->error = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)w->p[i] << 8 * i;
    w->p += n;
    return v;
}

static const uint8_t *skip(Walk *w, uint64_t n)
{
    const uint8_t *p = w->p;
    if (w->error || (uint64_t)(w->end - w->p) < n) {
        w->error = 1;
        return NULL;
    }
    w->p += n;
    return p;
}

static int scalar_size(uint32_t type)
{
    static const int8_t sizes[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return type < 13 ? sizes[type] : 0;
}

/**
 * Find the 4 bytes of nic.content_hash (a u32) and the start of the data
 * section.  @return 0, or -1 if the file is too broken to tell.
 */
static int locate(const uint8_t *buf, size_t size, uint8_t **hash, size_t *data_start)
{
    static const char key[] = "nic.content_hash";
    Walk w = { buf, buf + size, 0 };
    uint64_t nb_tensors, nb_kv, alignment = 32;

    *hash = NULL;
    if (size < 24 || memcmp(buf, "GGUF", 4))
        return -1;
    skip(&w, 8);
    nb_tensors = take(&w, 8);
    nb_kv      = take(&w, 8);
    if (nb_tensors > 4096 || nb_kv > 4096)
        return -1;
    for (uint64_t i = 0; i < nb_kv && !w.error; i++) {
        uint64_t len = take(&w, 8);
        const uint8_t *name = skip(&w, len);
        uint32_t type = take(&w, 4);
        if (type == 8) {                            /* string */
            skip(&w, take(&w, 8));
        } else if (type == 9) {                     /* array */
            uint32_t et = take(&w, 4);
            uint64_t n  = take(&w, 8);
            if (!scalar_size(et) || n > size)
                return -1;
            skip(&w, n * scalar_size(et));
        } else if (scalar_size(type)) {
            const uint8_t *v = skip(&w, scalar_size(type));
            if (!w.error && type == 4 && len == sizeof(key) - 1 && !memcmp(name, key, len))
                *hash = (uint8_t *)v;
            if (!w.error && type == 4 && len == 17 && !memcmp(name, "general.alignment", 17))
                alignment = AV_RL32(v);
        } else {
            return -1;
        }
    }
    for (uint64_t i = 0; i < nb_tensors && !w.error; i++) {
        uint32_t dims;
        skip(&w, take(&w, 8));
        dims = take(&w, 4);
        if (dims > 4)
            return -1;
        skip(&w, 8 * dims + 4 + 8);
    }
    if (w.error || !*hash || !alignment || alignment & (alignment - 1) || alignment > 4096)
        return -1;
    *data_start = ((w.p - buf) + alignment - 1) & ~(alignment - 1);
    return *data_start <= size ? 0 : -1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
    uint8_t digest[32], *hash;
    size_t start;

    size = LLVMFuzzerMutate(data, size, max_size);
    if (!locate(data, size, &hash, &start) &&
        ff_nic_sha256(data + start, size - start, digest) >= 0)
        AV_WL32(hash, AV_RB32(digest));
    return size;
}

/* ---- using an accepted model ---- */

static void use_model(const NicModel *m, const uint8_t *seed, size_t seed_size)
{
    uint8_t pixels[IMG_W * IMG_H * 3], out[IMG_W * IMG_H * 3];
    NicImage img = { pixels, IMG_W * 3, IMG_W, IMG_H, NIC_TYPE_RGB };
    NicImage dec = { out, IMG_W * 3, IMG_W, IMG_H, NIC_TYPE_RGB };
    NicExec exec;
    NicHeader h;
    uint8_t *pkt = NULL;
    size_t pkt_size;

    /* the picture: a gradient with the input's last bytes in it */
    for (int i = 0; i < sizeof(pixels); i++)
        pixels[i] = i % 251 + (seed_size ? seed[i % seed_size] : 0);
    if (ff_nic_exec_init(&exec, 1, NULL, NULL) < 0)
        abort();
    if (ff_nic_encode_image(m, seed_size % m->qualities, NULL, &img, &exec, &pkt, &pkt_size,
                            NULL) >= 0) {
        if (ff_nic_header_parse(&h, pkt, pkt_size, NULL) < 0 ||
            ff_nic_check_header(m, &h, pkt_size, NULL) < 0 ||
            ff_nic_decode_image(m, &h, pkt + NIC_HEADER_SIZE, &dec, &exec, NULL) < 0)
            abort();   /* the decoder refused what the encoder made */
    }
    av_free(pkt);
    ff_nic_exec_free(&exec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NicModel *m = NULL;

    av_log_set_level(AV_LOG_QUIET);
    if (ff_nic_model_parse(&m, data, size, NULL) < 0)
        return 0;
    use_model(m, data + size - FFMIN(size, 64), FFMIN(size, 64));
    ff_nic_model_free(&m);
    return 0;
}
