/*
 * nic model files: loading and validation
 *
 * This file is part of FFmpeg.
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

/**
 * @file
 * Loader of nic model files (GGUF version 3, docs/model-format.md).
 *
 * Everything is validated before it is used: the container first (counts,
 * strings, types, dims, offsets), then the metadata, then every tensor the
 * architecture needs, looked up by name once, with its type and shape
 * checked. Weights are copied into one owned arena (F16 widened to float,
 * int8 widened to double for the exact integer path), so nothing points into
 * the file buffer afterwards.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#include "libavutil/avstring.h"
#include "libavutil/common.h"
#include "libavutil/error.h"
#include "libavutil/intfloat.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "nic_ctxnn.h"
#include "nic_model.h"
#include "nic_sha256.h"

#define GGUF_VERSION      3
#define MAX_COUNT         4096
#define MAX_STRING        256
#define MAX_ARRAY         (1 << 20)
#define MAX_ELEMENTS      (1LL << 31)
#define MAX_MODEL_SIZE    (512LL << 20)

enum GgufValueType {
    GV_UINT8, GV_INT8, GV_UINT16, GV_INT16, GV_UINT32, GV_INT32, GV_FLOAT32,
    GV_BOOL, GV_STRING, GV_ARRAY, GV_UINT64, GV_INT64, GV_FLOAT64, GV_NB
};

enum GgufTensorType {
    GT_F32 = 0, GT_F16 = 1, GT_I8 = 24, GT_I32 = 26, GT_I64 = 27,
};

typedef struct GgufTensor {
    const uint8_t *name;
    int name_len;
    int n_dims;
    int64_t dims[4];      ///< outermost first
    int64_t elements;
    int type;
    uint64_t offset;
    const uint8_t *data;
} GgufTensor;

typedef struct GgufKv {
    const uint8_t *key;
    int key_len;
    int type;
    int elem_type;        ///< for arrays
    uint64_t count;       ///< for arrays
    const uint8_t *value; ///< raw value (for strings: the bytes)
    uint64_t value_len;   ///< for strings
} GgufKv;

typedef struct Reader {
    const uint8_t *p, *end;
    int error;
} Reader;

typedef struct Loader {
    void *logctx;
    GgufKv *kv;
    int nb_kv;
    GgufTensor *tensors;
    int nb_tensors;
    uint8_t *arena;
    size_t arena_size, arena_used;
    float *half;          ///< every F16 value as a float, built for the first F16 tensor
} Loader;

static uint64_t rd_u64(Reader *r)
{
    if (r->end - r->p < 8) {
        r->error = 1;
        return 0;
    }
    r->p += 8;
    return AV_RL64(r->p - 8);
}

static uint32_t rd_u32(Reader *r)
{
    if (r->end - r->p < 4) {
        r->error = 1;
        return 0;
    }
    r->p += 4;
    return AV_RL32(r->p - 4);
}

static const uint8_t *rd_bytes(Reader *r, uint64_t n)
{
    const uint8_t *p = r->p;
    if ((uint64_t)(r->end - r->p) < n) {
        r->error = 1;
        return NULL;
    }
    r->p += n;
    return p;
}

static const uint8_t *rd_string(Reader *r, int *len)
{
    uint64_t n = rd_u64(r);
    if (r->error || n > MAX_STRING) {
        r->error = 1;
        return NULL;
    }
    *len = n;
    return rd_bytes(r, n);
}

static int value_size(int type)
{
    static const int8_t sizes[GV_NB] = {
        [GV_UINT8] = 1, [GV_INT8] = 1, [GV_UINT16] = 2, [GV_INT16] = 2,
        [GV_UINT32] = 4, [GV_INT32] = 4, [GV_FLOAT32] = 4, [GV_BOOL] = 1,
        [GV_UINT64] = 8, [GV_INT64] = 8, [GV_FLOAT64] = 8,
    };
    return type >= 0 && type < GV_NB ? sizes[type] : 0;
}

static int tensor_type_size(int type)
{
    switch (type) {
    case GT_F32: return 4;
    case GT_F16: return 2;
    case GT_I8:  return 1;
    case GT_I32: return 4;
    case GT_I64: return 8;
    }
    return 0;
}

static int name_eq(const uint8_t *s, int len, const char *name)
{
    return len == strlen(name) && !memcmp(s, name, len);
}

static int parse_kv(Loader *l, Reader *r, GgufKv *kv)
{
    kv->key = rd_string(r, &kv->key_len);
    kv->type = rd_u32(r);
    if (r->error)
        return AVERROR_INVALIDDATA;
    if (kv->type == GV_STRING) {
        kv->value_len = rd_u64(r);
        if (kv->value_len > MAX_ARRAY)
            return AVERROR_INVALIDDATA;
        kv->value = rd_bytes(r, kv->value_len);
    } else if (kv->type == GV_ARRAY) {
        kv->elem_type = rd_u32(r);
        kv->count     = rd_u64(r);
        if (r->error || !value_size(kv->elem_type) || kv->count > MAX_ARRAY) {
            av_log(l->logctx, AV_LOG_ERROR, "%s: unsupported or oversized array\n", __func__);
            return AVERROR_INVALIDDATA;
        }
        kv->value = rd_bytes(r, kv->count * value_size(kv->elem_type));
    } else {
        if (!value_size(kv->type)) {
            av_log(l->logctx, AV_LOG_ERROR, "%s: unknown value type %d\n", __func__, kv->type);
            return AVERROR_INVALIDDATA;
        }
        kv->value = rd_bytes(r, value_size(kv->type));
    }
    return r->error ? AVERROR_INVALIDDATA : 0;
}

static const GgufKv *find_kv(const Loader *l, const char *key, int type)
{
    for (int i = 0; i < l->nb_kv; i++)
        if (name_eq(l->kv[i].key, l->kv[i].key_len, key))
            return l->kv[i].type == type ? &l->kv[i] : NULL;
    return NULL;
}

static int get_u32(Loader *l, const char *key, uint32_t *v)
{
    const GgufKv *kv = find_kv(l, key, GV_UINT32);
    if (!kv) {
        av_log(l->logctx, AV_LOG_ERROR, "model: missing u32 key %s\n", key);
        return AVERROR_INVALIDDATA;
    }
    *v = AV_RL32(kv->value);
    return 0;
}

static int get_str(Loader *l, const char *key, char *dst, int size)
{
    const GgufKv *kv = find_kv(l, key, GV_STRING);
    if (!kv || kv->value_len >= size) {
        av_log(l->logctx, AV_LOG_ERROR, "model: missing or oversized string key %s\n", key);
        return AVERROR_INVALIDDATA;
    }
    memcpy(dst, kv->value, kv->value_len);
    dst[kv->value_len] = 0;
    return 0;
}

static int parse_container(Loader *l, const uint8_t *buf, size_t size)
{
    Reader r = { buf, buf + size, 0 };
    uint64_t nb_tensors, nb_kv, data_start, alignment = 32;
    const uint8_t *data;
    uint32_t version;
    int ret;

    if (size < 24 || memcmp(buf, "GGUF", 4)) {
        av_log(l->logctx, AV_LOG_ERROR, "model: not a GGUF file\n");
        return AVERROR_INVALIDDATA;
    }
    r.p += 4;
    version    = rd_u32(&r);
    nb_tensors = rd_u64(&r);
    nb_kv      = rd_u64(&r);
    if (version != GGUF_VERSION) {
        av_log(l->logctx, AV_LOG_ERROR, "model: GGUF version %u, expected %d\n",
               version, GGUF_VERSION);
        return AVERROR_INVALIDDATA;
    }
    if (nb_tensors > MAX_COUNT || nb_kv > MAX_COUNT) {
        av_log(l->logctx, AV_LOG_ERROR, "model: too many tensors or keys\n");
        return AVERROR_INVALIDDATA;
    }
    l->kv      = av_calloc(nb_kv + 1, sizeof(*l->kv));
    l->tensors = av_calloc(nb_tensors + 1, sizeof(*l->tensors));
    if (!l->kv || !l->tensors)
        return AVERROR(ENOMEM);

    for (int i = 0; i < nb_kv; i++) {
        if ((ret = parse_kv(l, &r, &l->kv[i])) < 0) {
            av_log(l->logctx, AV_LOG_ERROR, "model: malformed metadata entry %d\n", i);
            return ret;
        }
        for (int j = 0; j < i; j++)
            if (l->kv[j].key_len == l->kv[i].key_len &&
                !memcmp(l->kv[j].key, l->kv[i].key, l->kv[i].key_len)) {
                av_log(l->logctx, AV_LOG_ERROR, "model: duplicate key %.*s\n",
                       l->kv[i].key_len, l->kv[i].key);
                return AVERROR_INVALIDDATA;
            }
        l->nb_kv = i + 1;
    }
    {
        const GgufKv *a = find_kv(l, "general.alignment", GV_UINT32);
        if (a)
            alignment = AV_RL32(a->value);
        if (alignment < 8 || alignment > 4096 || alignment & (alignment - 1)) {
            av_log(l->logctx, AV_LOG_ERROR, "model: bad alignment %"PRIu64"\n", alignment);
            return AVERROR_INVALIDDATA;
        }
    }

    for (int i = 0; i < nb_tensors; i++) {
        GgufTensor *t = &l->tensors[i];
        int type_size;
        t->name   = rd_string(&r, &t->name_len);
        t->n_dims = rd_u32(&r);
        if (r.error || t->n_dims < 1 || t->n_dims > 4) {
            av_log(l->logctx, AV_LOG_ERROR, "model: malformed tensor entry %d\n", i);
            return AVERROR_INVALIDDATA;
        }
        t->elements = 1;
        for (int d = t->n_dims - 1; d >= 0; d--) {
            uint64_t v = rd_u64(&r);
            if (!v || v > MAX_ELEMENTS || t->elements * (int64_t)v > MAX_ELEMENTS) {
                av_log(l->logctx, AV_LOG_ERROR, "model: tensor %.*s has bad dims\n",
                       t->name_len, t->name);
                return AVERROR_INVALIDDATA;
            }
            t->dims[d]   = v;
            t->elements *= v;
        }
        t->type   = rd_u32(&r);
        t->offset = rd_u64(&r);
        type_size = tensor_type_size(t->type);
        if (r.error || !type_size || t->offset % alignment) {
            av_log(l->logctx, AV_LOG_ERROR, "model: tensor %.*s: bad type or offset\n",
                   t->name_len, t->name);
            return AVERROR_INVALIDDATA;
        }
        for (int j = 0; j < i; j++)
            if (l->tensors[j].name_len == t->name_len &&
                !memcmp(l->tensors[j].name, t->name, t->name_len)) {
                av_log(l->logctx, AV_LOG_ERROR, "model: duplicate tensor %.*s\n",
                       t->name_len, t->name);
                return AVERROR_INVALIDDATA;
            }
        l->nb_tensors = i + 1;
    }

    data_start = FFALIGN((uint64_t)(r.p - buf), alignment);
    if (data_start > size) {
        av_log(l->logctx, AV_LOG_ERROR, "model: truncated before the tensor data\n");
        return AVERROR_INVALIDDATA;
    }
    data = buf + data_start;
    /* Every tensor must lie inside the file and not overlap the next one. */
    for (int i = 0; i < l->nb_tensors; i++) {
        GgufTensor *t = &l->tensors[i];
        uint64_t bytes = t->elements * tensor_type_size(t->type);
        if (t->offset > size - data_start || bytes > size - data_start - t->offset) {
            av_log(l->logctx, AV_LOG_ERROR, "model: tensor %.*s runs past the end of the file\n",
                   t->name_len, t->name);
            return AVERROR_INVALIDDATA;
        }
        for (int j = 0; j < i; j++) {
            const GgufTensor *u = &l->tensors[j];
            uint64_t ub = u->elements * tensor_type_size(u->type);
            if (t->offset < u->offset + ub && u->offset < t->offset + bytes) {
                av_log(l->logctx, AV_LOG_ERROR, "model: tensors %.*s and %.*s overlap\n",
                       t->name_len, t->name, u->name_len, u->name);
                return AVERROR_INVALIDDATA;
            }
        }
        t->data = data + t->offset;
    }

    /* The content hash covers the whole data section. */
    {
        uint8_t digest[32];
        uint32_t hash;
        if ((ret = ff_nic_sha256(data, size - data_start, digest)) < 0)
            return ret;
        if ((ret = get_u32(l, "nic.content_hash", &hash)) < 0)
            return ret;
        if (AV_RB32(digest) != hash) {
            av_log(l->logctx, AV_LOG_ERROR, "model: content hash mismatch "
                   "(file %08x, data %08x): the file is corrupted\n", hash, AV_RB32(digest));
            return AVERROR_INVALIDDATA;
        }
    }
    return 0;
}

