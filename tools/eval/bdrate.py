"""Bjontegaard delta rate / delta quality (VCEG-M33), with piecewise cubic
Hermite (PCHIP, Fritsch-Carlson) interpolation as in the later JCT-VC
practice, written out here so the numbers do not depend on a library's
interpolation choices.

``bd_rate(anchor, test)``: the average difference of log-rate between the two
curves over the quality interval both cover, as a percentage:
``(exp(mean(ln R_test - ln R_anchor)) - 1) * 100``.  Negative means the test
codec needs fewer bits than the anchor for the same quality.
"""
import math

import numpy as np


class Pchip:
    """Monotonicity-preserving piecewise cubic Hermite interpolant through
    (x, y) with strictly increasing x (Fritsch & Carlson 1980; the same
    derivative rules as MATLAB's pchip).  Supports evaluation and exact
    definite integrals."""

    def __init__(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise ValueError("need two or more points of 1-D x and y")
        h = np.diff(x)
        if np.any(h <= 0):
            raise ValueError("x must be strictly increasing")
        delta = np.diff(y) / h
        n = x.size
        d = np.zeros(n)
        if n == 2:
            d[:] = delta[0]
        else:
            for k in range(1, n - 1):
                a, b = delta[k - 1], delta[k]
                if a == 0 or b == 0 or (a > 0) != (b > 0):
                    d[k] = 0.0
                else:
                    w1 = 2 * h[k] + h[k - 1]
                    w2 = h[k] + 2 * h[k - 1]
                    d[k] = (w1 + w2) / (w1 / a + w2 / b)
            d[0] = self._end(h[0], h[1], delta[0], delta[1])
            d[-1] = self._end(h[-1], h[-2], delta[-1], delta[-2])
        self.x, self.y, self.d, self.h = x, y, d, h
        # cumulative integral at each knot
        seg = h * ((y[:-1] + y[1:]) / 2 + h * (d[:-1] - d[1:]) / 12)
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])

    @staticmethod
    def _end(h0, h1, del0, del1):
        """One-sided three-point derivative at an end, shape-preserving."""
        dd = ((2 * h0 + h1) * del0 - h0 * del1) / (h0 + h1)
        if np.sign(dd) != np.sign(del0):
            return 0.0
        if np.sign(del0) != np.sign(del1) and abs(dd) > abs(3 * del0):
            return 3 * del0
        return dd

    def _locate(self, t):
        t = np.asarray(t, dtype=np.float64)
        k = np.clip(np.searchsorted(self.x, t, side="right") - 1,
                    0, self.x.size - 2)
        s = (t - self.x[k]) / self.h[k]
        return k, s

    def __call__(self, t):
        k, s = self._locate(t)
        h = self.h[k]
        y0, y1, d0, d1 = self.y[k], self.y[k + 1], self.d[k], self.d[k + 1]
        s2, s3 = s * s, s * s * s
        return (y0 * (2 * s3 - 3 * s2 + 1) + h * d0 * (s3 - 2 * s2 + s)
                + y1 * (-2 * s3 + 3 * s2) + h * d1 * (s3 - s2))

    def antiderivative(self, t):
        """Integral from x[0] to t (extrapolating the end cubics)."""
        k, s = self._locate(t)
        h = self.h[k]
        y0, y1, d0, d1 = self.y[k], self.y[k + 1], self.d[k], self.d[k + 1]
        s2, s3, s4 = s * s, s ** 3, s ** 4
        part = h * (y0 * (s4 / 2 - s3 + s) + h * d0 * (s4 / 4 - 2 * s3 / 3 + s2 / 2)
                    + y1 * (-s4 / 2 + s3) + h * d1 * (s4 / 4 - s3 / 3))
        return self.cum[k] + part

    def integrate(self, a, b):
        return float(self.antiderivative(b) - self.antiderivative(a))


def _prepare(rate, quality):
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise ValueError("rate and quality must be 1-D of equal length")
    ok = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[ok], q[ok]
    order = np.argsort(q, kind="stable")
    r, q = r[order], q[order]
    # duplicated quality values cannot be interpolated: keep the cheapest
    keep = np.concatenate([[True], np.diff(q) > 0])
    if not keep.all():
        for i in np.nonzero(~keep)[0]:
            r[i - 1] = min(r[i - 1], r[i])
        r, q = r[keep], q[keep]
    if q.size < 2:
        raise ValueError("need at least two distinct points per curve")
    return r, q


def overlap(q1, q2):
    lo = max(np.min(q1), np.min(q2))
    hi = min(np.max(q1), np.max(q2))
    return lo, hi


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test,
            min_overlap=0.0, part=(0.0, 1.0)):
    """BD-rate in percent of the test curve against the anchor.

    Rates in any unit (bpp), qualities in dB (PSNR, MS-SSIM dB).  Log-rate is
    interpolated as a PCHIP function of quality on each curve and integrated
    over the shared quality interval, or over the fractions ``part`` of it
    ((0.5, 1.0): its upper half).  Returns None when the curves share no
    interval wider than ``min_overlap``."""
    if not 0.0 <= part[0] < part[1] <= 1.0:
        raise ValueError("part must be fractions 0 <= a < b <= 1")
    ra, qa = _prepare(rate_anchor, quality_anchor)
    rt, qt = _prepare(rate_test, quality_test)
    lo, hi = overlap(qa, qt)
    if not hi - lo > min_overlap:
        return None
    lo, hi = lo + part[0] * (hi - lo), lo + part[1] * (hi - lo)
    pa = Pchip(qa, np.log(ra))
    pt = Pchip(qt, np.log(rt))
    avg = (pt.integrate(lo, hi) - pa.integrate(lo, hi)) / (hi - lo)
    return (math.exp(avg) - 1.0) * 100.0


def bd_quality(rate_anchor, quality_anchor, rate_test, quality_test):
    """BD-PSNR (or BD-quality in whatever unit): the average quality gain of
    the test over the anchor over the shared log-rate interval."""
    ra, qa = _prepare(rate_anchor, quality_anchor)
    rt, qt = _prepare(rate_test, quality_test)
    la, lt = np.log(ra), np.log(rt)
    oa, ot = np.argsort(la), np.argsort(lt)
    la, qa, lt, qt = la[oa], qa[oa], lt[ot], qt[ot]
    if np.any(np.diff(la) <= 0) or np.any(np.diff(lt) <= 0):
        raise ValueError("rates must be distinct")
    lo, hi = overlap(la, lt)
    if not hi > lo:
        return None
    pa, pt = Pchip(la, qa), Pchip(lt, qt)
    return (pt.integrate(lo, hi) - pa.integrate(lo, hi)) / (hi - lo)
