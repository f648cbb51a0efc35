"""The context model's integer path: its quantization at export, and the
bit-exact reference (numpy int64, no float) of what a decoder computes,
pass by pass, from z_hat and the decoded symbols.

A layer holds int8 weights per part, int32 biases (one row per pass that
uses it) and, per use, a requantization (mult, add, shift, lo, hi):

    acc   = bias + sum over parts of conv(W, x)       (|acc| < 2^31)
    value = clamp((acc * mult[c] + add[c]) >> shift, lo[c], hi[c])"""
import math

import numpy as np
import torch

from . import mixcdf
from .context import Y_IN_MAX, Y_STEP
from .intlayers import ACT_QMAX, WEIGHT_QMAX

MAX_SHIFT = 40
INPUT_QMAX = 127  # z_hat enters clamped to int8


def _requant(real, offset, lo, hi):
    real = np.asarray(real, dtype=np.float64)
    shift = min(MAX_SHIFT, int(math.floor(math.log2((2 ** 31 - 1) / float(real.max())))))
    mult = np.round(real * 2.0 ** shift).astype(np.int64)
    add = np.floor(np.broadcast_to(np.asarray(offset, dtype=np.float64), real.shape)
                   * 2.0 ** shift).astype(np.int64)
    if mult.max() >= 2 ** 31 or shift < 1 or np.abs(add).max() > 2 ** 50:
        raise OverflowError("requantization out of range")
    return {"mult": mult, "add": add, "shift": shift,
            "lo": np.broadcast_to(np.asarray(lo, dtype=np.int64), real.shape).copy(),
            "hi": np.broadcast_to(np.asarray(hi, dtype=np.int64), real.shape).copy()}


def _layer(conv, steps, in_max):
    """IntConv -> integer weights per part, biases, the accumulator step a
    (float64, export only); checks the int32 bound for inputs in range."""
    with torch.no_grad():
        u, a = conv.folded([torch.as_tensor(s, dtype=torch.float64) for s in steps])
        w = [torch.clamp(torch.round(t.double() / a.double().view(-1, 1, 1, 1)),
                         -WEIGHT_QMAX, WEIGHT_QMAX) for t in u]
        b = torch.round(conv.bias.double() / a.double())
    bound = b.abs().amax(0)
    for t, m in zip(w, in_max):
        m = torch.as_tensor(m, dtype=torch.float64).reshape(-1).expand(t.shape[1])
        bound = bound + (t.abs().sum(dim=(2, 3)) * m.view(1, -1)).sum(dim=1)
    if float(bound.max()) >= 2 ** 31:
        raise OverflowError("integer context path exceeds int32")
    return {"w": [t.numpy().astype(np.int8) for t in w],
            "bias": b.numpy().astype(np.int64), "a": a.double().numpy()}


def _act(layer, act):
    return _requant(layer["a"] / float(act.step()), 0.5, 0, ACT_QMAX)


def _branch(br):
    l1 = _layer(br.l1, [1.0], [INPUT_QMAX])
    l2 = _layer(br.l2, [float(br.a1.step())], [ACT_QMAX])
    l3 = _layer(br.l3, [float(br.a2.step())], [ACT_QMAX])
    h = br.head
    l3["rq"] = _requant(l3["a"] * h.factor.double().numpy(), h.offset.double().numpy(),
                        h.lo.numpy(), h.hi.numpy())
    return [dict(l1, rq=_act(l1, br.a1)), dict(l2, rq=_act(l2, br.a2)), l3]


def quantize(model):
    """ContextModel -> its integer parameters (plain numpy)."""
    hy = model.hyper
    out = {"mixture": model.mixture, "groups": list(model.groups),
           "hyper": {"scale": _branch(hy.scale), "mean": _branch(hy.mean)}, "nets": []}
    h_steps = np.concatenate([np.full(model.n, float(hy.scale.a2.step())),
                              np.full(model.n, float(hy.mean.a2.step()))])
    prior = 0
    for net, g in zip(model.nets, model.groups):
        steps = np.concatenate([h_steps, np.full(prior, Y_STEP)])
        in_max = np.concatenate([np.full(2 * model.n, ACT_QMAX), np.full(prior, Y_IN_MAX)])
        first = _layer(net.l1, [steps, Y_STEP], [in_max, Y_IN_MAX])
        first["rq"] = [_act(first, net.act1[p]) for p in range(2)]
        passes = []
        for p in range(2):
            second = _layer(net.l2[p], [float(net.act1[p].step())], [ACT_QMAX])
            second["rq"] = _act(second, net.act2[p])
            third = _layer(net.l3[p], [float(net.act2[p].step())], [ACT_QMAX])
            h = net.head
            third["rq"] = _requant(third["a"] * h.factor.double().numpy(),
                                   h.offset.double().numpy(), h.lo.numpy(), h.hi.numpy())
            passes.append((second, third))
        out["nets"].append({"g": g, "l1": first, "passes": passes})
        prior += g
    return out


# ---------------------------------------------------------------------------
# The exact integer path
# ---------------------------------------------------------------------------

