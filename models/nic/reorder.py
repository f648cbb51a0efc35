"""Reordering the latent channels of a trained hyperprior.

Permuting y's M channels, together with every weight that makes or reads
them, changes no output: g_a writes channel order[i] as channel i, the
gains move with it, and g_s, h_a and both h_s branches read or write the
same permutation.  The hyperprior codes exactly as before (its prior is
per element), but the context model (context.py) splits y into channel
groups in index order, so the order decides which channels are decoded
first and serve as context for the rest.  ELIC's uneven groups assume the
first channels carry the most; transforms trained without the context
model put them anywhere, so the context model is trained on a copy whose
channels are sorted by their rate under the hyperprior."""
import numpy as np
import torch


# every tensor with an axis of y's channels, and that axis
CHANNEL_AXES = {
    "gains.log_gain": 1, "gains.log_inv_gain": 1,
    "g_a.6.weight": 0, "g_a.6.bias": 0,
    "g_s.0.0.weight": 1,
    "h_a.0.weight": 1,
    "h_s_mean.4.weight": 0, "h_s_mean.4.bias": 0,
    "h_s_scale.l3.weight": 0, "h_s_scale.l3.bias": 0,
}


def permute_state(state, order):
    """A copy of a hyperprior's state dict with y's channels permuted:
    channel i of the result is channel order[i] of the original."""
    order = torch.as_tensor(np.asarray(order), dtype=torch.long)
    m = len(order)
    if sorted(order.tolist()) != list(range(m)):
        raise ValueError("not a permutation")
    out = dict(state)
    for name, axis in CHANNEL_AXES.items():
        t = state[name]
        if t.shape[axis] != m:
            raise ValueError(f"{name} has {t.shape[axis]} channels on axis {axis}, not {m}")
        out[name] = t.index_select(axis, order).clone()
    return out


@torch.no_grad()
def channel_bits(model, maps, qualities):
    """Per quality, the hyperprior's bits for each channel of y summed over
    `maps` (context data's (y, z_hat, size) triples; the model's own code()
    makes z_hat again from y): [len(qualities), M]."""
    out = np.zeros((len(qualities), model.m))
    for j, q in enumerate(qualities):
        for y, _, _ in maps:
            _, (lik_y, _) = model.code(torch.from_numpy(y[None]) * model.gains.gain(q), q)
            out[j] += (-torch.log2(lik_y)).sum((0, 2, 3)).double().numpy()
    return out


def rate_order(bits):
    """Channels by their share of the rate, averaged over the qualities
    (each quality's shares sum to 1), largest first."""
    share = bits / bits.sum(axis=1, keepdims=True)
    return np.argsort(-share.mean(axis=0), kind="stable")
