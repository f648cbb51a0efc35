"""The integer priors of the context model: which CDF codes a symbol, in
exact integer arithmetic (numpy int64) from the integer parameters that the
context networks output.  This is the reference the C decoder must match.

Parameter units (docs/context-model.md):
- a mean is an integer in 1/MEAN_ONE units of y, |mean| <= MEAN_MAX;
- a scale is an index into the 64 log-uniform scales of nic/entropy.py;
- a mixture logit is an integer l; component j weighs
  WEIGHTS[max(l) - l_j] (2^15 * 2^(-t/16), 0 from t = LOGIT_SPAN on).

Gaussian prior (one component): the coded value is round(y - mean) and its
CDF is table `scale` of the hyperprior's Gaussian tables (entropy_y).

Mixture prior: the center c is the mean of the heaviest component (the
first of equals); the coded value is v = round(y - c) and y_hat = v + c.
Component j sits at d_j = mean_j - c = MEAN_ONE * q_j + f_j
(0 <= f_j < MEAN_ONE); COMPONENT tables hold, for every scale and every
f, the cumulative mass G[t] (t = 0..n) of N(f / MEAN_ONE, scale) over the
bins lo .. lo + t - 1, in units of 2^-16, rounded.  With G_j(s) the
component's mass below value s (G[clamp(s - lo - q_j, 0, n)]), over the
value range [slo, shi] that covers every component of nonzero weight:

    S(s)   = sum_j w_j * G_j(s)            S_end = 2^16 * sum_j w_j
    nsym   = shi - slo + 2                  (values, then the escape)
    cdf[t] = S(slo + t) * (2^16 - nsym) // S_end + t     (t < nsym)
    cdf[nsym] = 2^16

Every symbol gets one unit plus its share: frequencies >= 1, total 2^16."""
import math

import numpy as np
import torch

from . import entropy

TOTAL = 1 << entropy.CDF_PRECISION
MEAN_FRAC_BITS = 3
MEAN_ONE = 1 << MEAN_FRAC_BITS
MEAN_MAX = (1 << 15) - 1
LOGIT_PER_OCTAVE = 16
LOGIT_STEP = math.log(2) / LOGIT_PER_OCTAVE  # natural-log weight per logit unit
LOGIT_MAX = 1023
LOGIT_SPAN = 256
WEIGHT_BITS = 15
TAIL_Z = 6.1
VALUE_MAX = 1 << 28  # coded values are clipped to [-2^28, 2^28] (bitstream.md)


def weight_table():
    t = np.arange(LOGIT_SPAN, dtype=np.float64)
    w = np.round((1 << WEIGHT_BITS) * np.exp2(-t / LOGIT_PER_OCTAVE)).astype(np.int64)
    assert w[0] == 1 << WEIGHT_BITS and w.min() >= 1
    return w


def _phi(x):
    x = torch.from_numpy(np.asarray(x, dtype=np.float64))
    return (0.5 * torch.erfc(-x / math.sqrt(2))).numpy()


def component_tables():
    """Cumulative tables of N(f / MEAN_ONE, scale_i) for every scale index
    i and offset f: (flat int64 array, index int64 [SCALE_LEVELS * MEAN_ONE,
    3] of (start, n, lo)), table i * MEAN_ONE + f."""
    flat, index, pos = [], [], 0
    for s in entropy.scale_table():
        r = int(math.ceil(TAIL_Z * s))
        lo, hi = -r, r + 1  # f / MEAN_ONE < 1 moves the mass up to one bin right
        n = hi - lo + 1
        for f in range(MEAN_ONE):
            edges = (lo - 0.5 + np.arange(n + 1) - f / MEAN_ONE) / s
            g = np.round((_phi(edges) - _phi(edges[0])) * TOTAL).astype(np.int64)
            assert g[0] == 0 and np.all(np.diff(g) >= 0) and g[-1] <= TOTAL
            flat.append(g)
            index.append((pos, n, lo))
            pos += n + 1
    return np.concatenate(flat), np.array(index, dtype=np.int64)


class Tables:
    """Everything a decoder needs to build a CDF: the Gaussian tables
    (entropy_y of the hyperprior), the component tables, the weights."""

    def __init__(self):
        self.gauss = [(o, entropy.quantize_cdf(p, t).astype(np.int64))
                      for o, p, t in entropy.gaussian_pmf_tables()]
        self.comp, self.comp_index = component_tables()
        self.weights = weight_table()


# ---------------------------------------------------------------------------
# Mixture: params are int64 arrays [K, ...] (means, scales, logits); every
# function works elementwise on the trailing shape.
# ---------------------------------------------------------------------------

