#!/usr/bin/python3
"""Export trained checkpoints to the nic model files the C codec loads
(docs/model-format.md).

    python3 models/export.py [--models factorized hyperprior ...] [--out models/]
    python3 models/export.py --context models/ckpt/context-gaussian.pt [--out models/]
    python3 models/export.py --context-fresh gmm --out build/   (untrained, for tests)

Weights of the transforms are stored as F16 unless --f32; every CDF table is
computed here, once, as integers.  --context writes context.gguf: the
hyperprior's transforms (--hyperprior, the checkpoint the context model was
trained on) with the context entropy model of a models/ctxfit.py
checkpoint, or the fine-tuned transforms and context model of a
models/ctxtune.py checkpoint (context-msssim.gguf when it was trained for
MS-SSIM, `ctxtune.py --metric ms-ssim`); --context-fresh the same with an untrained
context model of that prior, its activation steps set on the latents of samples/ (what the parity
checks use: the integer path does not need trained weights to be exact)."""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import ctxfile, ctxint, entropy, gguf, intpath, mixcdf  # noqa: E402
from nic.checkpoint import candidates, load, load_newest, model_from, total_steps  # noqa: E402
from nic.context import ContextModel, context_from  # noqa: E402
from nic.layers import GDN  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_INDEX = {"factorized": 1, "hyperprior": 2, "hyperprior-msssim": 3}
# the context models by metric: file name and bitstream model index
CONTEXT_MODELS = {"mse": ("context", 4), "ms-ssim": ("context-msssim", 5)}
CONTEXT_PRIORS = {"gaussian": 1, "gmm": 3}
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


def base_metadata(name, index, arch, model, steps, data):
    return [
        ("general.architecture", gguf.T_STRING, "nic"),
        ("general.alignment", gguf.T_UINT32, gguf.ALIGNMENT),
        ("nic.format_version", gguf.T_UINT32, 1),
        ("nic.model", gguf.T_STRING, name),
        ("nic.model_index", gguf.T_UINT32, index),
        ("nic.arch", gguf.T_STRING, arch),
        ("nic.n", gguf.T_UINT32, model.n),
        ("nic.m", gguf.T_UINT32, model.m),
        ("nic.metric", gguf.T_STRING, model.metric),
        ("nic.qualities", gguf.T_UINT32, model.qualities),
        ("nic.lambdas", (gguf.T_ARRAY, gguf.T_FLOAT32), list(model.lambdas)),
        ("nic.training.steps", gguf.T_UINT64, steps),
        ("nic.training.data", gguf.T_STRING, data),
        ("nic.cdf_precision", gguf.T_UINT32, entropy.CDF_PRECISION),
    ]


def check_widths(model, ckpt_path):
    if model.n_s != model.n:
        raise SystemExit(f"{ckpt_path}: g_s is {model.n_s} wide, N is {model.n}; the model"
                         " format has one width N for both (docs/model-format.md)")


def hyper_tables(model):
    """entropy_z (per quality and channel) and entropy_y (the Gaussian
    scale tables) of a hyperprior."""
    zero = torch.zeros(model.n)
    tables = []
    for q in range(model.qualities):
        tables += eb_tables(model.entropy_bottleneck, q, zero)
    cdf, index = pack_tables(tables)
    out = [("entropy_z.cdf", cdf), ("entropy_z.cdf_index", index)]
    gtables = [(o, entropy.quantize_cdf(p, t)) for o, p, t in entropy.gaussian_pmf_tables()]
    cdf, index = pack_tables(gtables)
    return out + [("entropy_y.cdf", cdf), ("entropy_y.cdf_index", index)]


def export(name, ckpt_path, ck, out_path, f16=True):
    model = model_from(ck)
    check_widths(model, ckpt_path)
    tensors = float_tensors(model, f16)
    meta = base_metadata(name, MODEL_INDEX[name], model.arch, model, training_steps(ck),
                         training_data(ck))
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
        tensors += hyper_tables(model)
        ip = intpath.quantize(model.h_s_scale)
        for layer in ("l1", "l2", "l3"):
            for key in ("weight", "bias", "mult", "add", "shift"):
                tensors.append((f"h_s_scale.{layer}.{key}", ip[layer][key]))
    h = gguf.write(out_path, meta, tensors)
    size = os.path.getsize(out_path)
    print(f"{out_path}: {name} from {ckpt_path}, {training_steps(ck)} steps, "
          f"{size / 1e6:.1f} MB, hash {h:08x}")
    return h


