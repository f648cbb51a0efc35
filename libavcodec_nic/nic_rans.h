/*
 * nic rANS entropy coder
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
 * rANS (range asymmetric numeral system) coder used by the nic codec.
 *
 * READ ME FIRST
 * =============
 *
 * What is coded
 * -------------
 * A symbol is a pair (start, freq) with 1 <= freq <= 65536 and
 * start + freq <= 65536: it owns the slots [start, start + freq) of a
 * 2^16-slot "clock" and so has probability freq / 2^16.  The coder knows
 * nothing about alphabets or tables; nic_entropy.h maps values to pairs.
 *
 * The state
 * ---------
 * All information lives in one unsigned integer x, the state.  Coding a
 * symbol turns x into
 *
 *     C(x) = (x / freq) * 2^16 + start + (x % freq)
 *
 * i.e. x is split into a quotient (kept, scaled up by 2^16) and a remainder
 * in [0, freq) which is parked inside the symbol's slots.  C grows x by a
 * factor of about 2^16 / freq, which is exactly the cost of the symbol:
 * log2(2^16 / freq) bits.  The inverse is
 *
 *     s = x % 2^16              (the slot: tells which symbol was coded)
 *     D(x) = freq * (x / 2^16) + s - start
 *
 * and D(C(x)) = x for every x.  Because "x % 2^16" is how the decoder finds
 * the symbol, the decoder only needs ff_nic_rans_dec_peek() to look the slot
 * up in a CDF, then ff_nic_rans_dec_advance() with the symbol it found.
 *
 * Renormalization (keeping x in 32 bits)
 * --------------------------------------
 * x is kept in the interval I = [L, 256 * L) with L = 2^23, so I is
 * [2^23, 2^31).  Bytes move in and out at the bottom of x:
 *
 *  - The encoder, before coding a symbol, shifts bytes out of x while
 *    x >= freq * 2^15.  Afterwards x lies in [freq * 2^7, freq * 2^15),
 *    so x / freq < 2^15 and C(x) < 2^31; and x / freq >= 2^7, so
 *    C(x) >= 2^23.  The new state is in I again.
 *  - The decoder, after D(x), shifts bytes in while x < 2^23.  D(x) is the
 *    x the encoder had right after its own renormalization, so it reads back
 *    exactly the bytes the encoder wrote, in the opposite order.
 *
 * The bound freq * 2^15 is the trap to get right: it has to equal
 * (L / 2^16) * 256 * freq so that the interval [freq * 2^7, freq * 2^15)
 * contains exactly one "x >> 8k" for every x in I (it is b-unique); any other
 * bound lets encoder and decoder disagree about how many bytes move.  With
 * freq = 65536 the bound is 2^31, which still fits in uint32_t; such a symbol
 * leaves x unchanged and costs nothing.  With freq = 1, at most two bytes
 * leave per symbol, so a stream is never longer than 4 + 2 * symbols bytes.
 *
 * Stack order
 * -----------
 * rANS is last-in first-out: the decoder recovers the symbol the encoder
 * coded last.  So the encoder only buffers (start, freq) pairs in
 * ff_nic_rans_enc_put(), and ff_nic_rans_enc_finish() codes them from the
 * last to the first, writing bytes backwards from the end of the buffer.
 * It starts from x = L and finally stores x as 4 bytes big-endian in front
 * of everything.  The decoder then simply reads forward: 4 bytes of state,
 * then renormalization bytes.  Symbols come out in the order they were put.
 *
 * End of stream
 * -------------
 * Decoding every symbol undoes every C(), so the decoder ends with x = L,
 * the encoder's initial state, having consumed every byte.  This is a free
 * integrity check (ff_nic_rans_dec_finish()): corrupted payloads almost
 * never land on exactly L with exactly zero bytes left.
 *
 * Hostile input
 * -------------
 * The decoder trusts nothing in the payload:
 *  - ff_nic_rans_dec_init() rejects payloads shorter than 4 bytes and
 *    initial states outside I.
 *  - If renormalization needs a byte past the end, nothing is read: the
 *    sticky error flag is set and x is forced to L, so later calls stay
 *    well-defined (and cheap) and the caller can check d->error whenever it
 *    likes.
 *  - The caller must pass to ff_nic_rans_dec_advance() a (start, freq) whose
 *    slots contain the peeked slot; ff_nic_decode_value() guarantees that.
 *    Then D(x) >= freq * 2^7 >= 2^7, so one symbol pulls in at most two
 *    bytes and x stays in I, whatever the payload bytes are.
 *
 * Raw bits
 * --------
 * A field of n bits (1 <= n <= 16) with value v is one symbol with
 * start = v << (16 - n) and freq = 2^(16 - n): n bits at probability 1/2
 * each, coded in one step.
 */

#ifndef AVCODEC_NIC_RANS_H
#define AVCODEC_NIC_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "libavutil/attributes.h"

/** Probability precision: frequencies are out of 2^NIC_RANS_PROB_BITS. */
#define NIC_RANS_PROB_BITS  16
#define NIC_RANS_PROB_SCALE (1U << NIC_RANS_PROB_BITS)
/** Lower bound of the state interval [NIC_RANS_L, NIC_RANS_L << 8). */
#define NIC_RANS_L          (1U << 23)

