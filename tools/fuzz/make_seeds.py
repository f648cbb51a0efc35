#!/usr/bin/python3
"""Write the fuzzers' seed corpora (tools/fuzz/corpus/TARGET/) and tiny models.

    /usr/bin/python3 tools/fuzz/make_seeds.py --ffmpeg build/install/bin/ffmpeg

Models: tools/fuzz/models/ holds one tiny model (N = M = Q = 2, 4 scale
levels) cut from each of models/*.gguf: a few KB, which the loader accepts
and loads in well under a millisecond.  They seed the model loader's
fuzzer and let the "dec-tiny" target run FFmpeg's decoder fuzzer at full
speed.

Two tiny context models (model 4) are built instead, on the tiny cut of
the hyperprior: context.gguf a mixture of 3, context-gaussian.gguf one
Gaussian (a seed of the loader's fuzzer only: dec-tiny loads context.gguf).

Streams: samples/bythewater.png scaled to four size classes (1x1 gray,
48x32 RGB, 65x17 gray, 130x70 RGB: one hyper-latent cell, one, two
columns, 3x2), coded by every model at quality 0 and at 48x32 also at the
top quality (7; 1 for the tiny models), through the ffmpeg given, once with the real models (dec, dem,
parser, core) and once with the tiny ones (dec-tiny).  They are wrapped
in each fuzzer's input format (the fuzz_*.c files and FFmpeg's
tools/target_{dec,dem}_fuzzer.c).
"""
import argparse
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
from nic import gguf  # noqa: E402
import numpy as np  # noqa: E402

MODELS = ["factorized", "hyperprior", "hyperprior-msssim", "context"]
SIZES = [("1x1", "gray"), ("48x32", "rgb24"), ("65x17", "gray"), ("130x70", "rgb24")]
SHORT = {"factorized": "f", "hyperprior": "h", "hyperprior-msssim": "s", "context": "c"}
# tiny context models (tools/fuzz/models/NAME.gguf): mixture components
# ("context", the one dec-tiny loads, is the mixture: core has the real
# Gaussian one)
TINY_CONTEXT = {"context": 3, "context-gaussian": 1}
FUZZ_TAG = struct.pack("<Q", 0x4741542D5A5A5546)


def encode(ffmpeg, models, model, size, pix_fmt, quality):
    w, h = size.split("x")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-i",
           os.path.join(ROOT, "samples", "bythewater.png"),
           "-vf", f"scale={w}:{h},format={pix_fmt}", "-c:v", "nic", "-model", model,
           "-q:v", str(quality), "-f", "image2pipe", "-"]
    env = dict(os.environ, NIC_MODEL_PATH=models)
    return subprocess.run(cmd, check=True, capture_output=True, env=env).stdout


def dec_trailer(parser=False, skip_all=False):
    """The 1024 bytes target_dec_fuzzer reads its settings from (inputs
    over 1024 bytes): flags bit 0 puts the parser in front of the decoder;
    a last skip_frame byte of 255 probes (AVDISCARD_ALL + 1)."""
    t = struct.pack("<IIqI", 0, 0, 0, 0)            # width, height, bit_rate, bpcs
    t += bytes([1 if parser else 0])                 # flags
    t += struct.pack("<IIIII", 0, 0, 0, 0, 0)        # extradata, rate, channels, align, tag
    t += struct.pack("<qq", 0, 0)                    # keyframes, request_channel_layout
    t += bytes([0])                                  # idct_algo
    t += struct.pack("<q", -1)                       # flushpattern: never flush
    t += bytes([255 if skip_all else 0])             # skip_frame
    return t + bytes(1024 - len(t))


