#!/usr/bin/python3
"""Write the held-out images of the training cache as PNG, to evaluate on
photos other than Kodak:

    tools/eval/heldout.py [--cache models/cache/train-x2.npz] [--out build/heldout]
    tools/eval/eval.py --nic hyperprior context --data build/heldout \\
        --out build/eval/heldout

models/nic/data.py holds every 40th training image out of training (the
sources downsampled 2x, as the trainer sees them: 39 images, most about
250x170, four of 512x340 to 600x400).  No nic model trained on them; the
context model's held-out rates (models/ctxfit.py) come from the first 8."""
import argparse
import os
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", default=os.path.join(REPO, "models", "cache", "train-x2.npz"))
    p.add_argument("--out", default=os.path.join(REPO, "build", "heldout"))
    args = p.parse_args()
    if not os.path.exists(args.cache):
        sys.exit(f"{args.cache}: no training cache (make -C models ctxfit or train builds it)")
    z = np.load(args.cache)
    keys = sorted((k for k in z.files if k[0] == "v"), key=lambda k: int(k[1:]))
    os.makedirs(args.out, exist_ok=True)
    for k in keys:
        Image.fromarray(z[k]).save(os.path.join(args.out, f"heldout{int(k[1:]):02d}.png"))
    print(f"{args.out}: {len(keys)} images (digest {z['digest']})")


if __name__ == "__main__":
    main()