/**
 * rANS encoder. Collects symbols; the actual coding happens in
 * ff_nic_rans_enc_finish(). Zero-initialize with ff_nic_rans_enc_init().
 */
typedef struct NicRansEncoder {
    uint32_t *syms;     ///< (start << 16) | (freq - 1) for every symbol put
    size_t nb_syms;     ///< number of symbols put
    size_t alloc_syms;  ///< allocated entries of syms
} NicRansEncoder;

/**
 * Initialize an encoder to the empty state. Allocates nothing.
 */
void ff_nic_rans_enc_init(NicRansEncoder *e);

/**
 * Make room for at least n more symbols, so that the next n puts cannot
 * fail with ENOMEM.
 *
 * @return 0 or AVERROR(ENOMEM)
 */
int ff_nic_rans_enc_reserve(NicRansEncoder *e, size_t n);

/**
 * Append one symbol of probability freq / 65536.
 *
 * @param start first slot of the symbol, start + freq <= 65536
 * @param freq  number of slots, 1..65536
 * @return 0, AVERROR(ENOMEM), or AVERROR(EINVAL) for an invalid pair
 */
int ff_nic_rans_enc_put(NicRansEncoder *e, unsigned start, unsigned freq);

/**
 * Append nbits raw bits (probability 1/2 each), as one symbol.
 *
 * @param value value to code, < 2^nbits
 * @param nbits 1..16
 * @return 0, AVERROR(ENOMEM), or AVERROR(EINVAL) for invalid arguments
 */
int ff_nic_rans_enc_put_bits(NicRansEncoder *e, unsigned value, int nbits);

/**
 * Code all symbols put so far into a new buffer. On success the encoder is
 * emptied and its memory released, as after ff_nic_rans_enc_init(): it can
 * be reused for the next payload right away (calling ff_nic_rans_enc_init()
 * or ff_nic_rans_enc_free() on it is harmless). On failure the symbols are
 * kept; ff_nic_rans_enc_free() releases them.
 *
 * @param out      set to a buffer allocated with av_malloc(); the caller
 *                 must av_free() it. Set to NULL on failure.
 * @param out_size set to the size of *out, at least 4
 * @return 0 or AVERROR(ENOMEM)
 */
int ff_nic_rans_enc_finish(NicRansEncoder *e, uint8_t **out, size_t *out_size);

/**
 * Free the encoder's buffers and reset it to the empty state.
 */
void ff_nic_rans_enc_free(NicRansEncoder *e);

/**
 * rANS decoder. The payload is read forward from ptr to end.
 */
typedef struct NicRansDecoder {
    const uint8_t *ptr, *end;
    uint32_t state;
    int error;          ///< sticky: set on overread or invalid data
} NicRansDecoder;

/**
 * Start decoding a payload.
 *
 * On failure the decoder is still left in a safe state (error set, no bytes
 * left), so calls on it are harmless.
 *
 * @return 0, or AVERROR_INVALIDDATA if size < 4 or the initial state is
 *         outside [2^23, 2^31)
 */
int ff_nic_rans_dec_init(NicRansDecoder *d, const uint8_t *buf, size_t size);

/**
 * @return the slot of the next symbol, 0..65535; the symbol to decode is
 *         the one with start <= slot < start + freq
 */
static av_always_inline unsigned ff_nic_rans_dec_peek(const NicRansDecoder *d)
{
    return d->state & (NIC_RANS_PROB_SCALE - 1);
}

/**
 * Remove the symbol (start, freq) from the state and refill it.
 * (start, freq) must contain the slot returned by ff_nic_rans_dec_peek().
 * If the payload runs out, sets d->error instead of reading past its end.
 */
static av_always_inline void ff_nic_rans_dec_advance(NicRansDecoder *d,
                                                     unsigned start,
                                                     unsigned freq)
{
    uint32_t x = d->state;

    x = freq * (x >> NIC_RANS_PROB_BITS) +
        (x & (NIC_RANS_PROB_SCALE - 1)) - start;
    while (x < NIC_RANS_L) {
        if (d->ptr >= d->end) {
            d->error = 1;
            x = NIC_RANS_L;
            break;
        }
        x = (x << 8) | *d->ptr++;
    }
    d->state = x;
}

/**
 * Decode nbits raw bits coded with ff_nic_rans_enc_put_bits().
 *
 * @param nbits 1..16
 */
static av_always_inline unsigned ff_nic_rans_dec_get_bits(NicRansDecoder *d,
                                                          int nbits)
{
    int shift      = NIC_RANS_PROB_BITS - nbits;
    unsigned value = ff_nic_rans_dec_peek(d) >> shift;

    ff_nic_rans_dec_advance(d, value << shift, 1U << shift);
    return value;
}

/**
 * Check that the payload ended where it should.
 *
 * @return 0 if the state is 2^23, every byte was consumed and no error
 *         occurred; AVERROR_INVALIDDATA otherwise
 */
int ff_nic_rans_dec_finish(const NicRansDecoder *d);

#endif /* AVCODEC_NIC_RANS_H */
