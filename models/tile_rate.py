#!/usr/bin/python3
"""Rate of a hyperprior checkpoint on whole images against the same images
cut into tiles: the model's own likelihoods (eval mode, rounding, y plus z),
in bits per pixel.  A model whose hyper networks only work at the training
crop size codes small tiles for fewer bits than the whole image.

    python3 models/tile_rate.py [--ckpt models/checkpoints/hyperprior.pt]
                                [--quality 4] [--tiles 256 128] IMAGE..."""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import nets  # noqa: E402
from nic.checkpoint import model_from  # noqa: E402


def bpp(model, x, q, npix):
    with torch.no_grad():
        out = model(x, q)
    return float(nets.bits(out["likelihoods"])) / npix


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+")
    p.add_argument("--ckpt", default=os.path.join(here, "checkpoints", "hyperprior.pt"))
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--tiles", type=int, nargs="*", default=[256, 128])
    args = p.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt, map_location="cpu")
    model = model_from(ck)
    print(f"{args.ckpt}: step {ck['step']}, quality {args.quality}")
    for path in args.images:
        a = np.asarray(Image.open(path).convert("RGB"))
        h, w = a.shape[:2]
        x = torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255
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
