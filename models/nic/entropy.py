"""Entropy models: the factorized entropy bottleneck (Balle et al. 2018,
appendix 6.1) and the Gaussian conditional over a log-uniform scale table.

Both hold one set of parameters per quality level, so that a single
variable-rate network has a prior matched to every gain vector."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import lower_bound

LIKELIHOOD_BOUND = 1e-9
TAIL_MASS = 1e-9

# Scale table of the Gaussian conditional: L log-uniform scales.  The integer
# scale path outputs an index into this table directly.
SCALE_MIN = 0.11
SCALE_MAX = 256.0
SCALE_LEVELS = 64
LOG_SCALE_MIN = math.log(SCALE_MIN)
LOG_SCALE_STEP = (math.log(SCALE_MAX) - math.log(SCALE_MIN)) / (SCALE_LEVELS - 1)


def scale_table():
    return np.exp(LOG_SCALE_MIN + LOG_SCALE_STEP * np.arange(SCALE_LEVELS))


class EntropyBottleneck(nn.Module):
    """Per-channel learned cumulative density c(x), one set per quality."""

    def __init__(self, channels, qualities, filters=(3, 3, 3), init_scale=10.0):
        super().__init__()
        self.channels = channels
        self.qualities = qualities
        k = qualities * channels
        dims = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((k, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(k, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(k, dims[i + 1], 1)))
        target = math.log(2 / TAIL_MASS - 1)
        q = torch.tensor([-init_scale, 0.0, init_scale]).repeat(k, 1, 1)
        self.quantiles = nn.Parameter(q)
        self.register_buffer("target", torch.tensor([-target, 0.0, target]))

    def _sel(self, p, q):
        """Quality q's rows of p; q=None: every quality's (qualities*channels
        rows, quality-major)."""
        if q is None:
            return p
        c = self.channels
        return p[q * c:(q + 1) * c]

    def logits_cumulative(self, x, q, detach=False):
        """x: (C, 1, n) -> logits of c(x), same shape (C: the channels of
        quality q, or all qualities' with q=None).  With detach=True the
        density parameters get no gradient (used by the quantile loss)."""
        d = (lambda t: t.detach()) if detach else (lambda t: t)
        for i in range(len(self.matrices)):
            m = F.softplus(d(self._sel(self.matrices[i], q)))
            x = torch.matmul(m, x) + d(self._sel(self.biases[i], q))
            if i < len(self.factors):
                x = x + torch.tanh(d(self._sel(self.factors[i], q))) * torch.tanh(x)
        return x

    def medians(self, q):
        return self._sel(self.quantiles, q)[:, 0, 1].detach()

    def aux_loss(self, q):
        logits = self.logits_cumulative(self._sel(self.quantiles, q), q, detach=True)
        return torch.abs(logits - self.target).sum()

    def likelihood(self, x, q):
        """x: (B, C, H, W) values on the integer grid (+ noise while training)."""
        b, c, h, w = x.shape
        v = x.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cumulative(v - 0.5, q)
        upper = self.logits_cumulative(v + 0.5, q)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        lik = lower_bound(lik, LIKELIHOOD_BOUND)
        return lik.reshape(c, b, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def pmf_tables(self, q, center):
        """Probability of every integer offset around `center` (a per-channel
        tensor), over the support given by the learned quantiles.

        Returns (offsets, pmfs, tails): offsets[c] is the smallest offset
        with a symbol of its own, pmfs[c] the probabilities of the offsets
        offsets[c] .. offsets[c] + len - 1, tails[c] the mass left outside
        (coded through the escape symbol)."""
        qs = self._sel(self.quantiles, q)[:, 0, :]
        lo = torch.floor(qs[:, 0] - center).long()
        hi = torch.ceil(qs[:, 2] - center).long()
        hi = torch.maximum(hi, lo)
        span = int((hi - lo).max()) + 1
        vals = lo[:, None].double() + torch.arange(span, dtype=torch.float64)[None]
        v = (vals + center.double()[:, None]).float().unsqueeze(1)
        lower = self.logits_cumulative(v - 0.5, q)[:, 0].double()
        upper = self.logits_cumulative(v + 0.5, q)[:, 0].double()
        sign = -torch.sign(lower + upper)
        pmf = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        offsets, pmfs, tails = [], [], []
        for ch in range(self.channels):
            n = int(hi[ch] - lo[ch]) + 1
            tail = torch.sigmoid(lower[ch, 0]) + torch.sigmoid(-upper[ch, n - 1])
            offsets.append(int(lo[ch]))
            pmfs.append(pmf[ch, :n].numpy())
            tails.append(float(tail))
        return offsets, pmfs, tails


def gaussian_likelihood(y, means, scales):
    """Probability mass of the unit bin around y under N(means, scales)."""
    v = torch.abs(y - means)
    upper = 0.5 * torch.erfc(-((0.5 - v) / scales) / math.sqrt(2))
    lower = 0.5 * torch.erfc(-((-0.5 - v) / scales) / math.sqrt(2))
    return lower_bound(upper - lower, LIKELIHOOD_BOUND)


def gaussian_pmf_tables():
    """For every scale of the table, the pmf over symbols -r .. r and the
    tail mass beyond, r chosen so that the tail holds < TAIL_MASS."""
    from math import erfc, sqrt
    out = []
    tail_z = 6.1  # one-sided normal tail at 6.1 sigma is ~5e-10
    for s in scale_table():
        r = int(math.ceil(tail_z * s))
        k = np.arange(-r, r + 1, dtype=np.float64)
        cdf = lambda t: 0.5 * np.array([erfc(-u / sqrt(2)) for u in t])
        pmf = cdf((k + 0.5) / s) - cdf((k - 0.5) / s)
        tail = 2 * 0.5 * erfc((r + 0.5) / s / sqrt(2))
        out.append((-r, pmf, tail))
    return out


CDF_PRECISION = 16


def quantize_cdf(pmf, tail, precision=CDF_PRECISION):
    """Integer CDF for the symbols of `pmf` plus one escape symbol (last)
    that carries `tail`.  Every symbol keeps a frequency >= 1; the result
    has len(pmf) + 2 entries from 0 to 2**precision."""
    total = 1 << precision
    p = np.append(np.asarray(pmf, dtype=np.float64), max(tail, 0.0))
    p = np.maximum(p, 0)
    n = len(p)
    if n > total // 2:
        raise ValueError("too many symbols for the CDF precision")
    freq = np.maximum(1, np.round(p / p.sum() * (total - n)).astype(np.int64) + 0)
    # Adjust to the exact total: take from / give to the largest frequencies.
    diff = total - int(freq.sum())
    order = np.argsort(-freq)
    i = 0
    while diff != 0:
        j = order[i % n]
        if diff > 0:
            freq[j] += 1
            diff -= 1
        elif freq[j] > 1:
            freq[j] -= 1
            diff += 1
        i += 1
    cdf = np.zeros(n + 1, dtype=np.int64)
    cdf[1:] = np.cumsum(freq)
    assert cdf[-1] == total and np.all(np.diff(cdf) >= 1)
    return cdf.astype(np.uint32)
