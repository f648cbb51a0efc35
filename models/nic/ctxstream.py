"""The context model's y payload (docs/bitstream.md, "context"), written
and read in Python on top of the exact integer path of nic/ctxint.py: an
independent implementation to check the C codec against, bit for bit.

Symbols are coded pass by pass (group 0 anchors, group 0 the rest, group
1 anchors, ...); within a pass channel by channel, positions in raster
order.  Gaussian: table `scale index` of entropy_y with its escape;
mixture: the CDF of nic/mixcdf.py with the escape after the range
[slo, shi]."""
import numpy as np

from . import ctxint, mixcdf
from .bitstream import Rans

PROB_BITS = 16
RANS_L = 1 << 23


class RansEncoder:
    """docs/bitstream.md, "Entropy coding": symbols are collected in order
    and coded in reverse by finish()."""

    def __init__(self):
        self.syms = []

    def put(self, start, freq):
        assert 1 <= freq and start + freq <= 1 << PROB_BITS
        self.syms.append((int(start), int(freq)))

    def bits(self, v, n):
        self.put(v << (PROB_BITS - n), 1 << (PROB_BITS - n))

    def escape(self, v, lo, hi):
        """The raw fields after an escape symbol, for a value outside [lo, hi]."""
        e = 2 * (lo - 1 - v) + 1 if v < lo else 2 * (v - hi - 1)
        e1 = e + 1
        k = e1.bit_length() - 1
        if k > 30:
            raise ValueError("value too far outside the table")
        self.bits(k, 5)
        if k > 16:
            self.bits((e1 >> 16) & ((1 << (k - 16)) - 1), k - 16)
            self.bits(e1 & 0xFFFF, 16)
        elif k:
            self.bits(e1 & ((1 << k) - 1), k)

    def value(self, cdf, offset, v):
        """v with a table (cdf of n + 1 entries, symbol 0 = offset)."""
        n = len(cdf) - 1
        hi = offset + n - 2
        if offset <= v <= hi:
            s = v - offset
            self.put(cdf[s], cdf[s + 1] - cdf[s])
        else:
            self.put(cdf[n - 1], (1 << PROB_BITS) - cdf[n - 1])
            self.escape(v, offset, hi)

    def finish(self):
        x, out = RANS_L, bytearray()
        for start, freq in reversed(self.syms):
            while x >= freq << 15:
                out.append(x & 0xFF)
                x >>= 8
            x = (x // freq << PROB_BITS) + x % freq + start
        return x.to_bytes(4, "big") + bytes(reversed(out))


def _mixture(tabs, means, scales, logits):
    """mixcdf.Mixture of the elements of a pass, channel-major: [K, g * n]."""
    k = means.shape[0]
    return mixcdf.Mixture(tabs, *(t.reshape(k, -1) for t in (means, scales, logits)))


def encode_y(ip, tabs, z_hat, y):
    """(payload bytes, y_hat [M, H, W] in 1/8 units) of y (float [M, H, W],
    gains applied) under z_hat."""
    enc = RansEncoder()
    inner = ctxint.values_source(y, ip["groups"])

    def source(k, sel, means, scales, logits):
        v = inner(k, sel, means, scales, logits)  # [g, n]
        flat = v.reshape(-1)
        if logits is None:
            for s, val in zip(scales[0].reshape(-1), flat):
                off, cdf = tabs.gauss[int(s)]
                enc.value(cdf, off, int(val))
        else:
            mix = _mixture(tabs, means, scales, logits)
            t = mix.symbols(flat)
            start = mix.cdf_at(t)
            freq = mix.cdf_at(t + 1) - start
            for i in range(flat.size):
                enc.put(start[i], freq[i])
                if t[i] == mix.nsym[i] - 1:
                    enc.escape(int(flat[i]), int(mix.slo[i]), int(mix.shi[i]))
        return v

    out = ctxint.run(ip, z_hat, source)
    return enc.finish(), y_hat_of(out)


def y_hat_of(out):
    """y_hat in 1/8 units from the output of ctxint.run()."""
    return np.concatenate([v * mixcdf.MEAN_ONE + ctxint.center(m, lg) for v, m, _, lg in out])


def _decode_mixture(r, mix, i):
    """One value of element i of a mixture, by bisection on its CDF."""
    slot = r.x & 0xFFFF
    w, start, n, lo = mix.w[:, i], mix.start[:, i], mix.n[:, i], mix.lo[:, i]
    slo, nsym, s_end = int(mix.slo[i]), int(mix.nsym[i]), int(mix.s_end[i])
    comp = mix.tabs.comp
    live = [(int(w[j]), int(start[j]), int(n[j]), int(lo[j])) for j in range(len(w)) if w[j]]

    def cdf(t):
        if t >= nsym:
            return 1 << PROB_BITS
        s = slo + t
        acc = sum(wj * int(comp[sj + min(max(s - lj, 0), nj)]) for wj, sj, nj, lj in live)
        return acc * ((1 << PROB_BITS) - nsym) // s_end + t

    a, b = 0, nsym
    while b - a > 1:
        mid = (a + b) // 2
        if cdf(mid) <= slot:
            a = mid
        else:
            b = mid
    lo_c, hi_c = cdf(a), cdf(a + 1)
    r._advance(lo_c, hi_c - lo_c)
    if a != nsym - 1:
        return slo + a
    return r.escape(slo, slo + nsym - 2)


def decode_y(ip, tabs, z_hat, payload):
    """y_hat [M, H, W] (1/8 units) of a y payload; raises ValueError for a
    payload that does not end cleanly."""
    r = Rans(payload)

    def source(k, sel, means, scales, logits):
        g, n = means.shape[1], means.shape[2]
        vals = np.zeros(g * n, dtype=np.int64)
        if logits is None:
            for i, s in enumerate(scales[0].reshape(-1)):
                off, cdf = tabs.gauss[int(s)]
                vals[i] = r.value(cdf, off)
        else:
            mix = _mixture(tabs, means, scales, logits)
            for i in range(g * n):
                vals[i] = _decode_mixture(r, mix, i)
        return vals.reshape(g, n)

    out = ctxint.run(ip, z_hat, source)
    r.finish()
    return y_hat_of(out)
