#!/usr/bin/python3
"""The transforms' own ceiling: PSNR of g_s(g_a(x)) with the quality's gain
and inverse gain but no quantization, next to the PSNR and rate of the
checkpoint's eval-mode forward pass (rounding) at the same quality.  When the
coded PSNR is close to the ceiling, more rate buys little: the transforms,
not the entropy model, limit the high qualities.

    python3 models/ceiling.py [--ckpt models/checkpoints/hyperprior.pt]
                              [--qualities 0,4,7] [--downsample 2 --crop]
                              IMAGE...

--downsample 2 reads an image as the trainer does (nic/data.py: x2 with
Lanczos), e.g. the held-out training images; --crop takes the centred
crop of a multiple of 64 in place of refusing other sizes, --size S the
centred SxS crop.

--fit-latent STEPS also prints the ceiling of the best latent for g_s: y
itself optimized for the image's MSE by Adam from g_a(x), g_s fixed.  What
it adds to the ceiling is what g_a leaves out; what is still missing is
beyond g_s with M channels."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import data, nets  # noqa: E402
from nic.checkpoint import image_tensor, tool_model, tool_parser, total_steps  # noqa: E402
from nic.metrics import psnr  # noqa: E402


def psnr_of(x, x_hat):
    return psnr(float(torch.mean((x - x_hat.clamp(0, 1)) ** 2)))


def load(path, factor, crop, size):
    if factor == 1:
        x = image_tensor(path)
    else:
        a = data.load_downsampled(path, factor)
        x = torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255
    if crop or size:
        h, w = x.shape[2:]
        ch, cw = (min(h, size), min(w, size)) if size else (h // 64 * 64, w // 64 * 64)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        x = x[:, :, y0:y0 + ch, x0:x0 + cw]
    return x


def fit_latent(model, x, q, steps, lr=0.1):
    """The PSNR of g_s(y * inv_gain) with y optimized for the MSE to x,
    starting from g_a(x) * gain; the PSNR at the best step."""
    with torch.no_grad():
        y0 = model.g_a(x).float() * model.gains.gain(q)
    y = y0.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    for p in model.parameters():
        p.requires_grad_(False)
    best = 0.0
    for _ in range(steps):
        x_hat = model.g_s(y * model.gains.inv_gain(q))
        loss = torch.mean((x_hat - x) ** 2)
        best = max(best, psnr_of(x, x_hat.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return max(best, psnr_of(x, model.g_s(y * model.gains.inv_gain(q))))


def main():
    p = tool_parser(__doc__)
    p.add_argument("--qualities", default="0,4,7", help="comma-separated")
    p.add_argument("--downsample", type=int, default=1,
                   help="downsample by this factor as nic/data.py does (Lanczos)")
    p.add_argument("--crop", action="store_true",
                   help="centred crop to a multiple of 64 on each side")
    p.add_argument("--size", type=int, default=0,
                   help="centred crop to SIZE x SIZE (a multiple of 64)")
    p.add_argument("--fit-latent", type=int, default=0, metavar="STEPS",
                   help="also fit y to the image for this many Adam steps, g_s fixed")
    args = p.parse_args()
    args.qualities = [int(v) for v in args.qualities.split(",")]
    ck, model = tool_model(args.ckpt)
    bad = [q for q in args.qualities if not 0 <= q < model.qualities]
    if bad:
        raise SystemExit(f"qualities {bad}: the model has 0..{model.qualities - 1}")
    print(f"{args.ckpt}: {total_steps(ck)} steps"
          f" (+{ck.get('cooldown_steps', 0)} cooldown)")
    for path in args.images:
        x = load(path, args.downsample, args.crop, args.size)
        h, w = x.shape[2:]
        if h % 64 or w % 64:
            raise SystemExit(f"{path}: {w}x{h} is not a multiple of 64")
        with torch.no_grad():
            for q in args.qualities:
                ceil = model.ceiling(x, q)
                out = model(x, q)
                bpp = float(nets.bits(out["likelihoods"])) / (h * w)
                line = (f"{os.path.basename(path)} q{q}: ceiling {psnr_of(x, ceil):.2f} dB, "
                        f"coded {psnr_of(x, out['x_hat']):.2f} dB at {bpp:.3f} bpp")
                if args.fit_latent:
                    with torch.enable_grad():
                        fit = fit_latent(model, x, q, args.fit_latent)
                    line += f", fitted latent {fit:.2f} dB"
                print(line, flush=True)


if __name__ == "__main__":
    main()
