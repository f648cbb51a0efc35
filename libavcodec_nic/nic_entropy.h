/*
 * nic entropy coding of integer values with CDF tables
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
 * Values coded with a CDF table plus an escape, as specified in
 * docs/bitstream.md, sections "Entropy coding" and "Escape".
 *
 * A table of n symbols covers the values offset .. offset + n - 2 (symbols
 * 0 .. n - 2); symbol n - 1 is the escape. A value outside that range is
 * coded as the escape followed by an Exp-Golomb code of e + 1, where
 * e = 2 * (offset - 1 - v) + 1 below the range and e = 2 * (v - hi - 1)
 * above it (hi = offset + n - 2): k = bit length of (e + 1) minus 1 as a
 * 5-bit raw field, then the low k bits of e + 1 as raw fields of at most
 * 16 bits, most significant field first (k > 16: first the top k - 16 bits,
 * then the low 16 bits). k <= 30, so below the range the distance
 * offset - 1 - v is at most 2^30 - 2, above it v - hi - 1 is at most
 * 2^30 - 1.
 */

#ifndef AVCODEC_NIC_ENTROPY_H
#define AVCODEC_NIC_ENTROPY_H

#include <stdint.h>

#include "nic_rans.h"

/** Largest Exp-Golomb prefix k accepted in an escape. */
#define NIC_ESCAPE_MAX_K 30

/**
 * Largest magnitude of a coded value: the encoder clips every value to
 * [-NIC_VALUE_MAX, NIC_VALUE_MAX], and the decoder rejects anything
 * outside, which no encoder emits.
 */
#define NIC_VALUE_MAX (1 << 28)

/**
 * A CDF table. The model owns the memory; tables are never recomputed.
 */
typedef struct NicCdf {
    const uint32_t *cdf;  ///< nsym + 1 entries, 0 .. 65536, strictly increasing
    int nsym;             ///< number of symbols n, escape (last) included; n >= 2
    int offset;           ///< value of symbol 0
    uint32_t min_cost;    ///< a lower bound of the bits any value costs, in 1/65536 bit
} NicCdf;

/**
 * Check a table: nsym >= 2, cdf[0] == 0, cdf[nsym] == 65536 and
 * cdf[i] < cdf[i + 1] for every i (every symbol has a frequency >= 1).
 * The model loader must call this on every table before it is used.
 *
 * @return 0 or AVERROR_INVALIDDATA
 */
int ff_nic_cdf_validate(const uint32_t *cdf, int nsym);

/**
 * A lower bound, in 1/65536 bit, of what coding any value with the table
 * costs: -log2 of the largest frequency over 65536, rounded down, from
 * exact integer arithmetic (the same on every machine).
 */
uint32_t ff_nic_cdf_min_cost(const uint32_t *cdf, int nsym);

/**
 * Append value to the encoder: its symbol if it lies in
 * [offset, offset + nsym - 2], otherwise the escape symbol and the escape
 * code. Either the whole value is appended or nothing is.
 *
 * @return 0, AVERROR(ENOMEM), or AVERROR(ERANGE) if the value is outside
 *         the table and outside [-NIC_VALUE_MAX, NIC_VALUE_MAX], or too far
 *         outside the table for the escape code
 */
int ff_nic_encode_value(NicRansEncoder *e, const NicCdf *c, int32_t value);

/**
 * Decode one value coded by ff_nic_encode_value(). The symbol is found by
 * binary search on the CDF. An escape with k > 30 or a value outside
 * [-NIC_VALUE_MAX, NIC_VALUE_MAX] sets d->error.
 *
 * @param value set to the decoded value (0 on error)
 * @return 0, or AVERROR_INVALIDDATA if d->error is set (now or earlier);
 *         once the error is set, nothing more is decoded
 */
int ff_nic_decode_value(NicRansDecoder *d, const NicCdf *c, int32_t *value);

/**
 * The escape code of a value outside [lo, hi] (see the top of this file):
 * e + 1 into *e1.
 * @return 0, or AVERROR(ERANGE) if the value is outside
 *         [-NIC_VALUE_MAX, NIC_VALUE_MAX] or too far from the range
 */
int ff_nic_escape_code(int64_t lo, int64_t hi, int32_t value, uint32_t *e1);

/**
 * Append the raw fields of an escape code (after the escape symbol); the
 * caller has reserved room for 3 symbols.
 */
void ff_nic_escape_put(NicRansEncoder *e, uint32_t e1);

/**
 * Read the raw fields of an escape of the range [lo, hi] into *value; a
 * code with k > 30 or a value outside [-NIC_VALUE_MAX, NIC_VALUE_MAX] sets
 * d->error.
 * @return 0 or AVERROR_INVALIDDATA
 */
int ff_nic_escape_get(NicRansDecoder *d, int64_t lo, int64_t hi, int64_t *value);

#endif /* AVCODEC_NIC_ENTROPY_H */
