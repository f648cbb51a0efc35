#!/usr/bin/python3
"""A linear reference for the transforms' ceiling: the PSNR of an image
whose 16x16 RGB blocks (768 values, the pixels behind one latent position
of y) are projected onto the first K principal components of such blocks
from the training images, for K = M and wider.  It shows how much of an
image a K-dimensional code per block can carry at all, without quantization;
compare it with ceiling.py at the same images.

    python3 models/pca_reference.py [--dims 192,256,320] [--downsample 2 --crop]
                                    IMAGE..."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ceiling import load  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = 16


def blocks(a):
    """HxWx3 floats to one row of 768 values per whole 16x16 block."""
    h, w = a.shape[0] // BLOCK * BLOCK, a.shape[1] // BLOCK * BLOCK
    a = a[:h, :w]
    return (a.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).transpose(0, 2, 1, 3, 4)
            .reshape(-1, BLOCK * BLOCK * 3))


def basis(cache, images, per_image, seed=0):
    """Mean and principal axes (by decreasing variance) of random blocks of
    `images` training images of the trainer's cache."""
    rng = np.random.default_rng(seed)
    z = np.load(cache)
    keys = [k for k in z.files if k[0] == "t"]
    rows = []
    for k in rng.choice(keys, min(images, len(keys)), replace=False):
        b = blocks(z[k].astype(np.float64) / 255)
        rows.append(b[rng.choice(len(b), min(per_image, len(b)), replace=False)])
    x = np.concatenate(rows)
    mean = x.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov((x - mean).T))
    return mean, vecs[:, ::-1], len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+")
    p.add_argument("--dims", default="192,256,320", help="comma-separated K")
    p.add_argument("--cache", default=os.path.join(HERE, "cache", "train-x2.npz"),
                   help="the trainer's image cache (nic/data.py)")
    p.add_argument("--train-images", type=int, default=1000)
    p.add_argument("--blocks-per-image", type=int, default=40)
    p.add_argument("--downsample", type=int, default=1)
    p.add_argument("--crop", action="store_true")
    p.add_argument("--size", type=int, default=0)
    args = p.parse_args()
    dims = [int(v) for v in args.dims.split(",")]
    mean, axes, n = basis(args.cache, args.train_images, args.blocks_per_image)
    print(f"basis from {n} blocks; PSNR with K = {', '.join(map(str, dims))} components")
    for path in args.images:
        x = load(path, args.downsample, args.crop, args.size)[0].permute(1, 2, 0).double().numpy()
        b = blocks(x)
        out = []
        for k in dims:
            a = axes[:, :k]
            r = np.clip((b - mean) @ a @ a.T + mean, 0, 1)
            out.append(f"{10 * np.log10(1 / np.mean((r - b) ** 2)):.2f}")
        print(f"{os.path.basename(path)}: " + " ".join(out) + " dB", flush=True)


if __name__ == "__main__":
    main()
