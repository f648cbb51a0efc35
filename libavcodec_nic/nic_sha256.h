/*
 * nic: SHA-256 of a model file's data section
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

#ifndef AVCODEC_NIC_SHA256_H
#define AVCODEC_NIC_SHA256_H

#include <stddef.h>
#include <stdint.h>

/**
 * SHA-256 of size bytes at data into digest.  Uses the x86 SHA extensions
 * where the CPU has them (a model file is hashed on every load: 14 MB take
 * about 30 ms with libavutil's portable code, a few with these), else
 * libavutil's av_sha.  Both give the same digest.
 * @return 0 or AVERROR(ENOMEM)
 */
int ff_nic_sha256(const uint8_t *data, size_t size, uint8_t digest[32]);

#endif /* AVCODEC_NIC_SHA256_H */