static const GgufTensor *find_tensor(Loader *l, const char *name, int64_t d0, int64_t d1,
                                     int64_t d2, int64_t d3)
{
    const int64_t want[4] = { d0, d1, d2, d3 };
    int n_dims = d3 ? 4 : d2 ? 3 : d1 ? 2 : 1;
    for (int i = 0; i < l->nb_tensors; i++) {
        const GgufTensor *t = &l->tensors[i];
        if (!name_eq(t->name, t->name_len, name))
            continue;
        if (t->n_dims != n_dims)
            break;
        for (int d = 0; d < n_dims; d++)
            if (t->dims[d] != want[d])
                goto bad_shape;
        return t;
    }
    av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s missing\n", name);
    return NULL;
bad_shape:
    av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s has the wrong shape\n", name);
    return NULL;
}

static void *arena_alloc(Loader *l, size_t bytes)
{
    void *p;
    bytes = FFALIGN(bytes, 64);
    if (bytes > l->arena_size - l->arena_used)
        return NULL;
    p = l->arena + l->arena_used;
    l->arena_used += bytes;
    return p;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000 | mant << 13;
    } else if (exp) {
        bits = sign | (uint32_t)(exp + 112) << 23 | mant << 13;
    } else if (mant) {
        /* subnormal: normalize */
        exp = 113;
        while (!(mant & 0x400)) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (uint32_t)exp << 23 | (mant & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    return av_int2float(bits);
}

/** Copies a float tensor (F32 or F16) into the arena. */
static const float *load_float(Loader *l, const char *name, int64_t d0, int64_t d1,
                               int64_t d2, int64_t d3)
{
    const GgufTensor *t = find_tensor(l, name, d0, d1, d2, d3);
    float *dst;
    if (!t)
        return NULL;
    if (t->type != GT_F32 && t->type != GT_F16) {
        av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s is not F32/F16\n", name);
        return NULL;
    }
    if (!(dst = arena_alloc(l, t->elements * sizeof(float))))
        return NULL;
    if (t->type == GT_F16) {
        /* a table of all 65536 halves is cheaper than converting each of
         * the millions of weights; exponent 31 is Inf or NaN */
        uint16_t special = 0;
        if (!l->half) {
            if (!(l->half = av_malloc_array(1 << 16, sizeof(*l->half))))
                return NULL;
            for (int h = 0; h < 1 << 16; h++)
                l->half[h] = half_to_float(h);
        }
        for (int64_t i = 0; i < t->elements; i++) {
            uint16_t h = AV_RL16(t->data + 2 * i);
            special |= (h & 0x7c00) == 0x7c00;
            dst[i] = l->half[h];
        }
        if (special) {
            av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s holds a non-finite value\n", name);
            return NULL;
        }
        return dst;
    }
    for (int64_t i = 0; i < t->elements; i++) {
        dst[i] = av_int2float(AV_RL32(t->data + 4 * i));
        if (!isfinite(dst[i])) {
            av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s holds a non-finite value\n", name);
            return NULL;
        }
    }
    return dst;
}

static const GgufTensor *typed_tensor(Loader *l, const char *name, int type,
                                      int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    const GgufTensor *t = find_tensor(l, name, d0, d1, d2, d3);
    if (t && t->type != type) {
        av_log(l->logctx, AV_LOG_ERROR, "model: tensor %s has the wrong type\n", name);
        return NULL;
    }
    return t;
}

static const int32_t *load_i32(Loader *l, const char *name, int64_t d0, int64_t d1)
{
    const GgufTensor *t = typed_tensor(l, name, GT_I32, d0, d1, 0, 0);
    int32_t *dst;
    if (!t || !(dst = arena_alloc(l, t->elements * sizeof(*dst))))
        return NULL;
    for (int64_t i = 0; i < t->elements; i++)
        dst[i] = AV_RL32(t->data + 4 * i);
    return dst;
}

static int load_conv(Loader *l, NicConv *c, const char *prefix, int in, int out,
                     int k, int stride, int upsample)
{
    char name[64];
    int rows = upsample ? 4 * out : out;
    c->in       = in;
    c->out      = rows;
    c->k        = k;
    c->stride   = stride;
    c->upsample = upsample;
    snprintf(name, sizeof(name), "%s.weight", prefix);
    c->weight = load_float(l, name, rows, in, k, k);
    snprintf(name, sizeof(name), "%s.bias", prefix);
    c->bias = load_float(l, name, rows, 0, 0, 0);
    return c->weight && c->bias ? 0 : AVERROR_INVALIDDATA;
}

static int load_gdn(Loader *l, NicGdn *g, const char *prefix, int channels, int inverse)
{
    char name[64];
    g->channels = channels;
    g->inverse  = inverse;
    snprintf(name, sizeof(name), "%s.beta", prefix);
    g->beta = load_float(l, name, channels, 0, 0, 0);
    snprintf(name, sizeof(name), "%s.gamma", prefix);
    g->gamma = load_float(l, name, channels, channels, 0, 0);
    if (!g->beta || !g->gamma)
        return AVERROR_INVALIDDATA;
    for (int i = 0; i < channels; i++)
        if (g->beta[i] <= 0) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s.beta is not positive\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    for (int i = 0; i < channels * channels; i++)
        if (g->gamma[i] < 0) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s.gamma is negative\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    return 0;
}

/**
 * |add| <= 2^50, so that acc * mult + add fits in int64 (compared without
 * FFABS: the file's INT64_MIN has no absolute value).
 */
static int add_in_range(int64_t add)
{
    return add >= -(1LL << 50) && add <= (1LL << 50);
}

static int load_int_conv(Loader *l, NicIntConv *c, const char *prefix, int in, int out,
                         int upsample, int out_max)
{
    char name[64];
    const GgufTensor *t;
    double *w;
    int64_t *add;
    int rows = upsample ? 4 * out : out;

    c->in       = in;
    c->out      = rows;
    c->upsample = upsample;
    c->out_max  = out_max;

    snprintf(name, sizeof(name), "%s.weight", prefix);
    if (!(t = typed_tensor(l, name, GT_I8, rows, in, 3, 3)) ||
        !(w = arena_alloc(l, t->elements * sizeof(*w))))
        return AVERROR_INVALIDDATA;
    for (int64_t i = 0; i < t->elements; i++)
        w[i] = (int8_t)t->data[i];
    c->weight = w;

    snprintf(name, sizeof(name), "%s.bias", prefix);
    c->bias = load_i32(l, name, rows, 0);
    snprintf(name, sizeof(name), "%s.mult", prefix);
    c->mult = load_i32(l, name, rows, 0);
    snprintf(name, sizeof(name), "%s.add", prefix);
    if (!(t = typed_tensor(l, name, GT_I64, rows, 0, 0, 0)) ||
        !(add = arena_alloc(l, rows * sizeof(*add))))
        return AVERROR_INVALIDDATA;
    for (int i = 0; i < rows; i++)
        add[i] = AV_RL64(t->data + 8 * i);
    c->add = add;
    snprintf(name, sizeof(name), "%s.shift", prefix);
    if (!(t = typed_tensor(l, name, GT_I32, 1, 0, 0, 0)) || !c->bias || !c->mult)
        return AVERROR_INVALIDDATA;
    c->shift = (int32_t)AV_RL32(t->data);

    /*
     * The accumulation must stay exact: |acc| <= |bias| + 127 * 9 * in * 255
     * must fit in int32 (and so in a double's 53 bits), and the requantization
     * acc * mult + add must fit in int64.
     */
    if (c->shift < 1 || c->shift > 40) {
        av_log(l->logctx, AV_LOG_ERROR, "model: %s.shift out of range\n", prefix);
        return AVERROR_INVALIDDATA;
    }
    for (int i = 0; i < rows; i++) {
        int64_t acc_max = FFABS((int64_t)c->bias[i]) + 127LL * 9 * in * 255;
        if (acc_max >= INT32_MAX || c->mult[i] == INT32_MIN || !add_in_range(c->add[i])) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s can overflow\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    }
    return 0;
}

static int load_cdfs(Loader *l, NicCdfSet *set, const char *prefix, int count)
{
    char name[64];
    const GgufTensor *data = NULL, *index;
    uint32_t *cdf;
    int ret;

    snprintf(name, sizeof(name), "%s.cdf_index", prefix);
    if (!(index = typed_tensor(l, name, GT_I32, count, 3, 0, 0)))
        return AVERROR_INVALIDDATA;
    snprintf(name, sizeof(name), "%s.cdf", prefix);
    for (int i = 0; i < l->nb_tensors; i++)
        if (name_eq(l->tensors[i].name, l->tensors[i].name_len, name))
            data = &l->tensors[i];
    if (!(data = typed_tensor(l, name, GT_I32, data ? data->dims[0] : 1, 0, 0, 0)))
        return AVERROR_INVALIDDATA;

    set->count  = count;
    set->tables = arena_alloc(l, count * sizeof(*set->tables));
    cdf         = arena_alloc(l, data->elements * sizeof(*cdf));
    if (!set->tables || !cdf)
        return AVERROR(ENOMEM);
    for (int64_t i = 0; i < data->elements; i++)
        cdf[i] = AV_RL32(data->data + 4 * i);

    for (int i = 0; i < count; i++) {
        int64_t start  = (int32_t)AV_RL32(index->data + 12 * i);
        int32_t nsym   = AV_RL32(index->data + 12 * i + 4);
        int32_t offset = AV_RL32(index->data + 12 * i + 8);
        if (start < 0 || nsym < 2 || nsym > 32768 || start + nsym + 1 > data->elements ||
            offset < -(1 << 24) || offset > (1 << 24) ||
            (ret = ff_nic_cdf_validate(cdf + start, nsym)) < 0) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s table %d is invalid\n", prefix, i);
            return AVERROR_INVALIDDATA;
        }
        set->tables[i].cdf    = cdf + start;
        set->tables[i].nsym   = nsym;
        set->tables[i].offset = offset;
        set->tables[i].min_cost = ff_nic_cdf_min_cost(cdf + start, nsym);
    }
    return 0;
}

