#!/usr/bin/python3
"""Export trained checkpoints to the nic model files the C codec loads
(docs/model-format.md).

    python3 models/export.py [--models factorized hyperprior ...] [--out models/]

Weights of the transforms are stored as F16 unless --f32; every CDF table is
computed here, once, as integers."""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import entropy, gguf, intpath  # noqa: E402
from nic.checkpoint import candidates, load_newest, model_from, total_steps  # noqa: E402
from nic.layers import GDN  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_INDEX = {"factorized": 1, "hyperprior": 2, "hyperprior-msssim": 3}
TRAINING_DATA = ("BSDS500, ImageNet sample (1000), SUN (80), Urban100 from shared/data/train, "
                 "downsampled x2 with Lanczos; 128x128 random crops")


def support(eb, q, center, tail=entropy.TAIL_MASS, lo=-4096.0, hi=4096.0):
    """Per-channel [lower, upper] values (relative to center) outside of which
    the density holds at most tail/2 on each side, found by bisection on the
    learned cumulative (independent of how far the quantiles were trained)."""
    import math
    target = math.log(2 / tail - 1)
    res = []
    for sign in (-1.0, 1.0):
        a = torch.full((eb.channels,), lo, dtype=torch.float64)
        b = torch.full((eb.channels,), hi, dtype=torch.float64)
        for _ in range(60):
            mid = (a + b) / 2
            v = (mid + center.double()).float().view(-1, 1, 1)
            logit = eb.logits_cumulative(v, q)[:, 0, 0].double()
            below = logit < sign * target  # still left of the wanted quantile
            a = torch.where(below, mid, a)
            b = torch.where(below, b, mid)
        res.append((a + b) / 2)
    return res


@torch.no_grad()
def eb_tables(eb, q, center):
    lower, upper = support(eb, q, center)
    with torch.no_grad():
        saved = eb.quantiles.data.clone()
        c = eb.channels
        eb.quantiles.data[q * c:(q + 1) * c, 0, 0] = (lower + center.double()).float()
        eb.quantiles.data[q * c:(q + 1) * c, 0, 2] = (upper + center.double()).float()
        offsets, pmfs, tails = eb.pmf_tables(q, center)
        eb.quantiles.data.copy_(saved)
    return [(o, entropy.quantize_cdf(p, t)) for o, p, t in zip(offsets, pmfs, tails)]


def medians(eb, q):
    """Value where the learned cumulative crosses 1/2, per channel."""
    a = torch.full((eb.channels,), -4096.0, dtype=torch.float64)
    b = torch.full((eb.channels,), 4096.0, dtype=torch.float64)
    for _ in range(60):
        mid = (a + b) / 2
        logit = eb.logits_cumulative(mid.float().view(-1, 1, 1), q)[:, 0, 0]
        below = logit < 0
        a = torch.where(below, mid, a)
        b = torch.where(below, b, mid)
    return ((a + b) / 2).float()


def pack_tables(tables):
    data, index = [], []
    pos = 0
    for offset, cdf in tables:
        index.append((pos, len(cdf) - 1, offset))
        data.append(cdf.astype(np.int64))
        pos += len(cdf)
    return (np.concatenate(data).astype(np.int32), np.array(index, dtype=np.int32))


def float_tensors(model, f16):
    wt = np.float16 if f16 else np.float32
    out = []

    def conv(name, m):
        out.append((name + ".weight", m.weight.detach().numpy().astype(wt)))
        out.append((name + ".bias", m.bias.detach().numpy().astype(np.float32)))

    def seq(prefix, s):
        for i, layer in enumerate(s):
            name = f"{prefix}.{i}"
            if isinstance(layer, torch.nn.Conv2d):
                conv(name, layer)
            elif isinstance(layer, torch.nn.Sequential):  # upsampling layer
                conv(name, layer[0])
            elif isinstance(layer, GDN):
                out.append((name + ".beta", layer.beta().detach().numpy().astype(np.float32)))
                out.append((name + ".gamma", layer.gamma().detach().numpy().astype(np.float32)))

    seq("g_a", model.g_a)
    seq("g_s", model.g_s)
    out.append(("gains.gain", torch.exp(model.gains.log_gain).detach().numpy()))
    out.append(("gains.inv_gain", torch.exp(model.gains.log_inv_gain).detach().numpy()))
    if model.arch == "hyperprior":
        seq("h_a", model.h_a)
        seq("h_s_mean", model.h_s_mean)
    return out


