"""Training data: photos from ../shared/data/train, decoded once, downsampled
x2 with antialiasing (most sources are JPEG, and this hides their block
artefacts), and cached as one uint8 array in models/cache/."""
import hashlib
import os

import numpy as np
from PIL import Image

FOLDERS = ["bsds500", "imagenet-sample", "sun-hays80", "urban100"]
EXTS = (".jpg", ".jpeg", ".png")


def list_images(root):
    files = []
    for f in FOLDERS:
        d = os.path.join(root, f)
        if not os.path.isdir(d):
            continue
        for dirpath, _, names in os.walk(d):
            for n in sorted(names):
                if n.lower().endswith(EXTS):
                    files.append(os.path.join(dirpath, n))
    return sorted(files)


def load_downsampled(path, factor=2):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    im = im.resize((max(1, w // factor), max(1, h // factor)), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def build_cache(root, cache, min_side=128, val_every=40):
    """Decodes every image once; every val_every-th image (in sorted order)
    is held out for validation."""
    files = list_images(root)
    if not files:
        raise SystemExit(f"no training images under {root}")
    train, val, names = [], [], []
    for i, f in enumerate(files):
        a = load_downsampled(f)
        if min(a.shape[:2]) < min_side:
            continue
        (val if i % val_every == 0 else train).append(a)
        names.append(os.path.relpath(f, root))
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, digest=digest,
             **{f"t{i}": a for i, a in enumerate(train)},
             **{f"v{i}": a for i, a in enumerate(val)})
    os.replace(tmp, cache)
    print(f"data: {len(train)} training and {len(val)} held-out images "
          f"from {len(files)} files, list digest {digest}")


class Crops:
    """Random crops with horizontal flips, drawn from a seeded generator whose
    state is saved with the checkpoint (that is the data position)."""

    def __init__(self, cache, size):
        z = np.load(cache)
        self.train = [z[k] for k in sorted((k for k in z.files if k[0] == "t"),
                                           key=lambda k: int(k[1:]))]
        self.val = [z[k] for k in sorted((k for k in z.files if k[0] == "v"),
                                         key=lambda k: int(k[1:]))]
        self.digest = str(z["digest"])
        self.size = size
        self.train = [a for a in self.train if min(a.shape[:2]) >= size]
        self.rng = np.random.Generator(np.random.PCG64(12345))

    def batch(self, n):
        s = self.size
        out = np.empty((n, s, s, 3), dtype=np.uint8)
        for i in range(n):
            a = self.train[self.rng.integers(len(self.train))]
            y = self.rng.integers(a.shape[0] - s + 1)
            x = self.rng.integers(a.shape[1] - s + 1)
            c = a[y:y + s, x:x + s]
            out[i] = c[:, ::-1] if self.rng.integers(2) else c
        return out

    def val_crops(self, size=256, count=24):
        crops = []
        for a in self.val:
            h, w = a.shape[:2]
            if h >= size and w >= size:
                y, x = (h - size) // 2, (w - size) // 2
                crops.append(a[y:y + size, x:x + size])
            if len(crops) == count:
                break
        return np.stack(crops)
