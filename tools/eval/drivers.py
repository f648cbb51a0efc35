"""Codec drivers for the evaluation: each encodes one PNG at one quality
setting to a file (whose size is the rate) and decodes it back to RGB.

Classic codecs use Debian's command-line tools; nic goes through our FFmpeg
build.  Every driver runs its tool single-threaded where the tool allows it
(eval.py also pins the whole run to one CPU).
"""
import hashlib
import os
import shutil
import struct
import subprocess
import time

import numpy as np
from PIL import Image


class CodecError(RuntimeError):
    pass


def run(cmd, env=None):
    """Run cmd (a list); returns wall-clock seconds.  Raises CodecError with
    the tool's output on failure."""
    e = None
    if env:
        e = dict(os.environ)
        e.update(env)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        out = (p.stdout + p.stderr).decode("utf-8", "replace")[-2000:]
        raise CodecError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{out}")
    return dt


def load_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def deb_version(pkg):
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return p.stdout.decode().strip() or "unknown"
    except OSError:
        return "unknown"


def file_digest(path, n=16):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


class Codec:
    key = ""            # results/<key>.json
    name = ""           # legend name
    kind = "classic"
    ext = ".bin"
    tools = ()          # executables that must exist
    packages = ()       # Debian packages, for versions in the description
    param_name = "q"
    points = ()         # quality settings, lowest rate first

    def available(self):
        missing = [t for t in self.tools if shutil.which(t) is None]
        if missing:
            return False, "missing " + ", ".join(missing)
        return True, ""

    def versions(self):
        return ", ".join(f"{p} {deb_version(p)}" for p in self.packages)

    def settings(self):
        """Text identifying everything that changes the output; hashed into
        the cache key."""
        raise NotImplementedError

    def description(self):
        return f"{self.settings()} [{self.versions()}]"

    def fingerprint(self):
        s = self.settings() + "|" + self.versions()
        return hashlib.sha256(s.encode()).hexdigest()[:12]

    def encode(self, src_png, out, param, tmp):
        """Encode src_png to out; returns seconds."""
        raise NotImplementedError

    def decode(self, bitstream, out_png, tmp):
        """Decode bitstream to an image file; returns (seconds, path)."""
        raise NotImplementedError

    def check_bitstream(self, path, param, width, height):
        """Extra per-file information for the cache (or raise)."""
        return {}


class Jpeg(Codec):
    key, name, ext = "jpeg", "JPEG (libjpeg-turbo)", ".jpg"
    tools = ("cjpeg", "djpeg")
    packages = ("libjpeg-turbo-progs",)
    param_name = "quality"
    points = (5, 10, 20, 35, 50, 70, 85, 92)

    def settings(self):
        return "cjpeg -optimize -quality Q (4:2:0, islow DCT); djpeg -ppm"

    def encode(self, src_png, out, param, tmp):
        # cjpeg 2.1 reads PPM, not PNG: convert outside the timed region
        ppm = os.path.join(tmp, "src.ppm")
        Image.open(src_png).convert("RGB").save(ppm)
        return run(["cjpeg", "-optimize", "-quality", str(param),
                    "-outfile", out, ppm])

    def decode(self, bitstream, out_png, tmp):
        out = os.path.splitext(out_png)[0] + ".ppm"
        return run(["djpeg", "-ppm", "-outfile", out, bitstream]), out


class Jpeg2000(Codec):
    key, name, ext = "jpeg2000", "JPEG 2000 (OpenJPEG)", ".j2k"
    tools = ("opj_compress", "opj_decompress")
    packages = ("libopenjp2-tools",)
    param_name = "ratio"
    # compression ratio vs 24-bit RGB: bpp = 24 / ratio
    points = (240, 120, 64, 40, 24, 16, 12)

    def settings(self):
        return ("opj_compress -r R -I (9/7 wavelet + ICT, 1 layer, "
                "raw .j2k codestream); opj_decompress (PPM out)")

    def encode(self, src_png, out, param, tmp):
        return run(["opj_compress", "-i", src_png, "-o", out, "-r", str(param),
                    "-I", "-threads", "1"])

    def decode(self, bitstream, out_png, tmp):
        # opj_decompress's PNG writer alone takes ~2.5 s on a Kodak image,
        # 50x its decoding: write PPM so the time is the decoder's
        out = os.path.splitext(out_png)[0] + ".ppm"
        return run(["opj_decompress", "-i", bitstream, "-o", out,
                    "-threads", "1"]), out


