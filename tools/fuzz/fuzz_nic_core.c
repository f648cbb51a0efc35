/*
 * libFuzzer target for the nic decoder core alone: header parsing, the
 * checks of a header against a real model, entropy decoding of both
 * payloads, the integer scale path and synthesis.  Unlike FFmpeg's
 * target_dec_fuzzer (the "dec" target), which loads the model for every
 * input, the three models are loaded once, and any input reaches the
 * payload decoder: the header's hash and quality are made to match the
 * model its model field names.
 *
 *   NIC_MODEL_PATH=models ./fuzz_nic_core corpus/
 *
 * Input: two bytes that pick the image size (up to 64x64), then the
 * packet, whose header size fields are overwritten with it.
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
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* by bitstream model index; set up once for the whole run */
static NicModel *models[NIC_MODEL_MAX_INDEX + 1];
static NicExec exec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(AV_LOG_QUIET);
    for (int i = 1; i <= NIC_MODEL_MAX_INDEX; i++)
        if (ff_nic_model_open(&models[i], ff_nic_model_name(i), NULL, NULL) < 0)
            abort();
    if (ff_nic_exec_init(&exec, 1, NULL, NULL) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const NicModel *model;
    NicHeader h;
    NicImage img;
    uint8_t *pkt;

    if (size < 2 + NIC_HEADER_SIZE)
        return 0;
    if (!(pkt = av_malloc(size - 2)))
        return 0;
    memcpy(pkt, data + 2, size - 2);
    AV_WB16(pkt + 4, 1 + data[0] % 64);
    AV_WB16(pkt + 6, 1 + data[1] % 64);
    if (ff_nic_header_parse(&h, pkt, size - 2, NULL) >= 0) {
        model        = models[h.model];
        h.model_hash = model->hash;
        h.quality   %= model->qualities;
        if (ff_nic_check_header(model, &h, size - 2, NULL) >= 0) {
            img.width    = h.width;
            img.height   = h.height;
            img.type     = h.type;
            img.linesize = h.width * 3;
            img.data     = av_malloc(img.linesize * h.height);
            if (img.data)
                ff_nic_decode_image(model, &h, pkt + NIC_HEADER_SIZE, &img, &exec, NULL);
            av_free(img.data);
        }
    }
    av_free(pkt);
    return 0;
}
