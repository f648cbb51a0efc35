"""The nic networks: `factorized` (Balle et al. 2017) and the mean-scale
`hyperprior` (Balle et al. 2018, Minnen et al. 2018), each one variable-rate
network with per-quality gain vectors on the latent (Cui et al. 2021).

The hyperprior's synthesis h_s has two branches: the means in float, and
the scale branch in fake-quantized integer arithmetic whose output is an
index into the Gaussian conditional's scale table (see intpath.py for the
exact integer reference)."""

import torch
import torch.nn as nn

from . import entropy
from .entropy import EntropyBottleneck, gaussian_likelihood
from .layers import (GDN, ActQuant, QConv, Upsample, conv, deconv, round_ste,
                     INPUT_QMAX)

LAMBDAS = {
    "mse": [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800],
    "ms-ssim": [2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00],
}

ARCH_IDS = {"factorized": 1, "hyperprior": 2}


class Gains(nn.Module):
    """Per-quality channel gains applied to y, and the learned inverse gains
    applied before synthesis."""

    def __init__(self, lambdas, channels):
        super().__init__()
        lam = torch.tensor(lambdas, dtype=torch.float32)
        init = 0.5 * torch.log(lam / lam.max())
        self.log_gain = nn.Parameter(init[:, None].repeat(1, channels))
        self.log_inv_gain = nn.Parameter(-init[:, None].repeat(1, channels))

    def gain(self, q):
        return torch.exp(self.log_gain[q]).view(1, -1, 1, 1)

    def inv_gain(self, q):
        return torch.exp(self.log_inv_gain[q]).view(1, -1, 1, 1)


def fp32(module):
    """Runs `module` in fp32 under bf16 autocast too.  The state dict is
    unchanged (only the instance's forward is wrapped)."""
    inner = module.forward

    def forward(x):
        with torch.autocast("cpu", enabled=False):
            return inner(x.float())
    module.forward = forward
    return module


def analysis(n, m):
    # The last layer, which makes y, stays in fp32 under autocast.
    return nn.Sequential(conv(3, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n),
                         fp32(conv(n, m)))


def synthesis(n, m):
    # The first and last layers stay in fp32 under autocast.
    return nn.Sequential(fp32(deconv(m, n)), GDN(n, inverse=True), deconv(n, n),
                         GDN(n, inverse=True), deconv(n, n), GDN(n, inverse=True),
                         fp32(deconv(n, 3)))


class NicModel(nn.Module):
    """n is the hidden width of g_a and of the hyper networks; n_s, that of
    g_s (n unless given: the synthesis alone can be made wider); lambdas,
    the qualities' rate-distortion weights (the metric's ladder unless
    given)."""
    arch = None

    def __init__(self, n=128, m=192, metric="mse", n_s=None, lambdas=None):
        super().__init__()
        self.n, self.m, self.metric = n, m, metric
        self.n_s = n_s or n
        self.lambdas = list(lambdas) if lambdas else LAMBDAS[metric]
        self.qualities = len(self.lambdas)
        self.gains = Gains(self.lambdas, m)
        self.g_a = analysis(n, m)
        self.g_s = synthesis(self.n_s, m)

    def ceiling(self, x, q):
        """g_s(g_a(x)) at quality q's gain and inverse gain with no
        quantization: the transforms' own reconstruction, the upper bound of
        what any entropy model can reach at q."""
        y = self.g_a(x).float() * self.gains.gain(q)
        return self.g_s(y * self.gains.inv_gain(q)).float()

    def aux_loss(self, q):
        return sum(eb.aux_loss(q) for eb in self.modules()
                   if isinstance(eb, EntropyBottleneck))

    def config(self):
        return make_config(self.arch, self.n, self.m, self.metric, self.n_s, self.lambdas)


class Factorized(NicModel):
    arch = "factorized"

    def __init__(self, n=128, m=192, metric="mse", n_s=None, lambdas=None):
        super().__init__(n, m, metric, n_s, lambdas)
        self.entropy_bottleneck = EntropyBottleneck(m, self.qualities)

    def forward(self, x, q):
        y = self.g_a(x).float() * self.gains.gain(q)
        med = self.entropy_bottleneck.medians(q).view(1, -1, 1, 1)
        with torch.autocast("cpu", enabled=False):
            if self.training:
                noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
                lik = self.entropy_bottleneck.likelihood(noisy, q)
                y_hat = round_ste(y - med) + med
            else:
                y_hat = torch.round(y - med) + med
                lik = self.entropy_bottleneck.likelihood(y_hat, q)
        x_hat = self.g_s(y_hat * self.gains.inv_gain(q))
        return {"x_hat": x_hat.float(), "likelihoods": [lik]}