class WebP(Codec):
    key, name, ext = "webp", "WebP (libwebp)", ".webp"
    tools = ("cwebp", "dwebp")
    packages = ("webp",)
    param_name = "q"
    points = (0, 10, 25, 45, 65, 80, 90)

    def settings(self):
        return "cwebp -m 6 -q Q (lossy, 4:2:0); dwebp (PNG out)"

    def encode(self, src_png, out, param, tmp):
        return run(["cwebp", "-quiet", "-m", "6", "-q", str(param),
                    src_png, "-o", out])

    def decode(self, bitstream, out_png, tmp):
        return run(["dwebp", "-quiet", bitstream, "-o", out_png]), out_png


# RGB <-> Y'CbCr as BPG does by default: BT.601 matrix, full range, 4:4:4.
# swscale with accurate rounding; the conversion alone costs ~0.01 dB at
# these rates (about 52-53 dB PSNR on Kodak), and it is included.
_TO_YUV = ("scale=out_color_matrix=bt601:out_range=full:"
           "flags=accurate_rnd+bitexact+full_chroma_int,format=yuv444p")
_TO_RGB = ("scale=in_color_matrix=bt601:in_range=full:"
           "flags=accurate_rnd+bitexact+full_chroma_int,format=rgb24")


class HevcIntra(Codec):
    key, name, ext = "hevc-intra-444", "HEVC intra 4:4:4 (x265)", ".hevc"
    packages = ("ffmpeg", "libx265-199")
    param_name = "crf"
    points = (48, 44, 40, 36, 32, 28, 24)

    def __init__(self, ffmpeg="ffmpeg"):
        self.ffmpeg = ffmpeg
        self.tools = (ffmpeg,)

    def settings(self):
        return ("ffmpeg RGB->yuv444p (BT.601 full range) | libx265 -preset "
                "medium -tune psnr -crf X, one intra frame, no info SEI, raw "
                "Annex-B .hevc | yuv444p->RGB")

    def encode(self, src_png, out, param, tmp):
        return run([self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-threads", "1", "-i", src_png, "-vf", _TO_YUV,
                    "-color_range", "pc", "-colorspace", "bt470bg",
                    "-c:v", "libx265", "-preset", "medium", "-tune", "psnr",
                    "-crf", str(param),
                    "-x265-params",
                    "keyint=1:info=0:pools=1:frame-threads=1:log-level=error",
                    "-frames:v", "1", "-f", "hevc", out])

    def decode(self, bitstream, out_png, tmp):
        return run([self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-threads", "1", "-i", bitstream, "-vf", _TO_RGB,
                    "-frames:v", "1", "-update", "1", out_png]), out_png


class Avif(Codec):
    key, name, ext = "avif", "AVIF 4:4:4 (libaom)", ".avif"
    tools = ("avifenc", "avifdec")
    packages = ("libavif-bin", "libaom3")
    param_name = "quantizer"
    # libavif quantizer 0..63 (min = max = Q: constant quantizer)
    points = (58, 50, 42, 34, 26, 18, 10)

    def settings(self):
        return ("avifenc -c aom -s 6 -y 444 --min Q --max Q (BT.601 full "
                "range YUV 4:4:4, 8-bit); avifdec")

    def encode(self, src_png, out, param, tmp):
        return run(["avifenc", "-c", "aom", "-j", "1", "-s", "6", "-y", "444",
                    "-d", "8", "--min", str(param), "--max", str(param),
                    src_png, out])

    def decode(self, bitstream, out_png, tmp):
        return run(["avifdec", "-j", "1", "-d", "8", bitstream, out_png]), out_png


class JpegXL(Codec):
    key, name, ext = "jpegxl", "JPEG XL (libjxl)", ".jxl"
    tools = ("cjxl", "djxl")
    packages = ("libjxl-tools",)
    param_name = "distance"
    points = (20.0, 12.0, 7.0, 4.5, 3.0, 2.0, 1.3, 0.8)

    def settings(self):
        return "cjxl -d D -e 7 (VarDCT); djxl"

    def encode(self, src_png, out, param, tmp):
        return run(["cjxl", src_png, out, "-d", str(param), "-e", "7",
                    "--num_threads=0", "--quiet"])

    def decode(self, bitstream, out_png, tmp):
        return run(["djxl", bitstream, out_png, "--num_threads=0",
                    "--quiet"]), out_png