def training_data(ck):
    """TRAINING_DATA, and for hyper networks refitted by hyperfit.py, how."""
    rec = ck.get("hyperfit")
    if not rec:
        return TRAINING_DATA
    return (TRAINING_DATA + f"; then h_a, h_s and z's prior alone, {rec['steps']} steps on "
            f"crops of 256 to 512 pixels of the latents of {rec['latents']} whole images "
            "(those training images of 256x256 or more, and photographs from Debian's "
            "wallpaper packages, models/nic/photos.py)")


def training_steps(ck):
    """Every step behind these weights: those of the model a fine-tune
    started from, its own, and a final cooldown's."""
    return total_steps(ck) + int(ck.get("cooldown_steps", 0))


def export(name, ckpt_path, ck, out_path, f16=True):
    model = model_from(ck)
    if model.n_s != model.n:
        raise SystemExit(f"{ckpt_path}: g_s is {model.n_s} wide, N is {model.n}; the model"
                         " format has one width N for both (docs/model-format.md)")
    tensors = float_tensors(model, f16)
    meta = [
        ("general.architecture", gguf.T_STRING, "nic"),
        ("general.alignment", gguf.T_UINT32, gguf.ALIGNMENT),
        ("nic.format_version", gguf.T_UINT32, 1),
        ("nic.model", gguf.T_STRING, name),
        ("nic.model_index", gguf.T_UINT32, MODEL_INDEX[name]),
        ("nic.arch", gguf.T_STRING, model.arch),
        ("nic.n", gguf.T_UINT32, model.n),
        ("nic.m", gguf.T_UINT32, model.m),
        ("nic.metric", gguf.T_STRING, model.metric),
        ("nic.qualities", gguf.T_UINT32, model.qualities),
        ("nic.lambdas", (gguf.T_ARRAY, gguf.T_FLOAT32), list(model.lambdas)),
        ("nic.training.steps", gguf.T_UINT64, training_steps(ck)),
        ("nic.training.data", gguf.T_STRING, training_data(ck)),
        ("nic.cdf_precision", gguf.T_UINT32, entropy.CDF_PRECISION),
    ]
    eb = model.entropy_bottleneck
    if model.arch == "factorized":
        meds = torch.stack([medians(eb, q) for q in range(model.qualities)])
        tables = []
        for q in range(model.qualities):
            tables += eb_tables(eb, q, meds[q])
        cdf, index = pack_tables(tables)
        tensors += [("entropy_y.medians", meds.numpy().astype(np.float32)),
                    ("entropy_y.cdf", cdf), ("entropy_y.cdf_index", index)]
    else:
        meta.append(("nic.scale_levels", gguf.T_UINT32, entropy.SCALE_LEVELS))
        zero = torch.zeros(model.n)
        tables = []
        for q in range(model.qualities):
            tables += eb_tables(eb, q, zero)
        cdf, index = pack_tables(tables)
        tensors += [("entropy_z.cdf", cdf), ("entropy_z.cdf_index", index)]
        gtables = [(o, entropy.quantize_cdf(p, t)) for o, p, t in entropy.gaussian_pmf_tables()]
        cdf, index = pack_tables(gtables)
        tensors += [("entropy_y.cdf", cdf), ("entropy_y.cdf_index", index)]
        ip = intpath.quantize(model.h_s_scale)
        for layer in ("l1", "l2", "l3"):
            for key in ("weight", "bias", "mult", "add", "shift"):
                tensors.append((f"h_s_scale.{layer}.{key}", ip[layer][key]))
    h = gguf.write(out_path, meta, tensors)
    size = os.path.getsize(out_path)
    print(f"{out_path}: {name} from {ckpt_path}, {training_steps(ck)} steps, "
          f"{size / 1e6:.1f} MB, hash {h:08x}")
    return h


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=list(MODEL_INDEX))
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    p.add_argument("--compact-dir", default=os.path.join(HERE, "checkpoints"))
    p.add_argument("--out", default=HERE)
    p.add_argument("--f32", action="store_true", help="store transform weights as F32")
    args = p.parse_args()
    torch.set_num_threads(1)
    done = 0
    for name in args.models:
        path, ck = load_newest(candidates(name, args.ckpt_dir, args.compact_dir))
        if ck is None:
            print(f"{name}: no checkpoint in {args.ckpt_dir}, skipped"
                  + ("" if name == "hyperprior" else
                     f" (fine-tune it: make -C models train MODEL={name} RESTART=1 ...)"))
            continue
        export(name, path, ck, os.path.join(args.out, name + ".gguf"), f16=not args.f32)
        done += 1
    if not done:
        raise SystemExit("nothing exported")


if __name__ == "__main__":
    main()
