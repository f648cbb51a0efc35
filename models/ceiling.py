#!/usr/bin/python3
"""The transforms' own ceiling: PSNR of g_s(g_a(x)) with the quality's gain
and inverse gain but no quantization, next to the PSNR and rate of the
checkpoint's eval-mode forward pass (rounding) at the same quality.  When the
coded PSNR is close to the ceiling, more rate buys little: the transforms,
not the entropy model, limit the high qualities.

    python3 models/ceiling.py [--ckpt models/checkpoints/hyperprior.pt]
                              [--qualities 0,4,7] IMAGE..."""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import nets  # noqa: E402
from nic.checkpoint import model_from, total_steps  # noqa: E402


def psnr(x, x_hat):
    mse = float(torch.mean((x - x_hat.clamp(0, 1)) ** 2))
    return 10 * np.log10(1 / mse)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+")
    p.add_argument("--ckpt", default=os.path.join(here, "checkpoints", "hyperprior.pt"))
    p.add_argument("--qualities", default="0,4,7", help="comma-separated")
    args = p.parse_args()
    args.qualities = [int(v) for v in args.qualities.split(",")]
    torch.set_num_threads(int(os.environ.get("NIC_THREADS", "2")))
    ck = torch.load(args.ckpt, map_location="cpu")
    model = model_from(ck)
    bad = [q for q in args.qualities if not 0 <= q < model.qualities]
    if bad:
        raise SystemExit(f"qualities {bad}: the model has 0..{model.qualities - 1}")
    print(f"{args.ckpt}: {total_steps(ck)} steps"
          f" (+{ck.get('cooldown_steps', 0)} cooldown)")
    for path in args.images:
        a = np.asarray(Image.open(path).convert("RGB"))
        h, w = a.shape[:2]
        if h % 64 or w % 64:
            raise SystemExit(f"{path}: {w}x{h} is not a multiple of 64")
        x = torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            y = model.g_a(x).float()
            for q in args.qualities:
                ceil = model.g_s(y * model.gains.gain(q) * model.gains.inv_gain(q))
                out = model(x, q)
                bpp = float(nets.bits(out["likelihoods"])) / (h * w)
                print(f"{os.path.basename(path)} q{q}: ceiling {psnr(x, ceil):.2f} dB, "
                      f"coded {psnr(x, out['x_hat']):.2f} dB at {bpp:.3f} bpp")


if __name__ == "__main__":
    main()