/* ---- the context model (docs/model-format.md, "Context model") ---- */

#define ACT_MAX   255   ///< activations
#define Z_MAX     127   ///< z_hat as an input
#define ACC_LIMIT INT32_MAX

static const int64_t *load_i64(Loader *l, const char *name, int64_t d0, int64_t d1)
{
    const GgufTensor *t = typed_tensor(l, name, GT_I64, d0, d1, 0, 0);
    int64_t *dst;
    if (!t || !(dst = arena_alloc(l, t->elements * sizeof(*dst))))
        return NULL;
    for (int64_t i = 0; i < t->elements; i++)
        dst[i] = AV_RL64(t->data + 8 * i);
    return dst;
}

/**
 * Allocates a layer's zero-filled weight matrix of out rows of k elements,
 * and one block of zero rows more: any range of rows can be read in blocks.
 */
static int ctx_layer_alloc(Loader *l, NicCtxLayer *c, int out, int k)
{
    const size_t n = (size_t)(FFALIGN(out, NIC_CTX_OUT_BLOCK) + NIC_CTX_OUT_BLOCK) * k;
    int16_t *w = arena_alloc(l, n * sizeof(*w));
    if (!w)
        return AVERROR(ENOMEM);
    memset(w, 0, n * sizeof(*w));
    c->out    = out;
    c->k      = k;
    c->weight = w;
    return 0;
}

