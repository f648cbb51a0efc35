#!/usr/bin/python3
"""The transforms' own ceiling: PSNR of g_s(g_a(x)) with the quality's gain
and inverse gain but no quantization, next to the PSNR and rate of the
checkpoint's eval-mode forward pass (rounding) at the same quality.  When the
coded PSNR is close to the ceiling, more rate buys little: the transforms,
not the entropy model, limit the high qualities.

    python3 models/ceiling.py [--ckpt models/checkpoints/hyperprior.pt]
                              [--qualities 0,4,7] IMAGE..."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import nets  # noqa: E402
from nic.checkpoint import image_tensor, tool_model, tool_parser, total_steps  # noqa: E402
from nic.metrics import psnr  # noqa: E402


def psnr_of(x, x_hat):
    return psnr(float(torch.mean((x - x_hat.clamp(0, 1)) ** 2)))


def main():
    p = tool_parser(__doc__)
    p.add_argument("--qualities", default="0,4,7", help="comma-separated")
    args = p.parse_args()
    args.qualities = [int(v) for v in args.qualities.split(",")]
    ck, model = tool_model(args.ckpt)
    bad = [q for q in args.qualities if not 0 <= q < model.qualities]
    if bad:
        raise SystemExit(f"qualities {bad}: the model has 0..{model.qualities - 1}")
    print(f"{args.ckpt}: {total_steps(ck)} steps"
          f" (+{ck.get('cooldown_steps', 0)} cooldown)")
    for path in args.images:
        x = image_tensor(path)
        h, w = x.shape[2:]
        if h % 64 or w % 64:
            raise SystemExit(f"{path}: {w}x{h} is not a multiple of 64")
        with torch.no_grad():
            y = model.g_a(x).float()
            for q in args.qualities:
                ceil = model.g_s(y * model.gains.gain(q) * model.gains.inv_gain(q))
                out = model(x, q)
                bpp = float(nets.bits(out["likelihoods"])) / (h * w)
                print(f"{os.path.basename(path)} q{q}: ceiling {psnr_of(x, ceil):.2f} dB, "
                      f"coded {psnr_of(x, out['x_hat']):.2f} dB at {bpp:.3f} bpp")


if __name__ == "__main__":
    main()
