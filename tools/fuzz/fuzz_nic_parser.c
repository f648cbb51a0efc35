/*
 * libFuzzer target for the nic parser, through the API a demuxer or a
 * player uses: av_parser_init() and av_parser_parse2().
 *
 * Input: one byte n, then n bytes that each give a chunk size (1..256,
 * used in turn), then the byte stream.  The stream is parsed twice, in
 * those chunks and in one piece, and flushed at the end.  Checked:
 *  - every packet starts with a valid header and is no longer than the
 *    packet that header announces;
 *  - the packets hold no more bytes than the stream;
 *  - both passes give the same packets: where the parser cuts depends on
 *    the bytes only, never on how they arrive.
 * A failed check aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "libavcodec/avcodec.h"
#include "libavcodec/nic_bitstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** The packets of one pass, back to back, with their sizes. */
typedef struct Packets {
    uint8_t *data;
    size_t size;
    int *sizes;
    int nb, nb_alloc;
} Packets;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_nic_parser: %s\n", what);
    abort();
}

static void add_packet(Packets *p, const uint8_t *pkt, int size)
{
    NicHeader h;

    if (size < NIC_HEADER_SIZE || ff_nic_header_parse(&h, pkt, size, NULL) < 0)
        fail("packet without a valid header");
    if (size > ff_nic_packet_size(&h))
        fail("packet longer than its header announces");
    if (p->nb == p->nb_alloc &&
        av_reallocp_array(&p->sizes, p->nb_alloc = 2 * p->nb_alloc + 8, sizeof(*p->sizes)) < 0)
        fail("out of memory");
    if (av_reallocp(&p->data, p->size + size) < 0)
        fail("out of memory");
    memcpy(p->data + p->size, pkt, size);
    p->size += size;
    p->sizes[p->nb++] = size;
}

/**
 * Parse buf in chunks of the sizes in chunks[] (cycled), or in one piece
 * if nb_chunks is 0, then flush.
 */
static void parse(const uint8_t *chunks, int nb_chunks, const uint8_t *buf, size_t size,
                  Packets *out)
{
    AVCodecParserContext *pc = av_parser_init(AV_CODEC_ID_NIC);
    AVCodecContext *avctx = avcodec_alloc_context3(NULL);
    size_t pos = 0;
    int next = 0;

    if (!pc || !avctx)
        fail("cannot open the parser");
    for (;;) {
        const int eof = pos == size;
        const size_t chunk = nb_chunks ? chunks[next++ % nb_chunks] + 1 : size;
        int left = FFMIN(chunk, size - pos);
        const uint8_t *b = eof ? NULL : buf + pos;

        pos += left;
        do {
            uint8_t *pkt;
            int pkt_size;
            int used = av_parser_parse2(pc, avctx, &pkt, &pkt_size, b, left,
                                        AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            if (used < 0 || used > left)
                fail("parser consumed a bad byte count");
            if (!used && !pkt_size && left)
                fail("parser made no progress");
            if (pkt_size)
                add_packet(out, pkt, pkt_size);
            else if (eof)
                goto done;
            if (b)
                b += used;
            left -= used;
        } while (left > 0 || eof);
    }
done:
    av_parser_close(pc);
    avcodec_free_context(&avctx);
}

static void packets_free(Packets *p)
{
    av_freep(&p->data);
    av_freep(&p->sizes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Packets chunked = { 0 }, whole = { 0 };
    int nb_chunks;

    av_log_set_level(AV_LOG_QUIET);
    if (size < 1 || size - 1 < data[0])
        return 0;
    nb_chunks = data[0];
    data += 1 + nb_chunks;
    size -= 1 + nb_chunks;

    parse(data - nb_chunks, nb_chunks, data, size, &chunked);
    parse(NULL, 0, data, size, &whole);

    if (chunked.size > size)
        fail("packets hold more bytes than the stream");
    if (chunked.nb != whole.nb || chunked.size != whole.size ||
        (chunked.nb && (memcmp(chunked.sizes, whole.sizes, chunked.nb * sizeof(*chunked.sizes)) ||
                        memcmp(chunked.data, whole.data, chunked.size))))
        fail("packets depend on the chunking");

    packets_free(&chunked);
    packets_free(&whole);
    return 0;
}