def conv(x, w):
    """x int64 [C, H, W], w int8 [O, C, k, k] -> int64 [O, H, W], zero
    padding."""
    c, h, wd = x.shape
    k = w.shape[2]
    r = k // 2
    wt = w.astype(np.int64)
    xp = np.zeros((c, h + 2 * r, wd + 2 * r), dtype=np.int64)
    xp[:, r:r + h, r:r + wd] = x
    acc = np.zeros((w.shape[0], h * wd), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            acc += wt[:, :, ky, kx] @ xp[:, ky:ky + h, kx:kx + wd].reshape(c, -1)
    return acc.reshape(-1, h, wd)


def requant(acc, rq, base=None):
    """The requantization of an accumulator; `base` (an integer array like
    the output) is added before the clamp."""
    assert np.abs(acc).max(initial=0) < 2 ** 31
    v = (acc * rq["mult"][:, None, None] + rq["add"][:, None, None]) >> rq["shift"]
    if base is not None:
        v = v + base
    return np.clip(v, rq["lo"][:, None, None], rq["hi"][:, None, None])


def _apply(layer, x, bias=0, rq=None, base=None):
    acc = conv(x, layer["w"][0]) + layer["bias"][bias][:, None, None]
    return requant(acc, rq or layer["rq"], base)


def depth_to_space(x):
    c4, h, w = x.shape
    c = c4 // 4
    return x.reshape(c, 2, 2, h, w).transpose(0, 3, 1, 4, 2).reshape(c, 2 * h, 2 * w)


def hyper_path(ip, z_hat):
    """(features [2N, H, W], base means [M, H, W], base scale indices)."""
    z = np.clip(np.asarray(z_hat, dtype=np.int64), -INPUT_QMAX, INPUT_QMAX)
    feats, base = [], []
    for name in ("scale", "mean"):
        l1, l2, l3 = ip["hyper"][name]
        x = depth_to_space(_apply(l2, depth_to_space(_apply(l1, z))))
        feats.append(x)
        base.append(_apply(l3, x))
    return np.concatenate(feats), base[1], base[0]


def anchors(h, w):
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return (r + c) % 2 == 0


def _params(ip, net, p, acc, mean0, idx0):
    second, third = net["passes"][p]
    k = ip["mixture"]
    x = requant(acc, net["l1"]["rq"][p])
    x = _apply(second, x)
    base = np.concatenate([mean0] * k + [idx0] * k + ([np.zeros_like(mean0)] * k if k > 1 else []))
    out = _apply(third, x, base=base)
    out = out.reshape((-1, k, net["g"]) + out.shape[1:])  # [kinds, K, g, H, W]
    return out[0], out[1], (out[2] if k > 1 else None)


def center(means, logits):
    return means[0] if logits is None else mixcdf.center(means, logits)


def run(ip, z_hat, source):
    """The decoder's path.  `source(k, sel, means, scales, logits)` returns
    the coded values of group k at the positions `sel` (bool [H, W]) of the
    pass, given that pass's integer parameters there ([K, g, n] each; logits
    None for the Gaussian); the encoder computes them from y, the decoder
    reads them from the stream.  Returns per group (values, means, scales,
    logits) as [.., g, H, W] arrays and y_hat in 1/MEAN_ONE units."""
    feats, mean0, idx0 = hyper_path(ip, z_hat)
    _, h, w = feats.shape
    starts = np.cumsum([0] + ip["groups"])
    mask = anchors(h, w)
    ctx, out = [feats], []
    for k, net in enumerate(ip["nets"]):
        g = ip["groups"][k]
        x = np.concatenate(ctx)
        shared = conv(x, net["l1"]["w"][0])
        vals = np.zeros((g, h, w), dtype=np.int64)
        y_hat = np.zeros((g, h, w), dtype=np.int64)
        full = None
        for p, sel in ((0, mask), (1, ~mask)):
            acc = shared + net["l1"]["bias"][p][:, None, None]
            if p == 1:
                acc = acc + conv(np.clip(y_hat * mask, -Y_IN_MAX, Y_IN_MAX), net["l1"]["w"][1])
            means, scales, logits = _params(ip, net, p, acc, mean0[starts[k]:starts[k + 1]],
                                            idx0[starts[k]:starts[k + 1]])
            if full is None:
                full = [np.zeros_like(t) if t is not None else None
                        for t in (means, scales, logits)]
            for dst, t in zip(full, (means, scales, logits)):
                if t is not None:
                    dst[..., sel] = t[..., sel]
            pick = [None if t is None else t[..., sel] for t in (means, scales, logits)]
            v = source(k, sel, *pick)
            vals[:, sel] = v
            y_hat[:, sel] = v * mixcdf.MEAN_ONE + center(pick[0], pick[2])
        out.append((vals, *full))
        ctx.append(np.clip(y_hat, -Y_IN_MAX, Y_IN_MAX))
    return out


def values_source(y, groups):
    """A source for run(): the encoder's values of y (float [M, H, W],
    gain applied), rounded against each pass's center."""
    starts = np.cumsum([0] + list(groups))

    def source(k, sel, means, scales, logits):
        yk = y[starts[k]:starts[k + 1]][:, sel]
        return mixcdf.quantize_value(yk, center(means, logits))
    return source


def rate_bits(tabs, ip, groups_out):
    """Exact bits of every element of y, [M, H, W] (float64), from the
    output of run()."""
    bits = []
    for vals, means, scales, logits in groups_out:
        g, h, w = vals.shape
        if logits is None:
            bits.append(mixcdf.gaussian_bits(tabs, scales[0], vals))
        else:
            k = ip["mixture"]
            flat = [t.reshape(k, -1) for t in (means, scales, logits)]
            bits.append(mixcdf.Mixture(tabs, *flat).bits(vals.reshape(-1)).reshape(g, h, w))
    return np.concatenate(bits)
