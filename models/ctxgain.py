#!/usr/bin/python3
"""Where the context model saves bits: y's rate under a ctxfit.py or
ctxtune.py checkpoint against the hyperprior's own prior, by channel
group and pass (anchors, non-anchors), on the held-out latents.

    python3 models/ctxgain.py [--ckpt models/ckpt/context-gmm.pt]
                              [--hyperprior models/checkpoints/hyperprior.pt]

Both rates are the float likelihoods of the rounded latents (the training
objective; ctxfit.py shows that the exact integer path is within 0.1%).
A ctxtune.py checkpoint carries its own transforms, which then give the
latents; a ctxfit.py one is measured on the hyperprior it names."""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nic import ctxdata  # noqa: E402
from nic.checkpoint import load, model_from  # noqa: E402
from nic.context import anchor_mask, context_from  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default=os.path.join(HERE, "ckpt", "context-gmm.pt"))
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"))
    p.add_argument("--qualities", default="", help="default: lowest, middle, top")
    p.add_argument("--image-cache", default=os.path.join(HERE, "cache", "train-x2.npz"))
    p.add_argument("--cache-dir", default=os.path.join(HERE, "cache"))
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


@torch.no_grad()
def bits_by_pass(hp, ctx, maps, q):
    """[2 passes, M channels] bits of y under the hyperprior and under the
    context model, summed over maps."""
    out = np.zeros((2, 2, hp.m))
    gain = hp.gains.gain(q)
    for y, z, _ in maps:
        yt = torch.from_numpy(y[None]) * gain
        _, (lik_hp, _) = hp.code(yt, q)
        lik_ctx, _ = ctx(yt, torch.from_numpy(z[q][None].astype(np.float32)))
        b_hp, b_ctx = -torch.log2(lik_hp), -torch.log2(lik_ctx)
        mask = anchor_mask(y.shape[1], y.shape[2])
        for p, sel in enumerate((mask, 1 - mask)):
            out[0, p] += (b_hp * sel).sum((0, 2, 3)).double().numpy()
            out[1, p] += (b_ctx * sel).sum((0, 2, 3)).double().numpy()
    return out


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    ck = load(args.ckpt)
    hp_ck = ck["hyperprior"] if "hyperprior" in ck else load(args.hyperprior)
    hp = model_from(hp_ck)
    ctx = context_from(ck).eval()
    if (ctx.n, ctx.m) != (hp.n, hp.m):
        raise SystemExit(f"{args.ckpt} is not a context model of {args.hyperprior}")
    _, held = ctxdata.load(hp, args.cache_dir, args.image_cache, 0, 8)
    qualities = ([int(q) for q in args.qualities.split(",")] if args.qualities
                 else sorted({0, hp.qualities // 2, hp.qualities - 1}))
    print(f"{args.ckpt}: y's rate against the hyperprior's, {len(held)} held-out images")
    for q in qualities:
        b = bits_by_pass(hp, ctx, held, q)
        cells, start = [], 0
        for k, g in enumerate(ctx.groups):
            for p, name in enumerate(("anchors", "rest")):
                h, c = b[0, p, start:start + g].sum(), b[1, p, start:start + g].sum()
                cells.append(f"g{k} {name} {100 * (c / h - 1):+.1f}%")
            start += g
        print(f"q{q}: all {100 * (b[1].sum() / b[0].sum() - 1):+.2f}%; " + ", ".join(cells))


if __name__ == "__main__":
    main()
