#!/usr/bin/env python3
"""Regenerate patches/<release>/*.patch from a pristine FFmpeg tree.

    tools/gen-patches.py PRISTINE_FFMPEG_DIR OUT_DIR

The registration of nic in FFmpeg is a fixed set of small insertions next to
anchors that exist in every supported release line.  This script applies them
to copies of the affected files and writes one `diff -u` patch per series
entry (applied with `patch -p1`).  It fails if an anchor is missing, so a new
release line shows at once what needs a human.
"""
import os
import re
import subprocess
import sys
import tempfile


def insert(text, anchor, new, after=False, count=1):
    """Insert `new` before (or after) the first match of regex `anchor`."""
    m = re.search(anchor, text, re.M)
    if not m:
        raise SystemExit("anchor not found: %r" % anchor)
    pos = m.end() if after else m.start()
    return text[:pos] + new + text[pos:]


def sub_line(text, anchor, fn):
    """Insert fn(match) before the line matched by `anchor`."""
    m = re.search(anchor, text, re.M)
    if not m:
        raise SystemExit("anchor not found: %r" % anchor)
    return text[:m.start()] + fn(m) + text[m.start():]


NIC_PROBE = """\
static int nic_probe(const AVProbeData *p)
{
    const uint8_t *b = p->buf;
    uint32_t zlen, ylen;
    int model;

    if (p->buf_size < 24 || memcmp(b, "NIC", 3) || b[3] != 1)
        return 0;
    if (!AV_RB16(b + 4) || !AV_RB16(b + 6) || b[8] > 1)
        return 0;
    model = AV_RB16(b + 10);
    zlen  = AV_RB32(b + 16);
    ylen  = AV_RB32(b + 20);
    if (model < 1 || model > 3 || ylen < 4)
        return 0;
    /* factorized streams carry no side information, hyperprior ones do */
    if (model == 1 ? zlen != 0 : zlen < 4)
        return 0;
    return AVPROBE_SCORE_MAX - 1;
}

"""

DESC = """\
    {
        .id        = AV_CODEC_ID_NIC,
        .type      = AVMEDIA_TYPE_VIDEO,
        .name      = "nic",
        .long_name = NULL_IF_CONFIG_SMALL("nic (neural image codec)"),
        .props     = AV_CODEC_PROP_INTRA_ONLY | AV_CODEC_PROP_LOSSY,
    },
"""


def edit_libavcodec(f):
    f["libavcodec/codec_id.h"] = insert(
        f["libavcodec/codec_id.h"],
        r'^\n    /\* various PCM "codecs" \*/\n    AV_CODEC_ID_FIRST_AUDIO',
        "    AV_CODEC_ID_NIC,\n")
    f["libavcodec/codec_desc.c"] = insert(
        f["libavcodec/codec_desc.c"],
        r'^\n    /\* various PCM "codecs" \*/', DESC)
    f["libavcodec/allcodecs.c"] = insert(
        f["libavcodec/allcodecs.c"], r'^extern const FFCodec ff_notchlc_decoder;\n',
        "extern const FFCodec ff_nic_encoder;\n"
        "extern const FFCodec ff_nic_decoder;\n")
    f["libavcodec/parsers.c"] = sub_line(
        f["libavcodec/parsers.c"],
        r'^extern const (\w+) ff_opus_parser;\n',
        lambda m: "extern const %s ff_nic_parser;\n" % m.group(1))
    f["libavcodec/Makefile"] = insert(
        f["libavcodec/Makefile"], r'^# \(AD\)PCM decoders/encoders\n',
        "# nic (neural image codec), see libavcodec/nic.mak\n"
        "include $(SRC_PATH)/libavcodec/nic.mak\n\n")


def edit_libavformat(f):
    t = f["libavformat/img2.c"]
    if "TAG(QOI," in t:
        t = insert(t, r'^    TAG\(QOI, ', "    TAG(NIC,             nic      ) \\\n")
    else:
        t = insert(t, r'^    \{ AV_CODEC_ID_QOI, ',
                   '    { AV_CODEC_ID_NIC,        "nic"      },\n')
    f["libavformat/img2.c"] = t
    t = f["libavformat/img2enc.c"]
    if ",avif,qoi" not in t:
        raise SystemExit("img2enc.c: extension anchor not found")
    f["libavformat/img2enc.c"] = t.replace(",avif,qoi", ",avif,nic,qoi", 1)
    t = f["libavformat/img2dec.c"]
    t = insert(t, r'^#define IMAGEAUTO_DEMUXER_0\(', NIC_PROBE)
    t = insert(t, r'^IMAGEAUTO_DEMUXER\(pam, ', "IMAGEAUTO_DEMUXER(nic,       NIC)\n")
    f["libavformat/img2dec.c"] = t
    f["libavformat/allformats.c"] = sub_line(
        f["libavformat/allformats.c"],
        r'^extern const (\w+ +)ff_image_pam_pipe_demuxer;\n',
        lambda m: "extern const %sff_image_nic_pipe_demuxer;\n" % m.group(1))
    f["libavformat/Makefile"] = insert(
        f["libavformat/Makefile"], r'^OBJS-\$\(CONFIG_IMAGE_PAM_PIPE_DEMUXER\)',
        "OBJS-$(CONFIG_IMAGE_NIC_PIPE_DEMUXER)     += img2dec.o img2.o\n")
    t = f["libavformat/riff.c"]
    start = t.index("const AVCodecTag ff_codec_bmp_tags[] = {")
    end = t.index("    { AV_CODEC_ID_NONE,", start)
    t = t[:end] + "    { AV_CODEC_ID_NIC,          MKTAG('N', 'I', 'C', '1') },\n" + t[end:]
    f["libavformat/riff.c"] = t


