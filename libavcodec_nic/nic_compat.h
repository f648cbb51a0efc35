/*
 * nic: differences between the supported FFmpeg release lines
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

#ifndef AVCODEC_NIC_COMPAT_H
#define AVCODEC_NIC_COMPAT_H

#include "libavutil/frame.h"

#include "codec_internal.h"

/* 6.0 introduced CODEC_LONG_NAME, 8.0 CODEC_PIXFMTS. */
#ifndef CODEC_LONG_NAME
#define CODEC_LONG_NAME(str) .p.long_name = NULL_IF_CONFIG_SMALL(str)
#endif

#ifndef CODEC_PIXFMTS
#define CODEC_PIXFMTS(...) .p.pix_fmts = (const enum AVPixelFormat[]){ __VA_ARGS__, AV_PIX_FMT_NONE }
#endif

static inline void ff_nic_set_key_frame(AVFrame *f)
{
    f->pict_type = AV_PICTURE_TYPE_I;
#ifdef AV_FRAME_FLAG_KEY
    f->flags |= AV_FRAME_FLAG_KEY;
#else
    f->key_frame = 1;
#endif
}

#endif /* AVCODEC_NIC_COMPAT_H */
