#!/usr/bin/python3
"""Write held-out images as PNG, to evaluate on photos other than Kodak:

    tools/eval/heldout.py [--set val|photos] [--out DIR]
    tools/eval/eval.py --nic hyperprior context --data build/heldout-photos \\
        --out build/eval/heldout-photos

--set val (build/heldout): the images models/nic/data.py holds out of
training, every 40th training image, downsampled 2x as the trainer sees
them (39 images, most about 250x170, four of 512x340 to 600x400; the
context model's held-out rates in models/ctxfit.py come from the first 8).
--set photos (build/heldout-photos): the photographs models/nic/photos.py
holds out, every 8th of the Debian wallpaper photos (6 images, 640 to 1024
pixels wide).  No nic model trained on either."""
import argparse
import os
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(REPO, "models", "cache")


def val_images():
    path = os.path.join(CACHE, "train-x2.npz")
    if not os.path.exists(path):
        sys.exit(f"{path}: no training cache (make -C models ctxfit or train builds it)")
    z = np.load(path)
    keys = sorted((k for k in z.files if k[0] == "v"), key=lambda k: int(k[1:]))
    return [z[k] for k in keys]


def held_photos():
    sys.path.insert(0, os.path.join(REPO, "models"))
    from nic import photos
    return photos.load(os.path.join(CACHE, "photos.npz"))[1]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", choices=["val", "photos"], default="val")
    p.add_argument("--out")
    args = p.parse_args()
    images = val_images() if args.set == "val" else held_photos()
    out = args.out or os.path.join(REPO, "build",
                                   "heldout" if args.set == "val" else "heldout-photos")
    os.makedirs(out, exist_ok=True)
    for i, a in enumerate(images):
        Image.fromarray(a).save(os.path.join(out, f"{args.set}{i:02d}.png"))
    print(f"{out}: {len(images)} images")


if __name__ == "__main__":
    main()