/**
 * One part of a layer: the I8 tensor [out, in, ks, ks] into the rows of c
 * from element col on, taps in raster order (only those with ky + kx odd
 * when odd is set), each tap's in channels together. Adds sum |W| * max
 * over every tap to bound[o], input channel i at most max_lo below split
 * and max_hi from split on.
 */
static int ctx_part(Loader *l, NicCtxLayer *c, const char *name, int in, int ks, int odd,
                    int col, int split, int max_lo, int max_hi, int64_t *bound)
{
    const GgufTensor *t = typed_tensor(l, name, GT_I8, c->out, in, ks, ks);
    int16_t *w = (int16_t *)c->weight;

    if (!t)
        return AVERROR_INVALIDDATA;
    for (int o = 0; o < c->out; o++)
        for (int i = 0; i < in; i++) {
            const int64_t max = i < split ? max_lo : max_hi;
            int tap = 0;
            for (int ky = 0; ky < ks; ky++)
                for (int kx = 0; kx < ks; kx++) {
                    const int v = (int8_t)t->data[((int64_t)(o * in + i) * ks + ky) * ks + kx];
                    bound[o] += FFABS(v) * max;
                    if (odd && !((ky + kx) & 1))
                        continue;
                    w[(size_t)o * c->k + col + tap * in + i] = v;
                    tap++;
                }
        }
    return 0;
}