def edit_build(f):
    t = f["configure"]
    t = insert(t, r'^(# COMPONENT_LIST needs to come last.*\n)?CONFIG_LIST="\n',
               '# nic (neural image codec): --enable-openblas, nic deps, checks\n'
               '. "$(dirname "$0")/ffbuild/nic-configure.sh"\n\n')
    t = insert(t, r'^# these are off by default, so fail if requested and not available\n',
               "nic_configure_checks\n\n")
    m = re.search(r'^check_deps \$CONFIG_LIST .*?\n\n', t, re.M | re.S)
    if not m:
        raise SystemExit("configure: end of check_deps not found")
    t = t[:m.end()] + "nic_configure_report\n\n" + t[m.end():]
    t = insert(t, r'^#define AVCONV_DATADIR .*\n',
               '#define NIC_MODEL_DIR "$(eval c_escape $datadir)/nic"\n', after=True)
    f["configure"] = t
    f["tests/Makefile"] = insert(
        f["tests/Makefile"], r'^include \$\(SRC_PATH\)/tests/fate/mxf\.mak\n',
        "include $(SRC_PATH)/tests/fate/nic.mak\n", after=True)


DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "texi")


def edit_doc(f):
    def texi(name):
        with open(os.path.join(DOCS, name), encoding="utf-8") as fh:
            return fh.read() + "\n"
    # native video decoders come first (av1, hevc, rawvideo): nic before rawvideo
    f["doc/decoders.texi"] = insert(f["doc/decoders.texi"], r'^@section rawvideo\n',
                                    texi("decoders-nic.texi"))
    # video encoders, alphabetical: ... mpeg2, nic, png ...
    f["doc/encoders.texi"] = insert(f["doc/encoders.texi"], r'^@section png\n',
                                    texi("encoders-nic.texi"))


SERIES = [
    ("0001-libavcodec-register-the-nic-codec-and-parser.patch", edit_libavcodec,
     ["libavcodec/codec_id.h", "libavcodec/codec_desc.c", "libavcodec/allcodecs.c",
      "libavcodec/parsers.c", "libavcodec/Makefile"]),
    ("0002-libavformat-nic-image2-nic_pipe-and-NIC1-fourcc.patch", edit_libavformat,
     ["libavformat/img2.c", "libavformat/img2enc.c", "libavformat/img2dec.c",
      "libavformat/allformats.c", "libavformat/Makefile", "libavformat/riff.c"]),
    ("0003-configure-and-FATE-hooks-for-nic.patch", edit_build,
     ["configure", "tests/Makefile"]),
    ("0004-doc-nic-encoder-and-decoder-options.patch", edit_doc,
     ["doc/decoders.texi", "doc/encoders.texi"]),
]


def main():
    src, out = sys.argv[1], sys.argv[2]
    version = open(os.path.join(src, "VERSION")).read().strip()
    os.makedirs(out, exist_ok=True)
    for name, fn, files in SERIES:
        orig = {p: open(os.path.join(src, p), encoding="utf-8").read() for p in files}
        new = dict(orig)
        fn(new)
        with tempfile.TemporaryDirectory() as tmp:
            for side, content in (("a", orig), ("b", new)):
                for p, t in content.items():
                    d = os.path.join(tmp, side, os.path.dirname(p))
                    os.makedirs(d, exist_ok=True)
                    with open(os.path.join(tmp, side, p), "w", encoding="utf-8") as fh:
                        fh.write(t)
            diff = ""
            for p in files:
                r = subprocess.run(["diff", "-u", "a/" + p, "b/" + p], cwd=tmp,
                                   capture_output=True, text=True)
                if r.returncode != 1:
                    raise SystemExit("diff failed for %s" % p)
                # drop timestamps so regenerated patches are stable
                diff += re.sub(r'^(---|\+\+\+) (\S+)\t.*$', r'\1 \2', r.stdout,
                               flags=re.M)
        with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
            fh.write("nic: %s (FFmpeg %s)\n\n" % (name[5:-6].replace("-", " "), version))
            fh.write(diff)
        print("wrote", os.path.join(out, name))


if __name__ == "__main__":
    main()