@torch.no_grad()
def fresh_context(hp, prior, seed=23):
    """An untrained context model of `prior` on the hyperprior hp: the hyper
    path from hp's h_s, the group networks at their initialization, every
    activation step set on the latents of the images in samples/."""
    from nic.ctxdata import encode
    from PIL import Image
    torch.manual_seed(seed)
    model = ContextModel(hp.n, hp.m, None, CONTEXT_PRIORS[prior])
    model.hyper.init_from(hp)
    model.train()
    samples = os.path.join(HERE, "..", "samples")
    for f in sorted(os.listdir(samples)):
        if f.endswith(".png"):
            y, zs = encode(hp, np.asarray(Image.open(os.path.join(samples, f)).convert("RGB")))
            for q in (0, hp.qualities - 1):
                model(torch.from_numpy(y[None]) * hp.gains.gain(q),
                      torch.from_numpy(zs[q][None].astype(np.float32)))
    return model.eval()


def export_context(hp_path, ctx_path, prior, out_dir, f16=True):
    """context.gguf: the hyperprior's transforms, hyper analysis and z prior
    with the context entropy model (docs/model-format.md, "Context model")."""
    ck = load(ctx_path) if ctx_path else {}
    if "hyperprior" in ck:  # ctxtune.py: the transforms were fine-tuned with it
        hp_ck, hp_path = ck["hyperprior"], ctx_path
    else:
        hp_ck = load(hp_path)
    hp = model_from(hp_ck)
    check_widths(hp, hp_path)
    if hp.arch != "hyperprior":
        raise SystemExit(f"{hp_path} is not a hyperprior")
    if ctx_path:
        model = context_from(ck).eval()
        ctx_steps = int(ck["steps"])
        if (model.n, model.m) != (hp.n, hp.m):
            raise SystemExit(f"{ctx_path} is for N, M = {model.n}, {model.m}, "
                             f"{hp_path} has {hp.n}, {hp.m}")
    else:
        model, ctx_steps = fresh_context(hp, prior), 0
    ip = ctxint.quantize(model)
    tensors = [t for t in float_tensors(hp, f16) if not t[0].startswith("h_s_mean.")]
    tensors += hyper_tables(hp)
    tensors += ctxfile.tensors(ip, mixcdf.Tables())
    kind = "gaussian" if model.mixture == 1 else f"mixture of {model.mixture} Gaussians"
    fit_steps = int(ck.get("ctxfit_steps", ctx_steps))
    imported = ck.get("imported_from")
    if imported:  # models/ctximport.py: the file's own history comes first
        data = imported["data"] + f" (read back from {imported['file']}, models/ctximport.py)"
        base_steps = int(ck.get("base_e2e_steps", 0)) - int(imported["steps"])
    else:
        data = (training_data(hp_ck) + f"; then the context entropy model ({kind}) alone, "
                f"{fit_steps} steps on the latents of whole training images (models/ctxfit.py)")
        base_steps = int(ck.get("base_e2e_steps", 0))
    crop = ck.get("args", {}).get("crop")
    if base_steps:
        data += (f"; then everything end to end, {base_steps} steps of 8 crops "
                 "(models/ctxtune.py)")
    if ck.get("e2e_steps"):
        on = f" on {hp.metric}" if hp.metric != "mse" else ""
        data += (f"; then everything end to end{on}, {ck['e2e_steps']} steps of 8 crops of "
                 f"{crop}x{crop} (models/ctxtune.py)")
    if ck.get("refit_steps"):
        data += (f"; then the context entropy model alone again, {ck['refit_steps']} steps "
                 "on the latents of whole training images (models/ctxfit.py --init)")
    name, index = CONTEXT_MODELS[hp.metric]
    meta = base_metadata(name, index, "context", hp,
                         training_steps(hp_ck) + ctx_steps, data)
    meta.append(("nic.scale_levels", gguf.T_UINT32, entropy.SCALE_LEVELS))
    meta += ctxfile.metadata(ip, model.hidden, gguf)
    out_path = os.path.join(out_dir, name + ".gguf")
    h = gguf.write(out_path, meta, tensors)
    print(f"{out_path}: {name} ({kind}) from {ctx_path or 'a fresh model'} on {hp_path}, "
          f"{ctx_steps} context steps, {os.path.getsize(out_path) / 1e6:.1f} MB, hash {h:08x}")
    return h


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=list(MODEL_INDEX))
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    p.add_argument("--compact-dir", default=os.path.join(HERE, "checkpoints"))
    p.add_argument("--out", default=HERE)
    p.add_argument("--f32", action="store_true", help="store transform weights as F32")
    p.add_argument("--context", metavar="CKPT",
                   help="write context.gguf (context-msssim.gguf for an MS-SSIM one) from"
                        " this models/ctxfit.py or ctxtune.py checkpoint (only)")
    p.add_argument("--context-fresh", choices=sorted(CONTEXT_PRIORS),
                   help="write context.gguf with an untrained context model of this prior")
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"),
                   help="--context: the hyperprior checkpoint the context model was trained on")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.context or args.context_fresh:
        export_context(args.hyperprior, args.context, args.context_fresh, args.out,
                       f16=not args.f32)
        return
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
