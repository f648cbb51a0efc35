#!/usr/bin/python3
"""Parity of the C codec with the PyTorch forward pass of the same weights.

    python3 models/parity.py --nictool build/nictool --model models/hyperprior.gguf \
        --quality 4 IMAGE.png [...]

For every image: the C encoder's stream is decoded by an independent Python
reader (nic/bitstream.py, with the Python integer scale path), and its
quantized latents are compared with those of a PyTorch forward pass that
reads the same model file; then the C decoder's output is compared with the
PyTorch reconstruction from the same latents.  Exits non-zero unless every
latent matches (z exactly; y up to --max-y-mismatch symbols, each off by one
and only where PyTorch's y - mean lies within --max-tie of a rounding
boundary: a tie that float noise decides either way) and the PSNR of C and
PyTorch agree within --max-db."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import bitstream, gguf, intpath  # noqa: E402
from nic.reference import FileModel  # noqa: E402


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nictool", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--quality", type=int, nargs="+", default=[4])
    p.add_argument("--max-y-mismatch", type=float, default=1e-4,
                   help="largest fraction of y symbols allowed to differ")
    p.add_argument("--max-tie", type=float, default=1e-3,
                   help="a y symbol may differ only where PyTorch's y - mean lies "
                        "within this of a rounding boundary (x.5)")
    p.add_argument("--max-db", type=float, default=0.05)
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    torch.set_num_threads(1)
    meta, tensors = gguf.read(args.model)
    ref = FileModel(meta, tensors)
    params = ref.int_params() if ref.arch == "hyperprior" else None
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.images:
            img = np.asarray(Image.open(path).convert("RGB"))
            ppm = os.path.join(tmp, "in.ppm")
            Image.fromarray(img).save(ppm)
            for q in args.quality:
                nic, out = os.path.join(tmp, "x.nic"), os.path.join(tmp, "out.ppm")
                subprocess.run([args.nictool, "encode", args.model, str(q), ppm, nic],
                               check=True, stdout=subprocess.DEVNULL)
                subprocess.run([args.nictool, "decode", args.model, nic, out], check=True)
                buf = open(nic, "rb").read()
                _, zsym, ysym = bitstream.decode_symbols(
                    buf, tensors, meta, lambda z: intpath.scale_indices(params, z))
                r = ref.analyse(img, q)
                z_diff = 0 if zsym is None else int(np.sum(zsym != r["zsym"]))
                miss = ysym != r["ysym"]
                y_diff = int(np.sum(miss))
                # how close PyTorch's unrounded y - mean came to a rounding
                # boundary where the two disagree: a tie, not a different value
                res_y = (r["y"] - r["means"])[0].numpy()[miss]
                tie = float(np.abs(res_y - np.floor(res_y) - 0.5).max()) if y_diff else 0.0
                y_step = int(np.abs(ysym - r["ysym"]).max())
                c_img = np.asarray(Image.open(out))
                t_img = ref.reconstruct(ysym, r["means"], q, *img.shape[:2])
                c_db, t_db = psnr(img, c_img), psnr(img, t_img)
                res = {"image": os.path.basename(path), "quality": q,
                       "bpp": 8 * len(buf) / (img.shape[0] * img.shape[1]),
                       "z_mismatch": z_diff, "y_mismatch": y_diff, "y_symbols": int(ysym.size),
                       "y_max_step": y_step, "y_tie_distance": float("%.3g" % tie),
                       "psnr_c": round(c_db, 4), "psnr_torch": round(t_db, 4),
                       "max_pixel_diff": int(np.abs(c_img.astype(int) - t_img).max())}
                good = (z_diff == 0 and y_diff <= args.max_y_mismatch * ysym.size and
                        y_step <= 1 and tie <= args.max_tie and
                        abs(c_db - t_db) <= args.max_db)
                ok &= good
                print(json.dumps(res), "ok" if good else "FAIL", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
