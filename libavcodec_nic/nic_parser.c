/*
 * nic parser: splits a byte stream into nic packets
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

/**
 * @file
 * A nic packet announces its own size in its header (docs/bitstream.md),
 * so the parser looks for a header, then counts the payload bytes.
 *
 * Resynchronisation: bytes that do not start a valid header are dropped
 * one at a time until one does.  While a payload is collected, the parser
 * also watches for a valid header inside it: a packet that was truncated
 * (its sender stopped early) is then cut where the next packet starts,
 * and is passed on short, so that the decoder reports it and the packet
 * after it still decodes.  A header is 24 bytes with a 4-byte magic and
 * several checked fields: random payload bytes pass for one with a
 * probability of about 2^-53 a position.
 *
 * Memory follows the input: the parser holds the bytes it has been given,
 * never the size a header claims, so a junk window that happens to parse
 * as a header costs what was actually sent.
 */

#include <limits.h>
#include <string.h>

#include "libavutil/mem.h"
#include "libavutil/pixfmt.h"

#include "parser.h"
#if __has_include("parser_internal.h")
#include "parser_internal.h"
#endif
#include "nic_bitstream.h"

typedef struct NicParseContext {
    /** The packet being collected and the last one returned (it stays
     *  valid until the next call), swapped when a packet is done. */
    uint8_t *buf[2];
    unsigned buf_alloc[2];
    int cur;
    size_t fill;          ///< bytes of the current packet held in buf[cur]
    uint64_t size;        ///< its announced size; 0 while looking for a header
    size_t scanned;       ///< payload positions below this were checked for a header
} NicParseContext;

static int is_header(const uint8_t *p)
{
    NicHeader h;
    return ff_nic_header_parse(&h, p, NIC_HEADER_SIZE, NULL) >= 0;
}