/**
 * The requantizations prefix.{mult,add,shift}, one for each of rows
 * (rq[0 .. rows - 1]); with lo_min, also prefix.{lo,hi} (rows = 1), which
 * must lie in [lo_min, hi_max].
 */
static int ctx_requant(Loader *l, NicRequant *rq, const char *prefix, int out, int rows,
                       const int32_t *lo_min, const int32_t *hi_max)
{
    char name[64];
    const GgufTensor *t;
    const int32_t *mult;
    const int64_t *add;

    snprintf(name, sizeof(name), "%s.mult", prefix);
    if (!(mult = load_i32(l, name, rows > 1 ? rows : out, rows > 1 ? out : 0)))
        return AVERROR_INVALIDDATA;
    snprintf(name, sizeof(name), "%s.add", prefix);
    if (!(add = load_i64(l, name, rows > 1 ? rows : out, rows > 1 ? out : 0)))
        return AVERROR_INVALIDDATA;
    snprintf(name, sizeof(name), "%s.shift", prefix);
    if (!(t = typed_tensor(l, name, GT_I32, rows, 0, 0, 0)))
        return AVERROR_INVALIDDATA;
    for (int r = 0; r < rows; r++) {
        rq[r].mult  = mult + r * out;
        rq[r].add   = add + r * out;
        rq[r].shift = (int32_t)AV_RL32(t->data + 4 * r);
        rq[r].lo    = rq[r].hi = NULL;
        /* |acc| < 2^31 and |mult| < 2^31: acc * mult + add fits in int64 */
        if (rq[r].shift < 1 || rq[r].shift > 40) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s.shift out of range\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    }
    for (int i = 0; i < rows * out; i++)
        if (mult[i] == INT32_MIN || !add_in_range(add[i])) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s can overflow\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    if (!lo_min)
        return 0;
    snprintf(name, sizeof(name), "%s.lo", prefix);
    rq->lo = load_i32(l, name, out, 0);
    snprintf(name, sizeof(name), "%s.hi", prefix);
    rq->hi = load_i32(l, name, out, 0);
    if (!rq->lo || !rq->hi)
        return AVERROR_INVALIDDATA;
    for (int o = 0; o < out; o++)
        if (rq->lo[o] < lo_min[o] || rq->hi[o] > hi_max[o] || rq->lo[o] > rq->hi[o]) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s clamps out of range\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    return 0;
}

/** Adds the largest |bias| of each output to bound, then checks it. */
static int ctx_bias(Loader *l, NicCtxLayer *c, const char *prefix, int rows, int64_t *bound)
{
    char name[64];

    snprintf(name, sizeof(name), "%s.bias", prefix);
    if (!(c->bias = load_i32(l, name, rows > 1 ? rows : c->out, rows > 1 ? c->out : 0)))
        return AVERROR_INVALIDDATA;
    for (int o = 0; o < c->out; o++) {
        int64_t b = 0;
        for (int r = 0; r < rows; r++)
            b = FFMAX(b, FFABS((int64_t)c->bias[r * c->out + o]));
        if (bound[o] + b > ACC_LIMIT) {
            av_log(l->logctx, AV_LOG_ERROR, "model: %s can overflow int32\n", prefix);
            return AVERROR_INVALIDDATA;
        }
    }
    return 0;
}

/**
 * A single-part layer with one bias row: prefix.weight [out, in, ks, ks]
 * over inputs of at most in_max, and its requantization (clamped to the
 * given ranges when lo_min is set).
 */
static int ctx_layer(Loader *l, NicCtxLayer *c, const char *prefix, int out, int in, int ks,
                     int in_max, const int32_t *lo_min, const int32_t *hi_max, int64_t *bound)
{
    char name[64];
    int ret;

    memset(bound, 0, out * sizeof(*bound));
    snprintf(name, sizeof(name), "%s.weight", prefix);
    if ((ret = ctx_layer_alloc(l, c, out, ff_nic_ctx_align(ks * ks * in))) < 0 ||
        (ret = ctx_part(l, c, name, in, ks, 0, 0, in, in_max, in_max, bound)) < 0 ||
        (ret = ctx_bias(l, c, prefix, 1, bound)) < 0)
        return ret;
    return ctx_requant(l, c->rq, prefix, out, 1, lo_min, hi_max);
}

/** Fills lo_min/hi_max of the rows [first, first + n) with [lo, hi]. */
static void fill_range(int32_t *lo_min, int32_t *hi_max, int first, int n, int lo, int hi)
{
    for (int i = first; i < first + n; i++) {
        lo_min[i] = lo;
        hi_max[i] = hi;
    }
}

static int ctx_group(Loader *l, NicModel *m, NicCtxGroup *g, int gi, int32_t *lo_min,
                     int32_t *hi_max, int64_t *bound)
{
    NicContextModel *ctx = &m->ctx;
    const int hid = ctx->hidden, k = ctx->components, in = 2 * m->n + g->start;
    const int params = (k > 1 ? 3 : 2) * k * g->size;
    char prefix[32], name[64];
    int ret;

    g->k0 = ff_nic_ctx_align(9 * in);
    snprintf(prefix, sizeof(prefix), "ctx.g%d.l1", gi);
    memset(bound, 0, hid * sizeof(*bound));
    if ((ret = ctx_layer_alloc(l, &g->l1, hid, ff_nic_ctx_align(g->k0 + 12 * g->size))) < 0)
        return ret;
    snprintf(name, sizeof(name), "%s.weight", prefix);
    if ((ret = ctx_part(l, &g->l1, name, in, 3, 0, 0, 2 * m->n, ACT_MAX, NIC_CTX_Y_MAX,
                        bound)) < 0)
        return ret;
    snprintf(name, sizeof(name), "%s.anchor_weight", prefix);
    if ((ret = ctx_part(l, &g->l1, name, g->size, 5, 1, g->k0, 0, 0, NIC_CTX_Y_MAX,
                        bound)) < 0 ||
        (ret = ctx_bias(l, &g->l1, prefix, 2, bound)) < 0 ||
        (ret = ctx_requant(l, g->l1.rq, prefix, hid, 2, NULL, NULL)) < 0)
        return ret;

    /* layer 3's outputs: K means, K scale indices, (K > 1) K logits */
    fill_range(lo_min, hi_max, 0, k * g->size, -NIC_MIX_MEAN_MAX, NIC_MIX_MEAN_MAX);
    fill_range(lo_min, hi_max, k * g->size, k * g->size, 0, m->scale_levels - 1);
    if (k > 1)
        fill_range(lo_min, hi_max, 2 * k * g->size, k * g->size,
                   -NIC_MIX_LOGIT_MAX, NIC_MIX_LOGIT_MAX);
    for (int p = 0; p < 2; p++) {
        snprintf(prefix, sizeof(prefix), "ctx.g%d.p%d.l2", gi, p);
        if ((ret = ctx_layer(l, &g->l2[p], prefix, hid, hid, 1, ACT_MAX, NULL, NULL,
                             bound)) < 0)
            return ret;
        snprintf(prefix, sizeof(prefix), "ctx.g%d.p%d.l3", gi, p);
        if ((ret = ctx_layer(l, &g->l3[p], prefix, params, hid, 1, ACT_MAX, lo_min, hi_max,
                             bound)) < 0)
            return ret;
    }
    return 0;
}

