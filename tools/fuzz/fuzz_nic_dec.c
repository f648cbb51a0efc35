/*
 * libFuzzer target for the nic decoder core: header parsing, the checks of
 * a header against a real model, entropy decoding of both payloads, the
 * integer scale path and synthesis.  Like FFmpeg's target_dec_fuzzer it
 * caps the pixel count, here at 64x64.
 *
 *   NIC_FUZZ_MODEL=models/hyperprior.gguf ./fuzz_nic_dec corpus/
 *
 * The first two bytes of an input pick the image size, so that short inputs
 * reach the payload decoder; the rest is a packet, whose header size fields
 * are overwritten with them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/intreadwrite.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "libavcodec/nic_bitstream.h"
#include "libavcodec/nic_codec.h"
#include "libavcodec/nic_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static NicModel *model;
static NicExec exec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NicHeader h;
    NicImage img;
    uint8_t *pkt;

    if (!model) {
        const char *path = getenv("NIC_FUZZ_MODEL");
        av_log_set_level(AV_LOG_QUIET);
        if (!path || ff_nic_model_load(&model, path, NULL) < 0 ||
            ff_nic_exec_init(&exec, 1, NULL, NULL) < 0)
            abort();
    }
    if (size < 2 + NIC_HEADER_SIZE)
        return 0;
    pkt = av_malloc(size - 2);
    memcpy(pkt, data + 2, size - 2);
    AV_WB16(pkt + 4, 1 + data[0] % 64);
    AV_WB16(pkt + 6, 1 + data[1] % 64);
    if (ff_nic_header_parse(&h, pkt, size - 2, NULL) >= 0) {
        /* also reach the payload decoder with the model's own identity */
        h.model      = model->index;
        h.model_hash = model->hash;
        h.quality   %= model->qualities;
        if (ff_nic_check_header(model, &h, size - 2, NULL) >= 0) {
            img.width    = h.width;
            img.height   = h.height;
            img.type     = h.type;
            img.linesize = h.width * 3;
            img.data     = av_malloc(img.linesize * h.height);
            ff_nic_decode_image(model, &h, pkt + NIC_HEADER_SIZE, &img, &exec, NULL);
            av_free(img.data);
        }
    }
    av_free(pkt);
    return 0;
}
