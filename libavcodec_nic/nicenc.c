/*
 * nic (neural image codec) encoder
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

#include <string.h>

#include "libavutil/mem.h"
#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "encode.h"
#include "nic_codec.h"
#include "nic_compat.h"
#include "nic_exec.h"
#include "nic_model.h"
#include "nic_optimize.h"

#define DEFAULT_QUALITY 4

typedef struct NicEncContext {
    const AVClass *class;
    char *model_name;
    char *model_dir;
    int quality;
    int effort;
    NicOptimizeParams opt;
    NicModel *model;
    NicExec exec;
} NicEncContext;

static av_cold int nic_encode_init(AVCodecContext *avctx)
{
    NicEncContext *s = avctx->priv_data;
    int ret;

    /* context codes smaller files than hyperprior at effort 0; with a
     * higher effort hyperprior does (context's latent cannot be optimized) */
    if ((ret = ff_nic_model_open(&s->model, s->model_name ? s->model_name :
                                 s->effort > 0 ? "hyperprior" : "context",
                                 s->model_dir, avctx)) < 0)
        return ret;
    /* -q:v sets global_quality in lambda units with the QSCALE flag;
     * -global_quality sets it directly; the private option wins. */
    if (s->quality < 0) {
        if (avctx->flags & AV_CODEC_FLAG_QSCALE)
            s->quality = avctx->global_quality / FF_QP2LAMBDA;
        else if (avctx->global_quality > 0)
            s->quality = avctx->global_quality;
        else
            s->quality = FFMIN(DEFAULT_QUALITY, s->model->qualities - 1);
    }
    if (s->quality < 0 || s->quality >= s->model->qualities) {
        av_log(avctx, AV_LOG_ERROR, "quality %d out of range: model %s has qualities 0..%d\n",
               s->quality, s->model->name, s->model->qualities - 1);
        return AVERROR(EINVAL);
    }
    if (avctx->width > 65535 || avctx->height > 65535) {
        av_log(avctx, AV_LOG_ERROR, "nic codes images up to 65535x65535\n");
        return AVERROR(EINVAL);
    }
    if (s->effort > 0 && s->model->metric != NIC_METRIC_MSE) {
        /* the optimization weighs squared error with the model's lambda,
         * which for other metrics is in other units */
        av_log(avctx, AV_LOG_WARNING, "effort optimizes for MSE only; model %s was "
               "trained for another metric: coding at effort 0\n", s->model->name);
        s->effort = 0;
    }
    if (s->effort > 0 && s->model->arch == NIC_ARCH_CONTEXT) {
        /* the optimization's rate term is the hyperprior's, not the passes' */
        av_log(avctx, AV_LOG_WARNING, "effort is not supported by model %s: coding at "
               "effort 0\n", s->model->name);
        s->effort = 0;
    }
    if (s->effort > 0 && (ret = ff_nic_optimize_params(&s->opt, s->effort)) < 0)
        return ret;
    av_log(avctx, AV_LOG_VERBOSE, "model %s (%"PRIu64" training steps), quality %d, "
           "effort %d\n", s->model->name, s->model->steps, s->quality, s->effort);
    return ff_nic_exec_init_avctx(&s->exec, avctx);
}

static int nic_encode_frame(AVCodecContext *avctx, AVPacket *pkt,
                            const AVFrame *frame, int *got_packet)
{
    NicEncContext *s = avctx->priv_data;
    NicImage img = {
        .data     = frame->data[0],
        .linesize = frame->linesize[0],
        .width    = avctx->width,
        .height   = avctx->height,
        .type     = avctx->pix_fmt == AV_PIX_FMT_GRAY8 ? NIC_TYPE_GRAY : NIC_TYPE_RGB,
    };
    uint8_t *buf;
    size_t size;
    int ret, blas;

    blas = ff_nic_blas_enter();
    ret  = ff_nic_encode_image(s->model, s->quality, s->effort > 0 ? &s->opt : NULL,
                               &img, &s->exec, &buf, &size, avctx);
    ff_nic_blas_leave(blas);
    if (ret < 0)
        return ret;
    if ((ret = ff_get_encode_buffer(avctx, pkt, size, 0)) >= 0) {
        memcpy(pkt->data, buf, size);
        pkt->flags |= AV_PKT_FLAG_KEY;
        *got_packet = 1;
    }
    av_free(buf);
    return ret;
}

static av_cold int nic_encode_close(AVCodecContext *avctx)
{
    NicEncContext *s = avctx->priv_data;
    ff_nic_model_free(&s->model);
    ff_nic_exec_free(&s->exec);
    return 0;
}

#define OFFSET(x) offsetof(NicEncContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
static const AVOption options[] = {
    { "model", "model: factorized, hyperprior, hyperprior-msssim, context or context-msssim; "
      "default: context, or hyperprior with -effort",
      OFFSET(model_name), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { "quality", "quality index, 0 (smallest files) to 7; default: -q:v / -global_quality, else 4",
      OFFSET(quality), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 63, VE },
    { "effort", "encoder effort: 0 codes the analysis transform's latent; 1 to 3 optimize it "
      "for the decoder with more and more iterations (slower, smaller files)",
      OFFSET(effort), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, NIC_EFFORT_MAX, VE },
    { "model_dir", "directory of the nic model files (default: NIC_MODEL_PATH, then the built-in directory)",
      OFFSET(model_dir), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { NULL },
};

static const AVClass nic_encoder_class = {
    .class_name = "nic encoder",
    .item_name  = av_default_item_name,
    .option     = options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_nic_encoder = {
    .p.name         = "nic",
    CODEC_LONG_NAME("nic (neural image codec)"),
    .p.type         = AVMEDIA_TYPE_VIDEO,
    .p.id           = AV_CODEC_ID_NIC,
    .p.capabilities = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_SLICE_THREADS,
    .p.priv_class   = &nic_encoder_class,
    .priv_data_size = sizeof(NicEncContext),
    .init           = nic_encode_init,
    .close          = nic_encode_close,
    FF_CODEC_ENCODE_CB(nic_encode_frame),
    CODEC_PIXFMTS(AV_PIX_FMT_RGB24, AV_PIX_FMT_GRAY8),
    .caps_internal  = FF_CODEC_CAP_INIT_CLEANUP,
};