static int load_context(Loader *l, NicModel *m)
{
    NicContextModel *ctx = &m->ctx;
    const GgufKv *kv = find_kv(l, "nic.context.groups", GV_ARRAY);
    const int n = m->n, mm = m->m;
    int32_t *lo_min = NULL, *hi_max = NULL;
    int64_t *bound = NULL;
    uint32_t k, hidden;
    int ret, start = 0, rows;

    if ((ret = get_u32(l, "nic.context.components", &k)) < 0 ||
        (ret = get_u32(l, "nic.context.hidden", &hidden)) < 0)
        return ret;
    if (k < 1 || k > NIC_MIX_MAX_K || hidden < 1 || hidden > 1024) {
        av_log(l->logctx, AV_LOG_ERROR, "model: context components %u or hidden %u out of "
               "range\n", k, hidden);
        return AVERROR_INVALIDDATA;
    }
    if (!kv || kv->elem_type != GV_UINT32 || kv->count < 1 ||
        kv->count > NIC_CTX_MAX_GROUPS) {
        av_log(l->logctx, AV_LOG_ERROR, "model: nic.context.groups must be 1 to %d u32\n",
               NIC_CTX_MAX_GROUPS);
        return AVERROR_INVALIDDATA;
    }
    ctx->components = k;
    ctx->hidden     = hidden;
    ctx->nb_groups  = kv->count;
    if (!(ctx->group = arena_alloc(l, ctx->nb_groups * sizeof(*ctx->group))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < ctx->nb_groups; i++) {
        const uint32_t size = AV_RL32(kv->value + 4 * i);
        if (size < 1 || size > mm - start) {
            av_log(l->logctx, AV_LOG_ERROR, "model: context groups do not split M\n");
            return AVERROR_INVALIDDATA;
        }
        ctx->group[i].start = start;
        ctx->group[i].size  = size;
        start += size;
    }
    if (start != mm) {
        av_log(l->logctx, AV_LOG_ERROR, "model: context groups do not split M\n");
        return AVERROR_INVALIDDATA;
    }

    /* scratch for the checks, as wide as the widest layer */
    rows = FFMAX3(4 * n, mm, 3 * NIC_MIX_MAX_K * mm);
    rows = FFMAX(rows, hidden);
    lo_min = av_malloc_array(rows, sizeof(*lo_min));
    hi_max = av_malloc_array(rows, sizeof(*hi_max));
    bound  = av_malloc_array(rows, sizeof(*bound));
    if (!lo_min || !hi_max || !bound) {
        ret = AVERROR(ENOMEM);
        goto end;
    }

    /* the hyper path: the scale branch to absolute scale indices, the mean branch to means */
    for (int b = 0; b < 2; b++) {
        const char *branch = b ? "mean" : "scale";
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "ctx.hyper.%s.l1", branch);
        if ((ret = ctx_layer(l, &ctx->hyper[b][0], prefix, 4 * n, n, 3, Z_MAX, NULL, NULL,
                             bound)) < 0)
            goto end;
        snprintf(prefix, sizeof(prefix), "ctx.hyper.%s.l2", branch);
        if ((ret = ctx_layer(l, &ctx->hyper[b][1], prefix, 4 * n, n, 3, ACT_MAX, NULL, NULL,
                             bound)) < 0)
            goto end;
        if (b)
            fill_range(lo_min, hi_max, 0, mm, -NIC_MIX_MEAN_MAX, NIC_MIX_MEAN_MAX);
        else
            fill_range(lo_min, hi_max, 0, mm, 0, m->scale_levels - 1);
        snprintf(prefix, sizeof(prefix), "ctx.hyper.%s.l3", branch);
        if ((ret = ctx_layer(l, &ctx->hyper[b][2], prefix, mm, n, 3, ACT_MAX, lo_min, hi_max,
                             bound)) < 0)
            goto end;
    }
    for (int i = 0; i < ctx->nb_groups; i++)
        if ((ret = ctx_group(l, m, &ctx->group[i], i, lo_min, hi_max, bound)) < 0)
            goto end;

    if (k > 1) {
        NicMixTables *t = &ctx->mix;
        const GgufTensor *cdf = NULL, *index;
        uint32_t *g;
        for (int i = 0; i < l->nb_tensors; i++)
            if (name_eq(l->tensors[i].name, l->tensors[i].name_len, "ctx.mix.cdf"))
                cdf = &l->tensors[i];
        t->rows = m->scale_levels * NIC_MIX_FRACS;
        if (!(cdf = typed_tensor(l, "ctx.mix.cdf", GT_I32, cdf ? cdf->dims[0] : 1, 0, 0, 0)) ||
            !(index = typed_tensor(l, "ctx.mix.cdf_index", GT_I32, t->rows, 3, 0, 0)) ||
            !(t->index = load_i32(l, "ctx.mix.cdf_index", t->rows, 3)) ||
            !(t->weights = load_i32(l, "ctx.mix.weights", NIC_MIX_LOGIT_SPAN, 0))) {
            ret = AVERROR_INVALIDDATA;
            goto end;
        }
        if (!(g = arena_alloc(l, cdf->elements * sizeof(*g)))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        for (int64_t i = 0; i < cdf->elements; i++)
            g[i] = AV_RL32(cdf->data + 4 * i);
        t->cdf = g;
        if ((ret = ff_nic_mixture_tables_check(t, cdf->elements, l->logctx)) < 0)
            goto end;
    }
    ret = 0;
end:
    av_free(lo_min);
    av_free(hi_max);
    av_free(bound);
    return ret;
}

static const struct {
    const char *name;
    int index;
} model_names[] = {
    { "factorized",        1 },
    { "hyperprior",        2 },
    { "hyperprior-msssim", 3 },
    { "context",           4 },
    { "context-msssim",    5 },
};

const char *ff_nic_model_name(int index)
{
    for (int i = 0; i < FF_ARRAY_ELEMS(model_names); i++)
        if (model_names[i].index == index)
            return model_names[i].name;
    return NULL;
}

/** nic.metric and nic.lambdas: what the encoder's optimization weighs. */
static int load_objective(Loader *l, NicModel *m)
{
    const GgufKv *kv = find_kv(l, "nic.lambdas", GV_ARRAY);
    char metric[16];
    int ret;

    if ((ret = get_str(l, "nic.metric", metric, sizeof(metric))) < 0)
        return ret;
    if (!strcmp(metric, "mse"))
        m->metric = NIC_METRIC_MSE;
    else if (!strcmp(metric, "ms-ssim"))
        m->metric = NIC_METRIC_MSSSIM;
    else {
        av_log(l->logctx, AV_LOG_ERROR, "model: unknown metric '%s'\n", metric);
        return AVERROR_INVALIDDATA;
    }
    if (!kv || kv->elem_type != GV_FLOAT32 || kv->count != m->qualities) {
        av_log(l->logctx, AV_LOG_ERROR, "model: nic.lambdas must be %d f32 values\n",
               m->qualities);
        return AVERROR_INVALIDDATA;
    }
    for (int i = 0; i < m->qualities; i++) {
        m->lambda[i] = av_int2float(AV_RL32(kv->value + 4 * i));
        if (!(m->lambda[i] > 0 && m->lambda[i] < 1e6)) {
            av_log(l->logctx, AV_LOG_ERROR, "model: lambda %d out of range\n", i);
            return AVERROR_INVALIDDATA;
        }
    }
    return 0;
}

static int load_model(Loader *l, NicModel *m)
{
    char arch[32];
    uint32_t v, n, mm, q;
    int ret, i;
    const GgufKv *kv;

    if ((ret = get_str(l, "general.architecture", arch, sizeof(arch))) < 0)
        return ret;
    if (strcmp(arch, "nic")) {
        av_log(l->logctx, AV_LOG_ERROR, "model: architecture '%s' is not nic\n", arch);
        return AVERROR_INVALIDDATA;
    }
    if ((ret = get_u32(l, "nic.format_version", &v)) < 0)
        return ret;
    if (v != 1) {
        av_log(l->logctx, AV_LOG_ERROR, "model: format version %u is not supported\n", v);
        return AVERROR_INVALIDDATA;
    }
    if ((ret = get_str(l, "nic.model", m->name, sizeof(m->name))) < 0 ||
        (ret = get_str(l, "nic.arch", arch, sizeof(arch))) < 0 ||
        (ret = get_u32(l, "nic.model_index", &v)) < 0 ||
        (ret = get_u32(l, "nic.n", &n)) < 0 ||
        (ret = get_u32(l, "nic.m", &mm)) < 0 ||
        (ret = get_u32(l, "nic.qualities", &q)) < 0 ||
        (ret = get_u32(l, "nic.content_hash", &m->hash)) < 0)
        return ret;
    if (!ff_nic_model_name(v) || strcmp(ff_nic_model_name(v), m->name)) {
        av_log(l->logctx, AV_LOG_ERROR, "model: index %u does not match name '%s'\n",
               v, m->name);
        return AVERROR_INVALIDDATA;
    }
    m->index = v;
    if (!strcmp(arch, "factorized"))
        m->arch = NIC_ARCH_FACTORIZED;
    else if (!strcmp(arch, "hyperprior"))
        m->arch = NIC_ARCH_HYPERPRIOR;
    else if (!strcmp(arch, "context"))
        m->arch = NIC_ARCH_CONTEXT;
    else {
        av_log(l->logctx, AV_LOG_ERROR, "model: unknown arch '%s'\n", arch);
        return AVERROR_INVALIDDATA;
    }
    if (n < 1 || n > 1024 || mm < 1 || mm > 1024 || q < 1 || q > NIC_MAX_QUALITIES) {
        av_log(l->logctx, AV_LOG_ERROR, "model: sizes out of range (n %u, m %u, q %u)\n",
               n, mm, q);
        return AVERROR_INVALIDDATA;
    }
    m->n = n;
    m->m = mm;
    m->qualities = q;
    if ((kv = find_kv(l, "nic.training.steps", GV_UINT64)))
        m->steps = AV_RL64(kv->value);
    if ((ret = load_objective(l, m)) < 0)
        return ret;
    if ((ret = get_u32(l, "nic.cdf_precision", &v)) < 0)
        return ret;
    if (v != 16) {
        av_log(l->logctx, AV_LOG_ERROR, "model: CDF precision %u is not 16\n", v);
        return AVERROR_INVALIDDATA;
    }

    for (i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof(name), "g_a.%d", 2 * i);
        if ((ret = load_conv(l, &m->g_a[i], name, i ? n : 3, i == 3 ? mm : n, 5, 2, 0)) < 0)
            return ret;
        snprintf(name, sizeof(name), "g_s.%d", 2 * i);
        if ((ret = load_conv(l, &m->g_s[i], name, i ? n : mm, i == 3 ? 3 : n, 3, 1, 1)) < 0)
            return ret;
        if (i == 3)
            break;
        snprintf(name, sizeof(name), "g_a.%d", 2 * i + 1);
        if ((ret = load_gdn(l, &m->g_a_gdn[i], name, n, 0)) < 0)
            return ret;
        snprintf(name, sizeof(name), "g_s.%d", 2 * i + 1);
        if ((ret = load_gdn(l, &m->g_s_gdn[i], name, n, 1)) < 0)
            return ret;
    }
    if (!(m->gain     = load_float(l, "gains.gain", q, mm, 0, 0)) ||
        !(m->inv_gain = load_float(l, "gains.inv_gain", q, mm, 0, 0)))
        return AVERROR_INVALIDDATA;

    if (m->arch == NIC_ARCH_FACTORIZED) {
        if (!(m->medians = load_float(l, "entropy_y.medians", q, mm, 0, 0)))
            return AVERROR_INVALIDDATA;
        return load_cdfs(l, &m->cdf_y, "entropy_y", q * mm);
    }

    if ((ret = get_u32(l, "nic.scale_levels", &v)) < 0)
        return ret;
    if (v < 2 || v > 1024) {
        av_log(l->logctx, AV_LOG_ERROR, "model: scale_levels %u out of range\n", v);
        return AVERROR_INVALIDDATA;
    }
    m->scale_levels = v;
    if ((ret = load_conv(l, &m->h_a[0], "h_a.0", mm, n, 3, 1, 0)) < 0 ||
        (ret = load_conv(l, &m->h_a[1], "h_a.2", n, n, 5, 2, 0)) < 0 ||
        (ret = load_conv(l, &m->h_a[2], "h_a.4", n, n, 5, 2, 0)) < 0)
        return ret;
    if (m->arch == NIC_ARCH_CONTEXT) {
        if ((ret = load_cdfs(l, &m->cdf_z, "entropy_z", q * n)) < 0 ||
            (ret = load_cdfs(l, &m->cdf_y, "entropy_y", v)) < 0)
            return ret;
        return load_context(l, m);
    }
    if ((ret = load_conv(l, &m->h_s_mean[0], "h_s_mean.0", n, n, 3, 1, 1)) < 0 ||
        (ret = load_conv(l, &m->h_s_mean[1], "h_s_mean.2", n, n, 3, 1, 1)) < 0 ||
        (ret = load_conv(l, &m->h_s_mean[2], "h_s_mean.4", n, mm, 3, 1, 0)) < 0 ||
        (ret = load_int_conv(l, &m->h_s_scale[0], "h_s_scale.l1", n, n, 1, 255)) < 0 ||
        (ret = load_int_conv(l, &m->h_s_scale[1], "h_s_scale.l2", n, n, 1, 255)) < 0 ||
        (ret = load_int_conv(l, &m->h_s_scale[2], "h_s_scale.l3", n, mm, 0, v - 1)) < 0 ||
        (ret = load_cdfs(l, &m->cdf_z, "entropy_z", q * n)) < 0 ||
        (ret = load_cdfs(l, &m->cdf_y, "entropy_y", v)) < 0)
        return ret;
    return 0;
}

