/*
 * nic (neural image codec) decoder
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

#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "decode.h"
#include "internal.h"
#include "nic_bitstream.h"
#include "nic_codec.h"
#include "nic_compat.h"
#include "nic_exec.h"
#include "nic_model.h"

typedef struct NicDecContext {
    const AVClass *class;
    char *model_dir;
    /** Models loaded so far, by bitstream index: each is read once per context. */
    NicModel *models[NIC_MODEL_MAX_INDEX + 1];
    NicExec exec;
} NicDecContext;

static av_cold int nic_decode_init(AVCodecContext *avctx)
{
    NicDecContext *s = avctx->priv_data;
    return ff_nic_exec_init_avctx(&s->exec, avctx);
}

/**
 * The model with bitstream index `index`, loaded on first use and kept for
 * the life of the context, so that a stream alternating models reads each
 * file once.
 */
static int get_model(AVCodecContext *avctx, int index, const NicModel **model)
{
    NicDecContext *s = avctx->priv_data;
    const char *name = ff_nic_model_name(index);
    int ret;

    if (!name || index < 0 || index > NIC_MODEL_MAX_INDEX)
        return AVERROR_INVALIDDATA;
    if (!s->models[index]) {
        if ((ret = ff_nic_model_open(&s->models[index], name, s->model_dir, avctx)) < 0)
            return ret;
        if (s->models[index]->index != index) {
            av_log(avctx, AV_LOG_ERROR, "model file %s.gguf has model index %d, expected %d\n",
                   name, s->models[index]->index, index);
            ff_nic_model_free(&s->models[index]);
            return AVERROR_INVALIDDATA;
        }
    }
    *model = s->models[index];
    return 0;
}

static int nic_decode_frame(AVCodecContext *avctx, AVFrame *p,
                            int *got_frame, AVPacket *avpkt)
{
    NicDecContext *s = avctx->priv_data;
    const NicModel *model;
    NicDecoded lat = { 0 };
    NicHeader h;
    int ret, blas;

    if ((ret = ff_nic_header_parse(&h, avpkt->data, avpkt->size, avctx)) < 0)
        return ret;
    if ((ret = ff_set_dimensions(avctx, h.width, h.height)) < 0)
        return ret;
    avctx->pix_fmt = h.type == NIC_TYPE_GRAY ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
    /* The header alone gives the stream parameters: probing
     * (FF_CODEC_CAP_SKIP_FRAME_FILL_PARAM) loads no model and runs no network. */
    if (avctx->skip_frame >= AVDISCARD_ALL)
        return avpkt->size;

    if ((ret = get_model(avctx, h.model, &model)) < 0)
        return ret;
    if ((ret = ff_nic_check_header(model, &h, avpkt->size, avctx)) < 0)
        return ret;
    blas = ff_nic_blas_enter();
    ret  = ff_nic_decode_latents(model, &h, avpkt->data + NIC_HEADER_SIZE, &lat, &s->exec,
                                 avctx);
    /* the frame only for a payload that decoded whole */
    if (ret >= 0 && (ret = ff_get_buffer(avctx, p, 0)) >= 0) {
        NicImage img = {
            .data     = p->data[0],
            .linesize = p->linesize[0],
            .width    = h.width,
            .height   = h.height,
            .type     = h.type,
        };
        ret = ff_nic_synthesize(model, &lat, &img, &s->exec);
    }
    ff_nic_blas_leave(blas);
    ff_nic_latents_free(&lat);
    if (ret < 0)
        return ret;

    ff_nic_set_key_frame(p);
    *got_frame = 1;
    return avpkt->size;
}

static av_cold int nic_decode_close(AVCodecContext *avctx)
{
    NicDecContext *s = avctx->priv_data;
    for (int i = 0; i < FF_ARRAY_ELEMS(s->models); i++)
        ff_nic_model_free(&s->models[i]);
    ff_nic_exec_free(&s->exec);
    return 0;
}

#define OFFSET(x) offsetof(NicDecContext, x)
#define VD AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_DECODING_PARAM
static const AVOption options[] = {
    { "model_dir", "directory of the nic model files (default: NIC_MODEL_PATH, then the built-in directory)",
      OFFSET(model_dir), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VD },
    { NULL },
};

static const AVClass nic_decoder_class = {
    .class_name = "nic decoder",
    .item_name  = av_default_item_name,
    .option     = options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_nic_decoder = {
    .p.name         = "nic",
    CODEC_LONG_NAME("nic (neural image codec)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_NIC,
    .p.capabilities = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_SLICE_THREADS,
    .p.priv_class   = &nic_decoder_class,
    .priv_data_size = sizeof(NicDecContext),
    .init           = nic_decode_init,
    .close          = nic_decode_close,
    FF_CODEC_DECODE_CB(nic_decode_frame),
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP | FF_CODEC_CAP_SKIP_FRAME_FILL_PARAM,
};