def dem_trailer(chunk):
    """target_dem_fuzzer's 2048 settings bytes (inputs over 2048 bytes):
    the AVIO buffer size, not seekable, no file size, no interrupt."""
    t = struct.pack("<IBqI", chunk, 0, 0, 0xffffffff)
    return t + bytes(2048 - len(t))


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tiny_model(path, n=2, m=2, q=2, levels=4, keep_levels=None):
    """A model with the architecture of path, N, M and Q cut down to n, m,
    q, and levels of its scale tables: a few KB, which the loader accepts."""
    meta, t = gguf.read(path)
    big_n, big_m = meta["nic.n"], meta["nic.m"]
    hyper = meta["nic.arch"] == "hyperprior"
    if keep_levels is None:
        keep_levels = [round(i * (meta.get("nic.scale_levels", 1) - 1) / (levels - 1))
                       for i in range(levels)]
    levels = len(keep_levels)

    def cut(arr, *axes):   # axes: per leading axis, how many channels to keep
        idx = tuple(slice(0, k) if k else slice(None) for k in axes)
        return arr[idx]

    def up(arr, c_out, c_in):   # upsampling conv [4 * out, in, k, k]: keep 4 * c_out rows
        a = arr.reshape(arr.shape[0] // 4, 4, *arr.shape[1:])[:c_out, :, :c_in]
        return a.reshape(4 * c_out, *a.shape[2:])

    def cdfs(prefix, tables):
        index, cdf = t[prefix + ".cdf_index"], t[prefix + ".cdf"]
        rows, flat = [], []
        for i in tables:
            start, nsym, offset = (int(v) for v in index[i])
            rows.append((len(flat), nsym, offset))
            flat.extend(int(v) for v in cdf[start:start + nsym + 1])
        return [(prefix + ".cdf", np.array(flat, dtype=np.int32)),
                (prefix + ".cdf_index", np.array(rows, dtype=np.int32))]

    out = []
    for i in range(4):
        cin, cout = (3 if i == 0 else n), (m if i == 3 else n)
        out += [(f"g_a.{2 * i}.weight", cut(t[f"g_a.{2 * i}.weight"], cout, cin)),
                (f"g_a.{2 * i}.bias", cut(t[f"g_a.{2 * i}.bias"], cout))]
        cin, cout = (m if i == 0 else n), (3 if i == 3 else n)
        out += [(f"g_s.{2 * i}.weight", up(t[f"g_s.{2 * i}.weight"], cout, cin)),
                (f"g_s.{2 * i}.bias", t[f"g_s.{2 * i}.bias"].reshape(-1, 4)[:cout].reshape(-1))]
        if i < 3:
            for g in ("g_a", "g_s"):
                out += [(f"{g}.{2 * i + 1}.beta", cut(t[f"{g}.{2 * i + 1}.beta"], n)),
                        (f"{g}.{2 * i + 1}.gamma", cut(t[f"{g}.{2 * i + 1}.gamma"], n, n))]
    out += [("gains.gain", cut(t["gains.gain"], q, m)),
            ("gains.inv_gain", cut(t["gains.inv_gain"], q, m))]
    if not hyper:
        out += [("entropy_y.medians", cut(t["entropy_y.medians"], q, m))]
        out += cdfs("entropy_y", [qq * big_m + c for qq in range(q) for c in range(m)])
    else:
        out += [("h_a.0.weight", cut(t["h_a.0.weight"], n, m)), ("h_a.0.bias", cut(t["h_a.0.bias"], n))]
        for k in ("h_a.2", "h_a.4"):
            out += [(k + ".weight", cut(t[k + ".weight"], n, n)), (k + ".bias", cut(t[k + ".bias"], n))]
        for k in ("h_s_mean.0", "h_s_mean.2"):
            out += [(k + ".weight", up(t[k + ".weight"], n, n)),
                    (k + ".bias", t[k + ".bias"].reshape(-1, 4)[:n].reshape(-1))]
        out += [("h_s_mean.4.weight", cut(t["h_s_mean.4.weight"], m, n)),
                ("h_s_mean.4.bias", cut(t["h_s_mean.4.bias"], m))]
        for k, rows, cin in (("l1", None, n), ("l2", None, n), ("l3", m, n)):
            p = "h_s_scale." + k
            if rows is None:   # upsampling: 4 * n rows, in groups of 4
                sel = lambda a: a.reshape(a.shape[0] // 4, 4, *a.shape[1:])[:n].reshape(  # noqa: E731
                    4 * n, *a.shape[1:])
            else:
                sel = lambda a: a[:rows]  # noqa: E731
            out += [(p + ".weight", sel(t[p + ".weight"])[:, :cin]),
                    (p + ".bias", sel(t[p + ".bias"])), (p + ".mult", sel(t[p + ".mult"])),
                    (p + ".add", sel(t[p + ".add"])), (p + ".shift", t[p + ".shift"])]
        out += cdfs("entropy_z", [qq * big_n + c for qq in range(q) for c in range(n)])
        out += cdfs("entropy_y", keep_levels)

    U32, STR = gguf.T_UINT32, gguf.T_STRING
    md = [("general.architecture", STR, "nic"), ("general.alignment", U32, 32),
          ("nic.format_version", U32, 1), ("nic.model", STR, meta["nic.model"]),
          ("nic.model_index", U32, meta["nic.model_index"]), ("nic.arch", STR, meta["nic.arch"]),
          ("nic.n", U32, n), ("nic.m", U32, m), ("nic.metric", STR, meta["nic.metric"]),
          ("nic.qualities", U32, q),
          ("nic.lambdas", (gguf.T_ARRAY, gguf.T_FLOAT32), meta["nic.lambdas"][:q]),
          ("nic.cdf_precision", U32, 16)]
    if hyper:
        md.append(("nic.scale_levels", U32, levels))
    return md, [(k, np.ascontiguousarray(v)) for k, v in out]


def tiny_context(hp_path, components, hidden=4, levels=4, seed=23):
    """A context model (docs/context-model.md) on the tiny cut of the
    hyperprior hp_path (N = M = Q = 2, levels scale levels): two groups of
    one channel, hidden width 4, an untrained group network of that many
    components, its activation steps set on random latents, every scale
    index clamped to the levels kept.  Not a good model, a valid one."""
    import torch
    from nic import ctxfile, ctxint, mixcdf
    from nic.context import ContextModel

    keep = list(range(levels))   # the smallest scales: short tables
    md, tensors = tiny_model(hp_path, keep_levels=keep)
    n = m = 2
    torch.manual_seed(seed)
    model = ContextModel(n, m, [1, 1], components, hidden)
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(1, m, 16, 16) * 4, torch.randint(-3, 4, (1, n, 4, 4)).float())
    model.eval()
    ip = ctxint.quantize(model)

    def clamp_scales(rq):   # scale indices: 0 .. levels - 1
        lo, hi = np.asarray(rq["lo"]), np.array(rq["hi"])
        hi[(lo == 0) & (hi == 63)] = levels - 1
        rq["hi"] = hi
    for name in ("scale", "mean"):
        clamp_scales(ip["hyper"][name][2]["rq"])
    for net in ip["nets"]:
        for _, third in net["passes"]:
            clamp_scales(third["rq"])

    class Tabs:   # the component tables of the levels kept
        pass
    tabs = Tabs()
    comp, comp_index = mixcdf.component_tables()
    flat, rows = [], []
    for i in keep:
        for f in range(mixcdf.MEAN_ONE):
            start, nn, lo = (int(v) for v in comp_index[i * mixcdf.MEAN_ONE + f])
            rows.append((sum(len(a) for a in flat), nn, lo))
            flat.append(comp[start:start + nn + 1])
    tabs.comp, tabs.comp_index = np.concatenate(flat), np.array(rows, dtype=np.int64)
    tabs.weights = mixcdf.weight_table()

    keep_md = {"general.architecture", "general.alignment", "nic.format_version", "nic.n",
               "nic.m", "nic.metric", "nic.qualities", "nic.lambdas", "nic.cdf_precision",
               "nic.scale_levels"}
    md = [kv for kv in md if kv[0] in keep_md]
    md += [("nic.model", gguf.T_STRING, "context"), ("nic.model_index", gguf.T_UINT32, 4),
           ("nic.arch", gguf.T_STRING, "context")]
    md += ctxfile.metadata(ip, hidden, gguf)
    tensors = [t for t in tensors if not t[0].startswith(("h_s_mean.", "h_s_scale."))]
    return md, tensors + [(k, np.ascontiguousarray(v)) for k, v in ctxfile.tensors(ip, tabs)]


