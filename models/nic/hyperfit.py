"""Trains a hyperprior's hyper networks on the latents of large images, with
the transforms frozen.

End-to-end training runs on 128x128 crops, whose hyper-latent z is a 2x2
map: every position of it is at the border, and h_s never sees one with
real neighbours on all sides.  On a whole Kodak image (a 12x8 map) the
model then predicts worse scales than on the same image cut into 128x128
tiles (models/tile_rate.py).  Training end to end on large crops costs
several times more per step; but with g_a fixed, y does not depend on the
hyper networks and the distortion does not either (uniform noise stands in
for rounding), so their part of the loss is the rate alone.  y of every
large image is computed once, and h_a, both branches of h_s and z's
bottleneck are trained on random crops of those latent maps, a step at
1/16 and 1/64 of the pixel resolution."""
import hashlib

import numpy as np
import torch

from . import nets


def transform_digest(model):
    """Identifies g_a's weights and the gains (what the latents depend on)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if name.startswith(("g_a.", "gains.")):
            h.update(name.encode())
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def latent_maps(model, images):
    """y = g_a(x) of every image (HxWx3 uint8), whole, without gains; padded
    to a multiple of 64 by replicating the edge, as the codec does."""
    was_training = model.training
    model.eval()
    out = []
    for a in images:
        h, w = a.shape[:2]
        a = np.pad(a, ((0, -h % 64), (0, -w % 64), (0, 0)), mode="edge")
        x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
        out.append(model.g_a(x).float()[0].contiguous())
    model.train(was_training)
    return out


def hyper_parameters(model):
    """(hyper network weights, z's density parameters, z's quantiles)."""
    nets_, dens, quant = [], [], []
    for n, p in model.named_parameters():
        if n.startswith(("h_a.", "h_s_mean.", "h_s_scale.")):
            nets_.append(p)
        elif n.startswith("entropy_bottleneck."):
            (quant if n.endswith("quantiles") else dens).append(p)
    return nets_, dens, quant


class LatentCrops:
    """Random crops of the latent maps, side in latent units drawn from
    `sides`, at offsets that are multiples of 4 (so that z's grid lies as it
    does on the whole image), images drawn in proportion to their area."""

    def __init__(self, maps, sides=(16, 24, 32), seed=5):
        self.maps = maps
        self.sides = sides
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def batch(self, n):
        s = int(self.rng.choice(self.sides))
        fits = [i for i, y in enumerate(self.maps) if min(y.shape[1:]) >= s]
        area = np.array([self.maps[i].shape[1] * self.maps[i].shape[2] for i in fits], float)
        pick = self.rng.choice(fits, size=n, p=area / area.sum())
        out = []
        for i in pick:
            y = self.maps[i]
            r = 4 * int(self.rng.integers((y.shape[1] - s) // 4 + 1))
            c = 4 * int(self.rng.integers((y.shape[2] - s) // 4 + 1))
            out.append(y[:, r:r + s, c:c + s])
        return torch.stack(out)


def rate_bpp(model, y, q):
    """Rate of y (no gains yet) at quality q, in bits per pixel."""
    _, lik = model.code(y * model.gains.gain(q), q)
    return nets.bits(lik) / (y.shape[0] * y.shape[2] * y.shape[3] * 256)


@torch.no_grad()
def held_out_rate(model, maps, qualities):
    """Rate with rounding (eval mode) of whole latent maps, in bpp, per
    quality; the transforms are fixed, so the rate alone tells progress."""
    was_training = model.training
    model.eval()
    res = {}
    for q in qualities:
        bits = sum(float(rate_bpp(model, y[None], q)) * y.shape[1] * y.shape[2] for y in maps)
        res[q] = bits / sum(y.shape[1] * y.shape[2] for y in maps)
    model.train(was_training)
    return res