def mixture_weights(logits):
    t = logits.max(axis=0, keepdims=True) - logits
    w = np.zeros_like(t)
    live = t < LOGIT_SPAN
    w[live] = weight_table()[t[live]]
    return w


def center(means, logits):
    j = np.argmax(logits, axis=0)  # the first of equals, as in the C decoder
    return np.take_along_axis(means, j[None], axis=0)[0]


class Mixture:
    """The integer CDFs of a set of elements: means, scales and logits are
    int64 arrays [K, E] (E elements)."""

    def __init__(self, tabs, means, scales, logits):
        self.tabs = tabs
        self.params = (means, scales, logits)
        self.w = mixture_weights(logits)
        self.c = center(means, logits)
        d = means - self.c[None]
        q = d >> MEAN_FRAC_BITS
        f = d & (MEAN_ONE - 1)
        row = scales * MEAN_ONE + f
        self.start = tabs.comp_index[row, 0]
        self.n = tabs.comp_index[row, 1]
        self.lo = tabs.comp_index[row, 2] + q  # the value of each component's bin 0
        live = self.w > 0
        big = np.int64(1) << 40
        self.slo = np.where(live, self.lo, big).min(axis=0)
        self.shi = np.where(live, self.lo + self.n - 1, -big).max(axis=0)
        self.nsym = self.shi - self.slo + 2
        self.s_end = TOTAL * self.w.sum(axis=0)
        assert np.all(self.nsym <= TOTAL // 2)

    def cdf_at(self, t):
        """cdf[t] for symbol indices t [E] (0 <= t <= nsym)."""
        t = np.asarray(t, dtype=np.int64)
        idx = np.clip((self.slo + t)[None] - self.lo, 0, self.n)
        acc = (self.w * self.tabs.comp[self.start + idx]).sum(axis=0)
        cdf = acc * (TOTAL - self.nsym) // self.s_end + t
        return np.where(t >= self.nsym, TOTAL, cdf)

    def full_cdf(self, i):
        """The whole CDF of element i, for checks."""
        one = Mixture(self.tabs, *(p[:, i:i + 1] for p in self.params))
        return np.concatenate([one.cdf_at(np.array([t])) for t in range(int(one.nsym[0]) + 1)])

    def decode(self, slot):
        """The symbol index whose interval holds `slot` [E], by bisection on
        cdf_at, as a decoder finds it."""
        lo = np.zeros_like(self.nsym)
        hi = self.nsym.copy()  # invariant: cdf[lo] <= slot < cdf[hi]
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            up = self.cdf_at(mid) <= slot
            lo = np.where(up, mid, lo)
            hi = np.where(up, hi, mid)
        return lo

    def symbols(self, v):
        """Symbol index of the values v [E] (relative to the center)."""
        inside = (v >= self.slo) & (v <= self.shi)
        return np.where(inside, v - self.slo, self.nsym - 1)

    def bits(self, v):
        """Bits of the values v [E] (relative to the center)."""
        t = self.symbols(v)
        freq = self.cdf_at(t + 1) - self.cdf_at(t)
        assert np.all(freq >= 1)
        return -np.log2(freq / TOTAL) + escape_bits(v, self.slo, self.shi)


def escape_bits(v, lo, hi):
    """Raw bits after an escape symbol (docs/bitstream.md, "Escape"); 0
    for values in [lo, hi]."""
    e = np.where(v < lo, 2 * (lo - 1 - v) + 1, 2 * (v - hi - 1))
    k = np.frexp(np.maximum(e + 1, 1).astype(np.float64))[1].astype(np.int64) - 1
    return np.where((v < lo) | (v > hi), 5 + k, 0)


def table_bits(offset, cdf, v):
    """Bits of the values v under one table (offset, cdf), escapes included."""
    n = len(cdf) - 1
    hi = offset + n - 2
    sym = np.where((v >= offset) & (v <= hi), v - offset, n - 1)
    freq = cdf[sym + 1] - cdf[sym]
    return -np.log2(freq / TOTAL) + escape_bits(v, offset, hi)


def gaussian_bits(tabs, scales, v):
    """Bits of values v (relative to the mean) under Gaussian table
    `scales`, elementwise."""
    out = np.zeros(v.shape, dtype=np.float64)
    for i, (offset, cdf) in enumerate(tabs.gauss):
        sel = scales == i
        if sel.any():
            out[sel] = table_bits(offset, cdf, v[sel])
    return out


def quantize_value(y, c):
    """The encoder's coded value round(y - c / MEAN_ONE), clipped
    (float; only the encoder computes it)."""
    v = np.floor(np.asarray(y, dtype=np.float64) - c / MEAN_ONE + 0.5)
    return np.clip(v, -VALUE_MAX, VALUE_MAX).astype(np.int64)