int ff_nic_model_parse(NicModel **out, const uint8_t *buf, size_t size, void *logctx)
{
    Loader l = { .logctx = logctx };
    NicModel *m = NULL;
    int ret;

    if ((ret = parse_container(&l, buf, size)) < 0)
        goto fail;
    /* Converted tensors take 4 bytes an element (floats, int32) or 8
     * (int8 widened to double, int64, table descriptors). */
    l.arena_size = 4096 + NIC_CTX_MAX_GROUPS * sizeof(NicCtxGroup);
    for (int i = 0; i < l.nb_tensors; i++) {
        const GgufTensor *t = &l.tensors[i];
        int esize = t->type == GT_F32 || t->type == GT_F16 ? 4 : 8;
        l.arena_size += FFALIGN(t->elements * esize, 64) + 64;
        /* an I8 weight [out, ...] of the context model becomes int16 rows
         * padded to NIC_CTX_ALIGN, out padded to NIC_CTX_OUT_BLOCK and one
         * block more */
        if (t->type == GT_I8)
            l.arena_size += 2 * (t->dims[0] + 2 * NIC_CTX_OUT_BLOCK) *
                            (t->elements / t->dims[0] + 2 * NIC_CTX_ALIGN) + 64;
    }
    if (!(l.arena = av_malloc(l.arena_size)) || !(m = av_mallocz(sizeof(*m)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = load_model(&l, m)) < 0) {
        if (ret == AVERROR_INVALIDDATA)
            av_log(logctx, AV_LOG_ERROR, "model: rejected\n");
        goto fail;
    }
    m->arena = l.arena;
    *out = m;
    av_freep(&l.kv);
    av_freep(&l.tensors);
    av_freep(&l.half);
    return 0;
fail:
    av_free(m);
    av_freep(&l.arena);
    av_freep(&l.kv);
    av_freep(&l.tensors);
    av_freep(&l.half);
    return ret;
}

int ff_nic_model_load(NicModel **out, const char *path, void *logctx)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    int ret;

    if (!f)
        return AVERROR(errno);
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        ret = AVERROR(EIO);
        goto end;
    }
    if (size > MAX_MODEL_SIZE) {
        av_log(logctx, AV_LOG_ERROR, "model: %s is too large\n", path);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    if (!(buf = av_malloc(size + 1))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (fread(buf, 1, size, f) != size) {
        ret = AVERROR(EIO);
        goto end;
    }
    ret = ff_nic_model_parse(out, buf, size, logctx);
    if (ret < 0)
        av_log(logctx, AV_LOG_ERROR, "model: cannot use %s\n", path);
end:
    av_free(buf);
    fclose(f);
    return ret;
}

static int try_dir(NicModel **out, const char *dir, int len, const char *name, void *logctx)
{
    char path[4096];
    if (!len)
        return AVERROR(ENOENT);
    if (snprintf(path, sizeof(path), "%.*s/%s.gguf", len, dir, name) >= sizeof(path))
        return AVERROR(ENAMETOOLONG);
    av_log(logctx, AV_LOG_DEBUG, "model: trying %s\n", path);
    return ff_nic_model_load(out, path, logctx);
}

int ff_nic_model_open(NicModel **out, const char *name, const char *dir, void *logctx)
{
    const char *env = getenv("NIC_MODEL_PATH");
    int ret = AVERROR(ENOENT);

    if (dir && *dir) {
        ret = try_dir(out, dir, strlen(dir), name, logctx);
    } else if (env && *env) {
        while (*env) {
            int len = strcspn(env, ":");
            ret = try_dir(out, env, len, name, logctx);
            if (ret != AVERROR(ENOENT))
                break;
            env += len + (env[len] == ':');
        }
    } else {
#ifdef NIC_MODEL_DIR
        ret = try_dir(out, NIC_MODEL_DIR, strlen(NIC_MODEL_DIR), name, logctx);
#endif
    }
    if (ret == AVERROR(ENOENT))
        av_log(logctx, AV_LOG_ERROR, "model '%s' not found (searched %s); set the model_dir "
               "option or NIC_MODEL_PATH\n", name,
               dir && *dir ? dir : env && *env ? env :
#ifdef NIC_MODEL_DIR
               NIC_MODEL_DIR
#else
               "nothing: built without NIC_MODEL_DIR"
#endif
               );
    return ret;
}

void ff_nic_model_free(NicModel **model)
{
    if (!*model)
        return;
    av_freep(&(*model)->arena);
    av_freep(model);
}