def dec_seeds(out, target, streams):
    """target_dec_fuzzer inputs: one packet, bare (up to 1024 bytes) or
    with the settings trailer; several packets; the parser; probing."""
    for (model, size, q), s in streams.items():
        name = f"{SHORT[model]}-{size}-q{q}"
        write(out, target, name, s if len(s) <= 1024 else s + dec_trailer())
    f, h, s, c = (streams[m, "48x32", 0] for m in MODELS)
    write(out, target, "two-packets", f + FUZZ_TAG + h + dec_trailer())
    write(out, target, "two-packets-context", c + FUZZ_TAG + c + dec_trailer())
    write(out, target, "parser-three", f + h + s + dec_trailer(parser=True))
    write(out, target, "probe-only", h + dec_trailer(skip_all=True))


def all_streams(ffmpeg, models, top):
    """Every model and size class at quality 0, and 48x32 at quality top."""
    streams = {}
    for model in MODELS:
        for size, fmt in SIZES:
            streams[model, size, 0] = encode(ffmpeg, models, model, size, fmt, 0)
        streams[model, "48x32", top] = encode(ffmpeg, models, model, "48x32", "rgb24", top)
    return streams


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ffmpeg", required=True, help="an ffmpeg with the nic encoder")
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "fuzz", "corpus"))
    ap.add_argument("--tiny", default=os.path.join(ROOT, "tools", "fuzz", "models"))
    a = ap.parse_args()

    os.makedirs(a.tiny, exist_ok=True)
    for model in MODELS:
        if model == "context":
            continue
        md, tensors = tiny_model(os.path.join(a.models, model + ".gguf"))
        gguf.write(os.path.join(a.tiny, model + ".gguf"), md, tensors)
    for name, k in TINY_CONTEXT.items():
        md, tensors = tiny_context(os.path.join(a.models, "hyperprior.gguf"), k)
        gguf.write(os.path.join(a.tiny, name + ".gguf"), md, tensors)

    streams = all_streams(a.ffmpeg, a.models, 7)
    dec_seeds(a.out, "dec", streams)
    dec_seeds(a.out, "dec-tiny", all_streams(a.ffmpeg, a.tiny, 1))
    f, h, s, c = (streams[m, "48x32", 0] for m in MODELS)
    big = streams["hyperprior", "130x70", 0]

    # dem: nic_pipe streams, flat or read in small AVIO chunks
    write(a.out, "dem", "one", h)
    write(a.out, "dem", "three", f + h + s)
    write(a.out, "dem", "junk-between", f + b"junk" * 9 + h)
    write(a.out, "dem", "truncated-then-good", h[:len(h) // 2] + s)
    write(a.out, "dem", "chunked-7", f + big + h + dem_trailer(7))
    write(a.out, "dem", "context", c + h)

    # parser: chunk plan, then the stream
    write(a.out, "parser", "whole", bytes([0]) + f + h + s)
    write(a.out, "parser", "bytewise", bytes([1, 0]) + h + s)
    write(a.out, "parser", "mixed-junk", bytes([3, 0, 22, 255]) + b"NIC\x01" + f + b"x" * 30 + h)
    write(a.out, "parser", "truncated", bytes([2, 5, 100]) + s[:len(s) - 9] + f + h[:40])
    write(a.out, "parser", "context", bytes([1, 3]) + c + f)

    # core: two size bytes, then a packet (its size, hash and quality are overridden)
    for model in MODELS:
        write(a.out, "core", SHORT[model] + "-48x32", bytes([47, 31]) + streams[model, "48x32", 0])
        write(a.out, "core", SHORT[model] + "-65x17", bytes([0, 16]) + streams[model, "65x17", 0])


if __name__ == "__main__":
    main()
