"""Latents for training the context model with the transforms frozen: y =
g_a(x) of whole images (no gains) and z_hat = round(h_a(y * gain[q])) for
every quality, computed once and cached in models/cache/ as one .npz under
the digest of the weights they come from."""
import hashlib
import os

import numpy as np
import torch


def digest(model):
    """Identifies what the latents depend on: g_a, the gains and h_a."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if name.startswith(("g_a.", "gains.", "h_a.")):
            h.update(name.encode())
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def pick_images(image_cache, n_train, n_held):
    """n_train training images spread evenly over data.py's cache (so
    every source folder is represented) and its first n_held held-out
    ones; HxWx3 uint8 each."""
    z = np.load(image_cache)
    t = sum(1 for k in z.files if k[0] == "t")
    v = sum(1 for k in z.files if k[0] == "v")
    train = [z[f"t{i}"] for i in np.linspace(0, t - 1, min(n_train, t)).astype(int)]
    held = [z[f"v{i}"] for i in range(min(n_held, v))]
    return train, held


@torch.no_grad()
def encode(model, image):
    """(y float32 [M, h, w], z_hat int16 [Q, N, h/4, w/4]) of one image,
    padded to a multiple of 64 by replicating the edge, as the codec does."""
    h, w = image.shape[:2]
    a = np.pad(image, ((0, -h % 64), (0, -w % 64), (0, 0)), mode="edge")
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    y = model.g_a(x).float()
    zs = [torch.round(model.h_a(y * model.gains.gain(q))) for q in range(model.qualities)]
    return y[0].numpy(), torch.cat(zs).numpy().astype(np.int16)


def load(model, cache_dir, image_cache, n_train, n_held):
    """(training, held-out): lists of (y, z_hat, (height, width))."""
    path = os.path.join(cache_dir, f"ctx-latents-{digest(model)}-{n_train}-{n_held}.npz")
    if not os.path.exists(path):
        model.eval()
        train, held = pick_images(image_cache, n_train, n_held)
        arrays = {}
        for tag, images in (("t", train), ("h", held)):
            for i, im in enumerate(images):
                y, z = encode(model, im)
                arrays[f"{tag}y{i}"], arrays[f"{tag}z{i}"] = y, z
                arrays[f"{tag}s{i}"] = np.array(im.shape[:2])
        os.makedirs(cache_dir, exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    f = np.load(path)
    out = []
    for tag in "th":
        n = sum(1 for k in f.files if k.startswith(tag + "y"))
        out.append([(f[f"{tag}y{i}"], f[f"{tag}z{i}"], tuple(f[f"{tag}s{i}"])) for i in range(n)])
    return out


class Batches:
    """Batches of whole latent maps of one shape, the shape drawn in
    proportion to its share of the latent area."""

    def __init__(self, maps, seed=7):
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.buckets = {}
        for i, (y, _, _) in enumerate(maps):
            self.buckets.setdefault(y.shape, []).append(i)
        self.shapes = sorted(self.buckets)
        area = np.array([len(self.buckets[s]) * s[1] * s[2] for s in self.shapes], float)
        self.p = area / area.sum()
        self.maps = maps

    def batch(self, n, q):
        """(y without gains [B, M, H, W], z_hat of quality q) as tensors."""
        s = self.shapes[self.rng.choice(len(self.shapes), p=self.p)]
        idx = self.rng.choice(self.buckets[s], size=min(n, len(self.buckets[s])), replace=False)
        y = torch.from_numpy(np.stack([self.maps[i][0] for i in idx]))
        z = torch.from_numpy(np.stack([self.maps[i][1][q] for i in idx]).astype(np.float32))
        return y, z