class ScaleBranch(nn.Module):
    """h_s's scale branch: int8 weights, uint8 activations, and a final layer
    whose output, in units of the table's log-scale step, is rounded to a
    scale index."""

    def __init__(self, n, m):
        super().__init__()
        self.l1 = Upsample(n, n, QConv)
        self.a1 = ActQuant()
        self.l2 = Upsample(n, n, QConv)
        self.a2 = ActQuant()
        self.l3 = QConv(n, m, 3, stride=1, padding=1)

    def forward(self, z_hat):
        x = torch.clamp(z_hat, -INPUT_QMAX, INPUT_QMAX)
        x = self.a1(torch.relu(self.l1(x)))
        x = self.a2(torch.relu(self.l2(x)))
        log_scale = self.l3(x)
        idx = (log_scale - entropy.LOG_SCALE_MIN) / entropy.LOG_SCALE_STEP
        return torch.clamp(round_ste(idx), 0, entropy.SCALE_LEVELS - 1)


class Hyperprior(NicModel):
    arch = "hyperprior"

    def __init__(self, n=128, m=192, metric="mse", n_s=None, lambdas=None):
        super().__init__(n, m, metric, n_s, lambdas)
        self.h_a = nn.Sequential(conv(m, n, 3, 1), nn.ReLU(), conv(n, n), nn.ReLU(),
                                 conv(n, n))
        self.h_s_mean = nn.Sequential(deconv(n, n), nn.ReLU(), deconv(n, n), nn.ReLU(),
                                      conv(n, m, 3, 1))
        self.h_s_scale = ScaleBranch(n, m)
        self.entropy_bottleneck = EntropyBottleneck(n, self.qualities)

    def forward(self, x, q):
        y = self.g_a(x).float() * self.gains.gain(q)
        y_hat, likelihoods = self.code(y, q)
        x_hat = self.g_s(y_hat * self.gains.inv_gain(q))
        return {"x_hat": x_hat.float(), "likelihoods": likelihoods}

    def code(self, y, q):
        """The hyperprior's part: y (gain applied) to y_hat and the
        likelihoods of y and z; noise in place of rounding while training.
        The hyper networks and the entropy models run in fp32."""
        with torch.autocast("cpu", enabled=False):
            z = self.h_a(y)
            if self.training:
                z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
                lik_z = self.entropy_bottleneck.likelihood(z_noisy, q)
                z_hat = round_ste(z)
            else:
                z_hat = torch.round(z)
                lik_z = self.entropy_bottleneck.likelihood(z_hat, q)
            idx = self.h_s_scale(z_hat)
            scales = torch.exp(entropy.LOG_SCALE_MIN + entropy.LOG_SCALE_STEP * idx)
            means = self.h_s_mean(z_hat)
            if self.training:
                noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
                lik_y = gaussian_likelihood(noisy, means, scales)
                y_hat = round_ste(y - means) + means
            else:
                y_hat = torch.round(y - means) + means
                lik_y = gaussian_likelihood(y_hat, means, scales)
        return y_hat, [lik_y, lik_z]


MODELS = {"factorized": Factorized, "hyperprior": Hyperprior}


def make_config(arch, n, m, metric, n_s=None, lambdas=None):
    """A checkpoint's config; "n_s" only where g_s is wider than n and
    "lambdas" only where they are not the metric's ladder, so that the
    configs of every earlier checkpoint stay as they were."""
    config = {"arch": arch, "n": n, "m": m, "metric": metric}
    if n_s and n_s != n:
        config["n_s"] = n_s
    if lambdas and list(lambdas) != LAMBDAS[metric]:
        config["lambdas"] = [float(v) for v in lambdas]
    return config


def build(config):
    cls = MODELS[config["arch"]]
    return cls(config["n"], config["m"], config["metric"], config.get("n_s"),
               config.get("lambdas"))


def extended_ladder(metric, qualities):
    """The metric's ladder of lambdas continued upward at its own ratio to
    `qualities` values (the top quality's lambda times the mean step)."""
    lam = LAMBDAS[metric]
    if qualities < len(lam):
        raise ValueError(f"{qualities} qualities: the {metric} ladder has {len(lam)}")
    r = (lam[-1] / lam[0]) ** (1 / (len(lam) - 1))
    return lam + [float(f"{lam[-1] * r ** k:.4g}") for k in range(1, qualities - len(lam) + 1)]


def bits(likelihoods):
    return sum(-torch.log2(l).sum() for l in likelihoods)
