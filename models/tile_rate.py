#!/usr/bin/python3
"""Rate of a hyperprior checkpoint on whole images against the same images
cut into tiles: the model's own likelihoods (eval mode, rounding, y plus z),
in bits per pixel.  A model whose hyper networks only work at the training
crop size codes small tiles for fewer bits than the whole image.

    python3 models/tile_rate.py [--ckpt models/checkpoints/hyperprior.pt]
                                [--quality 4] [--tiles 256 128] IMAGE..."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import nets  # noqa: E402
from nic.checkpoint import image_tensor, tool_model, tool_parser  # noqa: E402


def bpp(model, x, q, npix):
    with torch.no_grad():
        out = model(x, q)
    return float(nets.bits(out["likelihoods"])) / npix


def main():
    p = tool_parser(__doc__)
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--tiles", type=int, nargs="*", default=[256, 128])
    args = p.parse_args()
    ck, model = tool_model(args.ckpt)
    print(f"{args.ckpt}: step {ck['step']}, quality {args.quality}")
    for path in args.images:
        x = image_tensor(path)
        h, w = x.shape[2:]
        res = [f"whole {bpp(model, x, args.quality, h * w):.3f}"]
        for t in args.tiles:
            if h % t or w % t:
                raise SystemExit(f"{path}: {w}x{h} is not a multiple of {t}")
            tiles = torch.cat([x[:, :, i:i + t, j:j + t]
                               for i in range(0, h, t) for j in range(0, w, t)])
            res.append(f"{t}x{t} tiles {bpp(model, tiles, args.quality, h * w):.3f}")
        print(f"{os.path.basename(path)}: " + ", ".join(res) + " bpp")


if __name__ == "__main__":
    main()
