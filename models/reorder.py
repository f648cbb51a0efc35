#!/usr/bin/python3
"""Sort a hyperprior's latent channels by their rate, largest first, for
the context model's channel groups (nic/reorder.py).

    python3 models/reorder.py OUT.pt [--hyperprior models/checkpoints/hyperprior.pt]

The rate of each channel is measured under the hyperprior's own prior on
the latents of every 8th cached training image (nic/ctxdata.py, the ones
ctxfit.py trains on), at the lowest, a middle and the top quality.  The
result computes the same network: the script checks it on a held-out
image (the rates, and the reconstruction) before writing it; OUT keeps
the checkpoint's step, config and training record and adds the order
("channel_order": channel i of OUT is channel order[i] of the input)."""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nic import ctxdata, data, reorder  # noqa: E402
from nic.checkpoint import compact, load, model_from, save_atomic  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"))
    p.add_argument("--image-cache", default=os.path.join(HERE, "cache", "train-x2.npz"))
    p.add_argument("--cache-dir", default=os.path.join(HERE, "cache"))
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


@torch.no_grad()
def check_same(a, b, order, y, z, qualities):
    """The permuted network b must code y's channels as a does, permuted."""
    for q in qualities:
        ba = reorder.channel_bits(a, [(y, z, None)], [q])[0]
        bb = reorder.channel_bits(b, [(y[order], z, None)], [q])[0]
        if not np.allclose(ba[order], bb, rtol=1e-4, atol=1e-3):
            raise SystemExit(f"q{q}: the reordered network codes differently")
        ya = torch.from_numpy(y[None])
        xa = a.g_s(torch.round(ya * a.gains.gain(q)) * a.gains.inv_gain(q))
        xb = b.g_s(torch.round(ya[:, order] * b.gains.gain(q)) * b.gains.inv_gain(q))
        if float((xa - xb).abs().max()) > 1e-4:
            raise SystemExit(f"q{q}: the reordered synthesis differs")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    ck = load(args.hyperprior)
    if ck["config"]["arch"] != "hyperprior":
        raise SystemExit(f"{args.hyperprior} is not a hyperprior")
    hp = model_from(ck)
    if not os.path.exists(args.image_cache):
        data.build_cache(os.path.join(HERE, "..", "..", "shared", "data", "train"),
                         args.image_cache)
    train_maps, held = ctxdata.load(hp, args.cache_dir, args.image_cache, 1544, 8)
    qualities = sorted({0, hp.qualities // 2, hp.qualities - 1})
    bits = reorder.channel_bits(hp, train_maps[::8], qualities)
    order = reorder.rate_order(bits)
    out = compact(ck)
    out["model"] = reorder.permute_state(ck["model"], order)
    out["channel_order"] = [int(i) for i in order]
    check_same(hp, model_from(out), order, held[0][0], held[0][1], qualities)
    share = bits[:, order] / bits.sum(axis=1, keepdims=True)
    for q, s in zip(qualities, share):
        print(f"q{q}: the first 16 / 32 / 64 channels carry "
              f"{s[:16].sum():.1%} / {s[:32].sum():.1%} / {s[:64].sum():.1%} of y's rate")
    save_atomic(out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
