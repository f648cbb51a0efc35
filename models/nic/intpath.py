"""The integer scale path of the hyperprior: quantization of the trained
(fake-quantized) scale branch at export, and the bit-exact reference of
what the C codec computes (docs/model-format.md, "Integer scale path")."""
import math

import numpy as np
import torch

from . import entropy
from .layers import ACT_QMAX, INPUT_QMAX, WEIGHT_QMAX, weight_scale

MAX_SHIFT = 40


def _layer(conv, s_in, s_out_or_none):
    w = conv.weight.detach().double()
    sw = weight_scale(w, 0).double()
    wq = torch.clamp(torch.round(w / sw.view(-1, 1, 1, 1)), -WEIGHT_QMAX, WEIGHT_QMAX)
    b = conv.bias.detach().double()
    bq = torch.round(b / (s_in * sw))
    if s_out_or_none is None:  # final layer: output in units of the log-scale step
        real = s_in * sw / entropy.LOG_SCALE_STEP
        offset = 0.5 - entropy.LOG_SCALE_MIN / entropy.LOG_SCALE_STEP
    else:
        real = s_in * sw / s_out_or_none
        offset = 0.5
    shift = min(MAX_SHIFT, int(math.floor(math.log2((2 ** 31 - 1) / float(real.max())))))
    mult = torch.round(real * 2.0 ** shift)
    add = math.floor(offset * 2.0 ** shift)
    k = w.shape[1] * w.shape[2] * w.shape[3]
    in_max = INPUT_QMAX if s_in == 1.0 else ACT_QMAX
    bound = bq.abs().max() + WEIGHT_QMAX * k * in_max
    if bound >= 2 ** 31 or mult.abs().max() >= 2 ** 31:
        raise OverflowError("integer scale path exceeds int32")
    return {"weight": wq.numpy().astype(np.int8), "bias": bq.numpy().astype(np.int32),
            "mult": mult.numpy().astype(np.int32),
            "add": np.full(w.shape[0], add, dtype=np.int64),
            "shift": np.array([shift], dtype=np.int32)}


def quantize(branch):
    """ScaleBranch -> dict of integer layer parameters l1, l2, l3."""
    s1 = float(branch.a1.scale())
    s2 = float(branch.a2.scale())
    return {"l1": _layer(branch.l1[0], 1.0, s1),
            "l2": _layer(branch.l2[0], s1, s2),
            "l3": _layer(branch.l3, s2, None)}


def _conv3x3(x, p):
    """x: int64 [C, H, W] -> acc int64 [out, H, W] with zero padding."""
    c, h, w = x.shape
    wt = p["weight"].astype(np.int64)
    xp = np.zeros((c, h + 2, w + 2), dtype=np.int64)
    xp[:, 1:-1, 1:-1] = x
    acc = np.broadcast_to(p["bias"].astype(np.int64)[:, None, None],
                          (wt.shape[0], h, w)).copy()
    for ky in range(3):
        for kx in range(3):
            patch = xp[:, ky:ky + h, kx:kx + w].reshape(c, -1)
            acc += (wt[:, :, ky, kx] @ patch).reshape(-1, h, w)
    assert np.abs(acc).max(initial=0) < 2 ** 31
    return acc


def _requant(acc, p, hi):
    mult = p["mult"].astype(np.int64)[:, None, None]
    add = p["add"].astype(np.int64)[:, None, None]
    v = (acc * mult + add) >> int(p["shift"][0])
    return np.clip(v, 0, hi)


def depth_to_space(x):
    c4, h, w = x.shape
    c = c4 // 4
    return x.reshape(c, 2, 2, h, w).transpose(0, 3, 1, 4, 2).reshape(c, 2 * h, 2 * w)


def scale_indices(params, z_hat):
    """z_hat: integer array [N, h, w] -> scale indices [M, 4h, 4w] (int64)."""
    x = np.clip(np.asarray(z_hat, dtype=np.int64), -INPUT_QMAX, INPUT_QMAX)
    x = depth_to_space(_requant(_conv3x3(x, params["l1"]), params["l1"], ACT_QMAX))
    x = depth_to_space(_requant(_conv3x3(x, params["l2"]), params["l2"], ACT_QMAX))
    return _requant(_conv3x3(x, params["l3"]), params["l3"], entropy.SCALE_LEVELS - 1)
