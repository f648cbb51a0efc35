/*
 * lavc_read: decode the first video frame of a file through FFmpeg's public
 * API, as any program linked against the installed shared libraries does
 * (mpv, PyAV, GStreamer's gst-libav).  check-usage builds it with
 * pkg-config against build/install and runs it on a .nic file.
 *
 *   lavc_read FILE      prints "WIDTHxHEIGHT PIX_FMT CODEC"
 */
#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

int main(int argc, char **argv)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    const AVCodec *codec;
    int ret, stream, done = 0;

    if (argc != 2 || !pkt || !frame) {
        fprintf(stderr, "usage: lavc_read FILE\n");
        return 2;
    }
    if ((ret = avformat_open_input(&fmt, argv[1], NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(fmt, NULL)) < 0 ||
        (ret = stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0)
        goto end;
    if (!(dec = avcodec_alloc_context3(codec))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar)) < 0 ||
        (ret = avcodec_open2(dec, codec, NULL)) < 0)
        goto end;
    while (!done && (ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == stream && (ret = avcodec_send_packet(dec, pkt)) >= 0 &&
            avcodec_receive_frame(dec, frame) >= 0)
            done = 1;
        av_packet_unref(pkt);
        if (ret < 0)
            goto end;
    }
    if (!done) {
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    printf("%dx%d %s %s\n", frame->width, frame->height,
           av_get_pix_fmt_name(frame->format), codec->name);
    ret = 0;
end:
    if (ret < 0)
        fprintf(stderr, "lavc_read: %s: %s\n", argv[1], av_err2str(ret));
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    return ret < 0;
}
