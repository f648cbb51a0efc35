#!/usr/bin/python3
"""What encoder-side latent optimization could gain with the context model,
with contexts that follow the optimized latent (PyTorch; a measurement,
not the codec's -effort).

    python3 models/ctximport.py models/context.gguf --out models/ckpt/context-file.pt
    python3 models/ctxeffort.py --ckpt models/ckpt/context-file.pt IMAGE.png [...]

Per image (its centre crop) and quality: y0 = g_a(x) * gain, z_hat =
round(h_a(y0)) held fixed; then Adam on y minimizing

    bits(y~ | z_hat, contexts of y~) + lambda * 255^2 * MSE(g_s(y~ * inv_gain), x)

where y~ relaxes the rounding of y around the center every pass computes
(the deterministic annealed rounding of the codec's -effort: weight w =
logistic((atanh(d) - atanh(1 - d)) / tau^2) on the upper neighbour), the
context inputs are y~ on their integer grid (straight-through, or with no
gradient: --no-context-grad), and the
rate of y~ is (1 - w) times the code length of the lower neighbour plus w
times that of the upper one, under the prior's float likelihoods (the
likelihood of a bin around y~ itself lets values park between two symbols
at low rates, and the hard coding then pays for them).  The schedule is effort 3's
(120 iterations, step 0.008 -> 0.002, tau 0.5 -> 0.02, geometric).  The
result is coded as the codec codes: pass by pass, hard rounding around the
centers the decoded contexts give (float likelihoods of the symbols, z's
bits from its prior), 8-bit output.  Prints bpp and PSNR per image and
quality with and without the optimization, and the BD-rate of the
averaged curves."""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools", "eval"))
from bdrate import bd_rate  # noqa: E402
from nic.checkpoint import load, model_from  # noqa: E402
from nic import mixcdf  # noqa: E402
from nic.context import centers, context_from, likelihood  # noqa: E402
from nic.layers import round_ste  # noqa: E402

EPS = 1e-4


def relaxed(tau):
    """The annealed relaxation of rounding at temperature tau."""
    def rnd(v):
        f = torch.floor(v).detach()
        d = torch.clamp(v - f, EPS, 1 - EPS)
        w = torch.sigmoid((torch.atanh(d) - torch.atanh(1 - d)) / (tau * tau))
        return f + w
    return rnd


def interpolated(y, means, scales, logits):
    """The probability of y~ = c + f + w (c the center, f an integer, w in
    (0, 1)) as the codec's -effort rates it: its code length is (1 - w)
    times that of c + f plus w times that of c + f + 1, so that a value
    between two symbols costs what their mix costs, not the likelihood of
    a bin around it."""
    c = centers(means, logits) / mixcdf.MEAN_ONE
    f = torch.floor(y - c).detach()
    w = y - c - f
    lo = torch.log(likelihood(c + f, means, scales, logits))
    hi = torch.log(likelihood(c + f + 1, means, scales, logits))
    return torch.exp((1 - w) * lo + w * hi)


def code(hp, ctx, y, z_hat, x, q):
    """(bpp, PSNR) of y coded as the codec codes it."""
    with torch.no_grad():
        lik_y, y_hat = ctx(y, z_hat)
        lik_z = hp.entropy_bottleneck.likelihood(z_hat, q)
        bits = float(-torch.log2(lik_y).sum() - torch.log2(lik_z).sum())
        x_hat = hp.g_s(y_hat * hp.gains.inv_gain(q)).float().clamp(0, 1)
        mse = float(torch.mean((torch.round(x_hat * 255) - torch.round(x * 255)) ** 2))
    return bits / (x.shape[2] * x.shape[3]), 10 * np.log10(255 ** 2 / mse)


def optimize(hp, ctx, y0, z_hat, x, q, iters, lr0, lr1, tau0, tau1):
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr0)
    lam = hp.lambdas[q] * 255 ** 2
    for t in range(iters):
        frac = t / max(iters - 1, 1)
        for g in opt.param_groups:
            g["lr"] = lr0 * (lr1 / lr0) ** frac
        ctx.rounding = relaxed(tau0 * (tau1 / tau0) ** frac)
        ctx.likelihood = interpolated
        lik, y_t = ctx(y, z_hat)
        x_t = hp.g_s(y_t * hp.gains.inv_gain(q)).float()
        loss = (-torch.log2(lik).sum() / (x.shape[2] * x.shape[3])
                + lam * torch.mean((x_t - x) ** 2))
        opt.zero_grad()
        loss.backward()
        opt.step()
    ctx.rounding, ctx.likelihood = round_ste, likelihood
    return y.detach()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+")
    p.add_argument("--ckpt", required=True, help="a context checkpoint (ctxtune.py, ctximport.py)")
    p.add_argument("--crop", type=int, nargs=2, default=(384, 256), metavar=("W", "H"))
    p.add_argument("--quality", type=int, nargs="+", default=[0, 2, 4, 6, 7])
    p.add_argument("--iterations", type=int, default=120)
    p.add_argument("--lr", type=float, nargs=2, default=(0.008, 0.002))
    p.add_argument("--tau", type=float, nargs=2, default=(0.5, 0.02))
    p.add_argument("--no-context-grad", action="store_true",
                   help="recompute the contexts every iteration but pass no gradient "
                        "through the context networks")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ck = load(args.ckpt)
    hp = model_from(ck["hyperprior"])
    ctx = context_from(ck).eval()
    ctx.context_grad = not args.no_context_grad
    for par in list(hp.parameters()) + list(ctx.parameters()):
        par.requires_grad_(False)
    curves = {"base": {q: [] for q in args.quality}, "opt": {q: [] for q in args.quality}}
    for path in args.images:
        img = np.asarray(Image.open(path).convert("RGB"))
        w, h = args.crop
        top, left = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        x = torch.from_numpy(img[top:top + h, left:left + w].copy()).permute(2, 0, 1)[None]
        x = x.float() / 255
        for q in args.quality:
            with torch.no_grad():
                y0 = hp.g_a(x).float() * hp.gains.gain(q)
                z_hat = torch.round(hp.h_a(y0))
            base = code(hp, ctx, y0, z_hat, x, q)
            y = optimize(hp, ctx, y0, z_hat, x, q, args.iterations, *args.lr, *args.tau)
            opt = code(hp, ctx, y, z_hat, x, q)
            curves["base"][q].append(base)
            curves["opt"][q].append(opt)
            print(json.dumps({"image": os.path.basename(path), "quality": q,
                              "base": [round(v, 4) for v in base],
                              "opt": [round(v, 4) for v in opt]}), flush=True)
    avg = {k: [np.mean(np.array(c[q]), axis=0) for q in args.quality] for k, c in curves.items()}
    rate = lambda k: [a[0] for a in avg[k]]  # noqa: E731
    dist = lambda k: [a[1] for a in avg[k]]  # noqa: E731
    print(json.dumps({"bd_rate_percent": round(bd_rate(rate("base"), dist("base"),
                                                       rate("opt"), dist("opt")), 2)}))


if __name__ == "__main__":
    main()
