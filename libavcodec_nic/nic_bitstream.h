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

#ifndef AVCODEC_NIC_BITSTREAM_H
#define AVCODEC_NIC_BITSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* docs/bitstream.md */
#define NIC_HEADER_SIZE 24
#define NIC_VERSION     1
/** Model indices are 1 .. NIC_MODEL_MAX_INDEX. */
#define NIC_MODEL_MAX_INDEX 5

enum NicImageType {
    NIC_TYPE_GRAY = 0,
    NIC_TYPE_RGB  = 1,
};

typedef struct NicHeader {
    int width, height;
    enum NicImageType type;
    int quality;
    int model;         ///< bitstream model index
    uint32_t model_hash;
    uint32_t z_size, y_size;
} NicHeader;

/**
 * Parse and check the fixed fields of a header.  Does not check the
 * payload sizes against a buffer: see ff_nic_packet_size().
 * @return 0 or AVERROR_INVALIDDATA (logged when logctx is not NULL)
 */
int ff_nic_header_parse(NicHeader *h, const uint8_t *buf, size_t size, void *logctx);

/** Writes NIC_HEADER_SIZE bytes. */
void ff_nic_header_write(uint8_t *buf, const NicHeader *h);

/** Total packet size the header announces. */
static inline uint64_t ff_nic_packet_size(const NicHeader *h)
{
    return NIC_HEADER_SIZE + (uint64_t)h->z_size + h->y_size;
}

#endif /* AVCODEC_NIC_BITSTREAM_H */
