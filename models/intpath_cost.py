#!/usr/bin/python3
"""RD cost of the hyperprior's integer scale path.

    python3 models/intpath_cost.py [--ckpt models/ckpt/hyperprior.pt] IMAGE...

Codes the images at every quality with one checkpoint and counts the bits
that the Gaussian conditional needs for y twice: with the scale index of the
exact integer path (what the codec uses: int8 weights, uint8 activations,
a 64-entry scale table) and with the same branch in float (unquantized
weights and activations, continuous scales).  z and the reconstruction are
the same in both, so the difference is the rate cost of the integer path,
reported per quality and as a BD-rate (PSNR)."""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools", "eval"))
from nic import entropy, intpath  # noqa: E402
from nic.checkpoint import model_from  # noqa: E402
from nic.entropy import gaussian_likelihood  # noqa: E402
import bdrate  # noqa: E402


def float_scales(branch, z_hat):
    """The scale branch without any quantization: continuous scales."""
    x = torch.clamp(z_hat, -127, 127)
    x = F.pixel_shuffle(torch.relu(branch.l1[0]._conv_forward(x, branch.l1[0].weight,
                                                              branch.l1[0].bias)), 2)
    x = F.pixel_shuffle(torch.relu(branch.l2[0]._conv_forward(x, branch.l2[0].weight,
                                                              branch.l2[0].bias)), 2)
    log_scale = branch.l3._conv_forward(x, branch.l3.weight, branch.l3.bias)
    return torch.exp(torch.clamp(log_scale, math.log(entropy.SCALE_MIN),
                                 math.log(entropy.SCALE_MAX)))


@torch.no_grad()
def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default=os.path.join(HERE, "ckpt", "hyperprior.pt"))
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt, map_location="cpu")
    model = model_from(ck)
    params = intpath.quantize(model.h_s_scale)
    table = torch.from_numpy(entropy.scale_table()).float()
    rows = []
    for q in range(model.qualities):
        bits_int = bits_float = pixels = 0.0
        psnrs = []
        for path in args.images:
            img = np.asarray(Image.open(path).convert("RGB"))
            h, w = img.shape[:2]
            hp, wp = -(-h // 64) * 64, -(-w // 64) * 64
            x = torch.from_numpy(np.pad(img, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge"))
            x = x.permute(2, 0, 1)[None].float() / 255
            y = model.g_a(x) * model.gains.gain(q)
            z_hat = torch.round(model.h_a(y))
            bz = float(-torch.log2(model.entropy_bottleneck.likelihood(z_hat, q)).sum())
            means = model.h_s_mean(z_hat)
            y_hat = torch.round(y - means) + means
            idx = intpath.scale_indices(params, z_hat[0].long().numpy())
            s_int = table[torch.from_numpy(idx)][None]
            s_float = float_scales(model.h_s_scale, z_hat)
            bits_int += bz + float(-torch.log2(gaussian_likelihood(y_hat, means, s_int)).sum())
            bits_float += bz + float(-torch.log2(gaussian_likelihood(y_hat, means, s_float)).sum())
            pixels += h * w
            x_hat = model.g_s(y_hat * model.gains.inv_gain(q)).clamp(0, 1)[..., :h, :w]
            mse = float(torch.mean((x_hat - x[..., :h, :w]) ** 2))
            psnrs.append(10 * math.log10(1 / mse))
        rows.append({"quality": q, "bpp_integer": bits_int / pixels,
                     "bpp_float": bits_float / pixels, "psnr": float(np.mean(psnrs))})
        print(json.dumps(rows[-1]), flush=True)
    r_int = [r["bpp_integer"] for r in rows]
    r_flt = [r["bpp_float"] for r in rows]
    ps = [r["psnr"] for r in rows]
    print(json.dumps({"step": ck["step"], "images": len(args.images),
                      "bd_rate_integer_vs_float_percent": bdrate.bd_rate(r_flt, ps, r_int, ps)}))


if __name__ == "__main__":
    main()
