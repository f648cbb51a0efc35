"""The `context` entropy model (training side): y's prior predicted from
z_hat, from the channel groups already decoded and, inside a group, from
its decoded checkerboard anchors (He et al. 2021, 2022).

y is split into channel groups (ELIC's uneven 16, 16, 32, 64, M - 128 by
default).  Group k is decoded in two passes, anchors ((row + col) even)
then the rest; every pass is a few convolutions over the whole latent map,
so decoding takes 2 * len(groups) sequential passes.  All networks are
integer networks (nic/intlayers.py) whose inputs are exact integers:

  hyper path: the hyperprior's h_s, both branches made integer (they start
    from its trained weights): per branch two upsampling layers to uint8
    features at y's resolution (Hs, Hm) and a 3x3 layer to a base scale
    index (scale branch, as today) or a base mean (mean branch, 1/MEAN_ONE
    units) per element of y.
  group k, pass p (0: anchors, 1: the rest), inputs Hs, Hm, Y_<k (y_hat of
  the groups before k, 1/MEAN_ONE units, clamped) and A_k (y_hat of group
  k's anchors, zero at the other positions):
    layer 1: conv3x3([Hs, Hm, Y_<k]) + bias[p] (+ conv5x5(A_k) when p = 1),
             uint8 activation of its own step per pass
    layer 2: 1x1, uint8 activation                   (weights per pass)
    layer 3: 1x1 to corrections of the base parameters: every component's
             mean and scale index is the base plus a correction, and (K > 1)
             its logit; clamped to the parameter ranges.

The prior is a single Gaussian (mean, scale index) or a mixture of K
Gaussians (K means, scale indices, logits); nic/mixcdf.py turns the
integers into the CDF, nic/ctxint.py computes them exactly."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import entropy, mixcdf
from .entropy import LIKELIHOOD_BOUND, gaussian_likelihood
from .intlayers import Act8, Head, IntConv
from .layers import lower_bound, round_ste

Y_IN_MAX = (1 << 11) - 1  # |y_hat| < 256 as a context input
Y_STEP = 1.0 / mixcdf.MEAN_ONE
DEFAULT_GROUPS = (16, 16, 32, 64)  # then the rest of the M channels


def default_groups(m):
    g = list(DEFAULT_GROUPS)
    return tuple(g + [m - sum(g)]) if m > sum(g) else (m,)


def head_units(g, k, absolute=False):
    """Per output channel (factor, offset, lo, hi) of the parameters of a
    group of g channels: K means, K scale indices, then (K > 1) K logits;
    component-major within each kind.  Absolute scale indices (the hyper
    path's) count from the table's first scale; the group networks output
    corrections, which do not."""
    origin = -entropy.LOG_SCALE_MIN / entropy.LOG_SCALE_STEP if absolute else 0.0
    kinds = [(mixcdf.MEAN_ONE, 0.5, -mixcdf.MEAN_MAX, mixcdf.MEAN_MAX),
             (1 / entropy.LOG_SCALE_STEP, 0.5 + origin, 0, entropy.SCALE_LEVELS - 1)]
    if k > 1:
        kinds.append((1 / mixcdf.LOGIT_STEP, 0.5, -mixcdf.LOGIT_MAX, mixcdf.LOGIT_MAX))
    cols = [[], [], [], []]
    for unit in kinds:
        for col, v in zip(cols, unit):
            col += [v] * (k * g)
    return cols


def anchor_mask(h, w, device=None):
    """1 at the anchors ((row + col) even), 0 elsewhere: [1, 1, h, w]."""
    r = torch.arange(h, device=device).view(-1, 1)
    c = torch.arange(w, device=device).view(1, -1)
    return ((r + c) % 2 == 0).float().view(1, 1, h, w)


class Branch(nn.Module):
    """One integer branch of h_s: z_hat -> (uint8 features at y's
    resolution, their step, base parameter per element of y)."""

    def __init__(self, n, m, head):
        super().__init__()
        self.l1 = IntConv([(n, 3)], 4 * n)
        self.a1 = Act8()
        self.l2 = IntConv([(n, 3)], 4 * n)
        self.a2 = Act8()
        self.l3 = IntConv([(n, 3)], m)
        self.head = head

    def init_from(self, convs, acts=None):
        """Start from the float (or fake-quantized) layers of a hyperprior's
        branch; the activation steps from `acts` or from the first batch."""
        with torch.no_grad():
            for mine, theirs in zip((self.l1, self.l2, self.l3), convs):
                mine.weights[0].copy_(theirs.weight)
                mine.bias[0].copy_(theirs.bias)
            for mine, theirs in zip((self.a1, self.a2), acts or ()):
                mine.running_max.copy_(theirs.running_max)

    def forward(self, z_hat):
        x = torch.clamp(z_hat, -127, 127)
        x, s = self.a1(*self.l1([x], [1.0]))
        x, s = self.a2(*self.l2([F.pixel_shuffle(x, 2)], [s]))
        x = F.pixel_shuffle(x, 2)
        return x, s, self.head(*self.l3([x], [s]))


class HyperPath(nn.Module):
    """Both branches: features [Hs, Hm] with their steps per channel, base
    scale indices and base means."""

    def __init__(self, n, m):
        super().__init__()
        self.n = n
        scale = head_units(m, 1, absolute=True)
        self.scale = Branch(n, m, Head(*(c[m:] for c in scale)))
        self.mean = Branch(n, m, Head(*(c[:m] for c in scale)))

    def init_from(self, hp):
        b = hp.h_s_scale
        self.scale.init_from((b.l1[0], b.l2[0], b.l3), (b.a1, b.a2))
        s = hp.h_s_mean
        self.mean.init_from((s[0][0], s[2][0], s[4]))

    def forward(self, z_hat):
        hs, ss, idx = self.scale(z_hat)
        hm, sm, mean = self.mean(z_hat)
        steps = torch.cat([ss.expand(self.n), sm.expand(self.n)])
        return torch.cat([hs, hm], dim=1), steps, mean, idx


class GroupNet(nn.Module):
    """The parameter networks of one channel group, both passes."""

    def __init__(self, c_in, g, hidden, k):
        super().__init__()
        self.g, self.k = g, k
        nparams = (3 if k > 1 else 2) * k * g
        self.l1 = IntConv([(c_in, 3), (g, 5)], hidden, biases=2)
        self.act1 = nn.ModuleList([Act8(), Act8()])
        self.l2 = nn.ModuleList([IntConv([(hidden, 1)], hidden) for _ in range(2)])
        self.act2 = nn.ModuleList([Act8(), Act8()])
        self.l3 = nn.ModuleList([IntConv([(hidden, 1)], nparams) for _ in range(2)])
        with torch.no_grad():  # start near the base parameters
            for layer in self.l3:
                layer.weights[0].mul_(0.1)
                layer.bias.zero_()
        self.head = Head(*head_units(g, k))

    def tail(self, p, acc, a, base):
        """Pass p's layers after the first accumulator -> integer params
        (means, scales, logits or None), each [B, K, g, H, W]."""
        x, s = self.act1[p](acc, a)
        x, s = self.act2[p](*self.l2[p]([x], [s]))
        out = self.head(*self.l3[p]([x], [s]), base)
        b, _, h, w = out.shape
        out = out.view(b, -1, self.k, self.g, h, w)
        return out[:, 0], out[:, 1], (out[:, 2] if self.k > 1 else None)


def centers(means, logits):
    """The integer center of every element: the mean itself, or the mean of
    the heaviest component (the first of equals)."""
    if logits is None:
        return means[:, 0]
    j = torch.argmax(logits, dim=1, keepdim=True)
    return torch.gather(means, 1, j)[:, 0]


def likelihood(y, means, scales, logits):
    """Probability of the unit bin around y under the prior (float; the
    training objective), params as integers."""
    mu = means / mixcdf.MEAN_ONE
    sigma = torch.exp(entropy.LOG_SCALE_MIN + entropy.LOG_SCALE_STEP * scales)
    if logits is None:
        return gaussian_likelihood(y, mu[:, 0], sigma[:, 0])
    w = torch.softmax(logits * mixcdf.LOGIT_STEP, dim=1)
    p = (w * gaussian_likelihood(y[:, None], mu, sigma)).sum(dim=1)
    return lower_bound(p, LIKELIHOOD_BOUND)


class ContextModel(nn.Module):
    """The context entropy model of y given z_hat.  mixture = K components
    (1: a single Gaussian)."""

    def __init__(self, n=128, m=192, groups=None, mixture=1, hidden=128):
        super().__init__()
        self.n, self.m, self.mixture, self.hidden = n, m, mixture, hidden
        # whether the rate's gradient reaches y through the context inputs
        # (straight-through rounding); off, they are constants
        self.context_grad = False
        # y - center -> y_hat - center, and the probability of y's bin
        # given the parameters: straight-through rounding and the float
        # likelihood, or an encoder-side optimization's relaxations of them
        # (ctxeffort.py)
        self.rounding = round_ste
        self.likelihood = likelihood
        self.groups = tuple(groups) if groups else default_groups(m)
        if sum(self.groups) != m or min(self.groups) < 1:
            raise ValueError(f"groups {self.groups} do not split {m} channels")
        self.hyper = HyperPath(n, m)
        self.nets = nn.ModuleList()
        prior = 0
        for g in self.groups:
            self.nets.append(GroupNet(2 * n + prior, g, hidden, mixture))
            prior += g

    def config(self):
        return {"n": self.n, "m": self.m, "groups": list(self.groups),
                "mixture": self.mixture, "hidden": self.hidden}

    def forward(self, y, z_hat):
        """y: latents with the gain applied [B, M, H, W]; z_hat: integers.
        Returns (likelihoods [B, M, H, W], y_hat).  Training: the rate uses
        y plus uniform noise; the contexts always use the rounded y_hat."""
        feats, s_h, base_mean, base_idx = self.hyper(z_hat)
        b, _, h, w = y.shape
        mask = anchor_mask(h, w, y.device)
        ctx, steps, liks, y_hats = [feats], [s_h], [], []
        start = 0
        for net, g in zip(self.nets, self.groups):
            yk = y[:, start:start + g]
            base = self.base(net, base_mean[:, start:start + g], base_idx[:, start:start + g])
            start += g
            x = torch.cat(ctx, dim=1)
            wq, a, bq = net.l1.quantized([torch.cat(steps), Y_STEP])
            acc = net.l1.part(wq, 0, x)
            params, yh = [], []
            anchors = None
            for p, sel in ((0, mask), (1, 1 - mask)):
                acc_p = acc + bq[p].view(1, -1, 1, 1)
                if p == 1:
                    acc_p = acc_p + net.l1.part(wq, 1, anchors)
                means, scales, logits = net.tail(p, acc_p, a, base)
                c = centers(means, logits) / mixcdf.MEAN_ONE
                y_hat = self.rounding(yk - c) + c
                if p == 0:
                    anchors = self.context_input(y_hat) * mask
                params.append((means, scales, logits))
                yh.append(y_hat * sel)
            y_hat = yh[0] + yh[1]
            sel = mask.unsqueeze(1)  # [1, 1, 1, H, W] against [B, K, g, H, W]
            merged = [None if pa is None else pa * sel + pn * (1 - sel)
                      for pa, pn in zip(*params)]
            y_in = yk + torch.empty_like(yk).uniform_(-0.5, 0.5) if self.training else y_hat
            liks.append(self.likelihood(y_in, *merged))
            y_hats.append(y_hat)
            ctx.append(self.context_input(y_hat))
            steps.append(torch.full((g,), Y_STEP))
        return torch.cat(liks, dim=1), torch.cat(y_hats, dim=1)

    @staticmethod
    def base(net, mean, idx):
        """What layer 3's corrections are added to: every component's mean
        and scale index start at the hyper path's, the logits at 0."""
        logits = [torch.zeros_like(mean)] * net.k if net.k > 1 else []
        return torch.cat([mean] * net.k + [idx] * net.k + logits, dim=1)

    def context_input(self, y_hat):
        """y_hat (on the 1/MEAN_ONE grid) as the integer a context network
        reads."""
        rnd = round_ste if self.context_grad else torch.round
        return torch.clamp(rnd(y_hat * mixcdf.MEAN_ONE), -Y_IN_MAX, Y_IN_MAX)


def context_from(ck):
    """The context model a models/ctxfit.py or models/ctxtune.py checkpoint
    holds, with its weights (in training mode)."""
    cfg = ck["config"]
    model = ContextModel(cfg["n"], cfg["m"], cfg["groups"], cfg["mixture"], cfg["hidden"])
    model.load_state_dict(ck["model"])
    return model
