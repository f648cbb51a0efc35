/*
 * nic bitstream header
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

#include "libavutil/error.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/log.h"

#include "nic_bitstream.h"

int ff_nic_header_parse(NicHeader *h, const uint8_t *buf, size_t size, void *logctx)
{
    const char *err = NULL;

    if (size < NIC_HEADER_SIZE)
        err = "packet shorter than the header";
    else if (AV_RB24(buf) != AV_RB24("NIC"))
        err = "bad magic";
    else if (buf[3] != NIC_VERSION)
        err = "unsupported bitstream version";
    if (err)
        goto fail;

    h->width      = AV_RB16(buf + 4);
    h->height     = AV_RB16(buf + 6);
    h->type       = buf[8];
    h->quality    = buf[9];
    h->model      = AV_RB16(buf + 10);
    h->model_hash = AV_RB32(buf + 12);
    h->z_size     = AV_RB32(buf + 16);
    h->y_size     = AV_RB32(buf + 20);

    if (!h->width || !h->height)
        err = "zero image size";
    else if (h->type != NIC_TYPE_GRAY && h->type != NIC_TYPE_RGB)
        err = "unknown image type";
    else if (h->model < 1 || h->model > NIC_MODEL_MAX_INDEX)
        err = "unknown model index";
    if (err)
        goto fail;
    return 0;
fail:
    if (logctx)
        av_log(logctx, AV_LOG_ERROR, "Invalid nic header: %s\n", err);
    return AVERROR_INVALIDDATA;
}

void ff_nic_header_write(uint8_t *buf, const NicHeader *h)
{
    AV_WB24(buf, AV_RB24("NIC"));
    buf[3] = NIC_VERSION;
    AV_WB16(buf + 4, h->width);
    AV_WB16(buf + 6, h->height);
    buf[8] = h->type;
    buf[9] = h->quality;
    AV_WB16(buf + 10, h->model);
    AV_WB32(buf + 12, h->model_hash);
    AV_WB32(buf + 16, h->z_size);
    AV_WB32(buf + 20, h->y_size);
}
