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
 * so the parser collects a header, then counts the payload bytes.  Bytes
 * that do not start a valid header are dropped one at a time until one
 * does.
 */

#include <string.h>

#include "libavutil/pixfmt.h"

#include "parser.h"
#if __has_include("parser_internal.h")
#include "parser_internal.h"
#endif
#include "nic_bitstream.h"

#define MAX_PACKET (1U << 30)

typedef struct NicParseContext {
    ParseContext pc;
    uint8_t header[NIC_HEADER_SIZE];
    int header_fill;
    uint64_t remaining;   ///< payload bytes of the current packet still to come
} NicParseContext;

/** Index in buf just past the end of the current packet, or END_NOT_FOUND. */
static int find_frame_end(NicParseContext *s, const uint8_t *buf, int buf_size)
{
    int i = 0;
    while (i < buf_size) {
        if (s->header_fill < NIC_HEADER_SIZE) {
            NicHeader h;
            s->header[s->header_fill++] = buf[i++];
            if (s->header_fill < NIC_HEADER_SIZE)
                continue;
            if (ff_nic_header_parse(&h, s->header, NIC_HEADER_SIZE, NULL) < 0 ||
                (uint64_t)h.z_size + h.y_size > MAX_PACKET) {
                /* resynchronize on the next byte */
                memmove(s->header, s->header + 1, NIC_HEADER_SIZE - 1);
                s->header_fill--;
                continue;
            }
            s->remaining = (uint64_t)h.z_size + h.y_size;
        } else {
            int n = FFMIN(s->remaining, buf_size - i);
            i += n;
            s->remaining -= n;
        }
        if (s->header_fill == NIC_HEADER_SIZE && !s->remaining) {
            s->header_fill = 0;
            return i;
        }
    }
    return END_NOT_FOUND;
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
        next = buf_size;
    } else {
        next = find_frame_end(ctx, buf, buf_size);
        if (ff_combine_frame(&ctx->pc, next, &buf, &buf_size) < 0) {
            *poutbuf      = NULL;
            *poutbuf_size = 0;
            return buf_size;
        }
    }
    set_frame_properties(s, buf, buf_size);
    *poutbuf      = buf;
    *poutbuf_size = buf_size;
    return next;
}

#if __has_include("parser_internal.h")
const FFCodecParser ff_nic_parser = {
    PARSER_CODEC_LIST(AV_CODEC_ID_NIC),
    .priv_data_size = sizeof(NicParseContext),
    .parse          = nic_parse,
    .close          = ff_parse_close,
};
#else
const AVCodecParser ff_nic_parser = {
    .codec_ids      = { AV_CODEC_ID_NIC },
    .priv_data_size = sizeof(NicParseContext),
    .parser_parse   = nic_parse,
    .parser_close   = ff_parse_close,
};
#endif