static int append(NicParseContext *s, const uint8_t *src, size_t n)
{
    uint8_t *b;
    if (!n)
        return 0;
    if (s->fill + n > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return AVERROR(ENOMEM);
    b = av_fast_realloc(s->buf[s->cur], &s->buf_alloc[s->cur],
                        s->fill + n + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!b)
        return AVERROR(ENOMEM);
    s->buf[s->cur] = b;
    memcpy(b + s->fill, src, n);
    s->fill += n;
    memset(b + s->fill, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    return 0;
}

/**
 * Look for a header in the bytes held while no packet is open, as the
 * sliding window of collect() would have found it had they come one at a
 * time: drop bytes until the buffer starts with a header (then open that
 * packet) or holds less than a header.
 */
static void resync(NicParseContext *s)
{
    uint8_t *b = s->buf[s->cur];
    size_t skip = 0;
    NicHeader h;

    while (s->fill - skip >= NIC_HEADER_SIZE && !is_header(b + skip))
        skip++;
    memmove(b, b + skip, s->fill - skip);
    s->fill -= skip;
    if (s->fill >= NIC_HEADER_SIZE) {
        ff_nic_header_parse(&h, b, NIC_HEADER_SIZE, NULL);
        s->size    = ff_nic_packet_size(&h);
        s->scanned = NIC_HEADER_SIZE;
    }
}

/**
 * Close the current packet after `len` bytes: it becomes the output, and
 * the bytes after it move to the other buffer.  They start with a header
 * when the packet was cut short at one; after a complete packet cut out
 * of bytes that came with a longer one, they may be anything.
 */
static int finish(NicParseContext *s, size_t len, const uint8_t **out, int *out_size)
{
    const uint8_t *done = s->buf[s->cur];
    size_t rest = s->fill - len;

    s->cur ^= 1;
    s->fill = 0;
    s->size = 0;
    s->scanned = 0;
    if (rest) {
        int ret = append(s, done + len, rest);
        if (ret < 0)
            return ret;
        resync(s);
    }
    *out      = done;
    *out_size = len;
    return 0;
}

/** Look for a header inside the payload collected so far. */
static const uint8_t *find_inner_header(NicParseContext *s)
{
    const uint8_t *b = s->buf[s->cur];
    size_t end = FFMIN(s->fill, s->size);

    while (s->scanned + NIC_HEADER_SIZE <= end) {
        const uint8_t *p = memchr(b + s->scanned, 'N', end - NIC_HEADER_SIZE + 1 - s->scanned);
        if (!p) {
            s->scanned = end - NIC_HEADER_SIZE + 1;
            break;
        }
        s->scanned = p - b + 1;
        if (is_header(p))
            return p;
    }
    return NULL;
}

/**
 * Take bytes from buf until a packet is complete.
 * @return bytes consumed (all of them unless a packet was completed), with
 *         *out set to the packet when one is, or a negative AVERROR.
 */
static int collect(NicParseContext *s, const uint8_t *buf, int buf_size,
                   const uint8_t **out, int *out_size)
{
    int i = 0, ret;

    *out      = NULL;
    *out_size = 0;
    for (;;) {
        if (s->size) {
            const uint8_t *p = find_inner_header(s);
            if (p || s->fill >= s->size) {
                /* cut short where the next packet starts, or complete */
                size_t len = p ? p - s->buf[s->cur] : s->size;
                return (ret = finish(s, len, out, out_size)) < 0 ? ret : i;
            }
        }
        if (i == buf_size)
            return i;
        if (!s->size) {
            /* looking for a header: slide a 24-byte window */
            if ((ret = append(s, buf + i++, 1)) < 0)
                return ret;
            if (s->fill < NIC_HEADER_SIZE)
                continue;
            if (is_header(s->buf[s->cur])) {
                NicHeader h;
                ff_nic_header_parse(&h, s->buf[s->cur], NIC_HEADER_SIZE, NULL);
                s->size    = ff_nic_packet_size(&h);
                s->scanned = NIC_HEADER_SIZE;
            } else {
                memmove(s->buf[s->cur], s->buf[s->cur] + 1, NIC_HEADER_SIZE - 1);
                s->fill--;
            }
        } else {
            size_t n = FFMIN(s->size - s->fill, (size_t)(buf_size - i));
            if ((ret = append(s, buf + i, n)) < 0)
                return ret;
            i += n;
        }
    }
}

/** Size and pixel format of a complete packet, so that remuxing needs no decoder. */
static void set_frame_properties(AVCodecParserContext *s, const uint8_t *buf, int buf_size)
{
    NicHeader h;
    if (ff_nic_header_parse(&h, buf, buf_size, NULL) < 0)
        return;
    s->width  = s->coded_width  = h.width;
    s->height = s->coded_height = h.height;
    s->format = h.type == NIC_TYPE_GRAY ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
}

static int nic_parse(AVCodecParserContext *s, AVCodecContext *avctx,
                     const uint8_t **poutbuf, int *poutbuf_size,
                     const uint8_t *buf, int buf_size)
{
    NicParseContext *ctx = s->priv_data;
    int next;

    s->pict_type = AV_PICTURE_TYPE_I;
    s->key_frame = 1;
    s->duration  = 1;

    if (s->flags & PARSER_FLAG_COMPLETE_FRAMES) {
        *poutbuf      = buf;
        *poutbuf_size = buf_size;
        next          = buf_size;
    } else if (!buf_size) {
        /* end of stream: complete packets still held, then what is left
         * of a truncated one, so that the decoder reports it */
        next = 0;
        if (collect(ctx, NULL, 0, poutbuf, poutbuf_size) < 0 ||
            (!*poutbuf && ctx->size && ctx->fill &&
             finish(ctx, ctx->fill, poutbuf, poutbuf_size) < 0))
            *poutbuf = NULL;
    } else if ((next = collect(ctx, buf, buf_size, poutbuf, poutbuf_size)) < 0) {
        av_log(avctx, AV_LOG_ERROR, "nic parser: out of memory\n");
        *poutbuf      = NULL;
        *poutbuf_size = 0;
        return buf_size;
    }
    if (*poutbuf)
        set_frame_properties(s, *poutbuf, *poutbuf_size);
    return next;
}

static void nic_parse_close(AVCodecParserContext *s)
{
    NicParseContext *ctx = s->priv_data;
    av_freep(&ctx->buf[0]);
    av_freep(&ctx->buf[1]);
}

#if __has_include("parser_internal.h")
const FFCodecParser ff_nic_parser = {
    PARSER_CODEC_LIST(AV_CODEC_ID_NIC),
    .priv_data_size = sizeof(NicParseContext),
    .parse          = nic_parse,
    .close          = nic_parse_close,
};
#else
const AVCodecParser ff_nic_parser = {
    .codec_ids      = { AV_CODEC_ID_NIC },
    .priv_data_size = sizeof(NicParseContext),
    .parser_parse   = nic_parse,
    .parser_close   = nic_parse_close,
};
#endif