CLASSIC = (Jpeg, Jpeg2000, WebP, HevcIntra, Avif, JpegXL)


# ---------------------------------------------------------------- nic

NIC_MODELS = {"factorized": 1, "hyperprior": 2, "hyperprior-msssim": 3, "context": 4,
              "context-msssim": 5}
NIC_HEADER = struct.Struct(">3sBHHBBHIII")   # docs/bitstream.md, 24 bytes


def parse_nic_header(data):
    if len(data) < NIC_HEADER.size:
        raise CodecError(f"nic file too short ({len(data)} bytes)")
    (magic, version, w, h, typ, quality, model, mhash,
     zlen, ylen) = NIC_HEADER.unpack_from(data)
    return dict(magic=magic, version=version, width=w, height=h, type=typ,
                quality=quality, model=model, model_hash=mhash,
                z_len=zlen, y_len=ylen)


class Nic(Codec):
    """nic through our FFmpeg build:
    ffmpeg -i in.png -c:v nic -model M -q:v Q [-effort E] out.nic
    ffmpeg -i out.nic -f image2 out.png"""
    kind = "nic"
    ext = ".nic"
    param_name = "q"

    def __init__(self, model, ffmpeg, fingerprint_files=(), check_header=True, effort=0,
                 qualities=8):
        if model not in NIC_MODELS:
            raise ValueError(f"unknown nic model {model!r}; "
                             f"expected one of {', '.join(NIC_MODELS)}")
        self.model = model
        self.effort = int(effort)
        self.ffmpeg = ffmpeg
        self.tools = (ffmpeg,)
        self.key = f"nic-{model}" + (f"-effort{self.effort}" if self.effort else "")
        self.name = f"nic {model}" + (f" effort {self.effort}" if self.effort else "")
        self.fingerprint_files = tuple(fingerprint_files)
        self.check_header = check_header
        self.points = tuple(range(qualities))

    def available(self):
        if not (os.path.isfile(self.ffmpeg) and os.access(self.ffmpeg, os.X_OK)) \
                and shutil.which(self.ffmpeg) is None:
            return False, f"ffmpeg binary not found: {self.ffmpeg}"
        p = subprocess.run([self.ffmpeg, "-hide_banner", "-encoders"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = p.stdout.decode("utf-8", "replace").splitlines()
        if not any(len(l.split()) > 1 and l.split()[1] == "nic" for l in lines):
            return False, f"{self.ffmpeg} has no 'nic' encoder"
        return True, ""

    def versions(self):
        parts = []
        exe = self.ffmpeg if os.path.isfile(self.ffmpeg) else shutil.which(self.ffmpeg)
        if exe:
            parts.append(f"ffmpeg sha256:{file_digest(exe)}")
        for f in self.fingerprint_files:
            if os.path.isfile(f):
                parts.append(f"{os.path.basename(f)} sha256:{file_digest(f)}")
        return ", ".join(parts)

    def _effort_args(self):
        return ["-effort", str(self.effort)] if self.effort else []

    def settings(self):
        return (f"ffmpeg -c:v nic -model {self.model} -q:v Q "
                + " ".join(self._effort_args() + ["(.nic); "])
                + "ffmpeg -f image2 (.png)")

    def encode(self, src_png, out, param, tmp):
        return run([self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-i", src_png, "-c:v", "nic", "-model", self.model,
                    "-q:v", str(param)] + self._effort_args() + [out])

    def decode(self, bitstream, out_png, tmp):
        return run([self.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-i", bitstream, "-f", "image2", out_png]), out_png

    def check_bitstream(self, path, param, width, height):
        with open(path, "rb") as f:
            data = f.read()
        hd = parse_nic_header(data)
        info = {"model_hash": f"{hd['model_hash']:08x}"}
        if not self.check_header:
            return info
        want = dict(magic=b"NIC", version=1, width=width, height=height,
                    type=1, quality=int(param), model=NIC_MODELS[self.model])
        bad = [f"{k}={hd[k]!r} (expected {v!r})" for k, v in want.items()
               if hd[k] != v]
        total = NIC_HEADER.size + hd["z_len"] + hd["y_len"]
        if total != len(data):
            bad.append(f"header says {total} bytes, file has {len(data)}")
        if self.model == "factorized" and hd["z_len"] != 0:
            bad.append(f"factorized stream with z length {hd['z_len']}")
        if bad:
            raise CodecError(f"{path}: unexpected nic header: " + "; ".join(bad))
        return info
