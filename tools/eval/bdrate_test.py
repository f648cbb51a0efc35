"""Unit tests of the evaluation's BD-rate, PSNR and MS-SSIM.

  /usr/bin/python3 -m unittest discover -s tools/eval -p '*_test.py' -v
"""
import math
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))

from bdrate import Pchip, bd_quality, bd_rate  # noqa: E402
from metrics import ms_ssim_db, ms_ssim_rgb, psnr_rgb  # noqa: E402

KODIM = os.path.join(REPO, "..", "shared", "data", "kodak", "kodim23.png")


def anchor_curve():
    """A realistic, curved RD curve: bpp and PSNR of a JPEG-like codec."""
    bpp = np.array([0.15, 0.3, 0.5, 0.8, 1.2, 1.8, 2.5])
    psnr = 24.0 + 6.5 * np.log2(bpp / 0.15) - 0.35 * np.log2(bpp / 0.15) ** 2
    return bpp, psnr


class BdRateTest(unittest.TestCase):
    def test_identical_curves_give_zero(self):
        r, q = anchor_curve()
        self.assertAlmostEqual(bd_rate(r, q, r, q), 0.0, places=12)

    def test_constant_factor_same_qualities(self):
        r, q = anchor_curve()
        self.assertAlmostEqual(bd_rate(r, q, 0.8 * r, q), -20.0, places=9)
        self.assertAlmostEqual(bd_rate(r, q, 1.25 * r, q), 25.0, places=9)
        self.assertAlmostEqual(bd_rate(0.5 * r, q, r, q), 100.0, places=9)

    def test_reciprocity(self):
        r, q = anchor_curve()
        a = bd_rate(r, q, 0.7 * r, q) / 100
        b = bd_rate(0.7 * r, q, r, q) / 100
        self.assertAlmostEqual((1 + a) * (1 + b), 1.0, places=12)

    def test_constant_factor_different_sampling(self):
        # log-rate linear in quality is reproduced exactly by PCHIP, so the
        # answer is exact even when the curves are sampled at other points.
        qa = np.array([26.0, 28.5, 31.0, 33.0, 36.0, 40.0])
        qt = np.array([27.2, 29.9, 32.4, 35.5, 38.1])
        rate = lambda q: 0.02 * np.exp(0.12 * q)  # noqa: E731
        self.assertAlmostEqual(bd_rate(rate(qa), qa, 0.8 * rate(qt), qt),
                               -20.0, places=9)

    def test_only_overlap_counts(self):
        # The test codec matches the anchor x0.5 inside [30, 34] only; its
        # other samples lie outside the anchor's range and must not count.
        qa = np.linspace(30.0, 34.0, 5)
        ra = np.exp(0.2 * qa) / 100
        qt = np.linspace(26.0, 34.0, 9)
        rt = 0.5 * np.exp(0.2 * qt) / 100
        self.assertAlmostEqual(bd_rate(ra, qa, rt, qt), -50.0, places=9)

    def test_order_and_duplicates(self):
        r, q = anchor_curve()
        perm = np.array([3, 0, 6, 1, 5, 2, 4])
        self.assertAlmostEqual(bd_rate(r[perm], q[perm], 0.9 * r, q), -10.0,
                               places=9)

    def test_no_overlap(self):
        r, q = anchor_curve()
        self.assertIsNone(bd_rate(r, q, r, q + 100.0))

    def test_quality_shift(self):
        r, q = anchor_curve()
        self.assertAlmostEqual(bd_quality(r, q, r, q + 0.5), 0.5, places=9)
        # a better codec at equal quality needs fewer bits -> negative rate
        self.assertLess(bd_rate(r, q, r, q + 0.5), 0.0)

    def test_hand_computed_linear_case(self):
        # anchor: ln R = D/10 on [30, 40]; test: ln R = D/10 - 0.1 (D - 30)
        # mean difference over [30, 40] = -0.1 * 5 = -0.5
        d = np.array([30.0, 32.0, 35.0, 37.0, 40.0])
        ra = np.exp(d / 10)
        rt = np.exp(d / 10 - 0.1 * (d - 30))
        self.assertAlmostEqual(bd_rate(ra, d, rt, d),
                               (math.exp(-0.5) - 1) * 100, places=9)

    def test_part_of_the_range(self):
        # the same linear case: over the upper half [35, 40] the difference
        # -0.1 (D - 30) averages -0.75, over the lower half -0.25
        d = np.array([30.0, 32.0, 35.0, 37.0, 40.0])
        ra = np.exp(d / 10)
        rt = np.exp(d / 10 - 0.1 * (d - 30))
        self.assertAlmostEqual(bd_rate(ra, d, rt, d, part=(0.5, 1.0)),
                               (math.exp(-0.75) - 1) * 100, places=9)
        self.assertAlmostEqual(bd_rate(ra, d, rt, d, part=(0.0, 0.5)),
                               (math.exp(-0.25) - 1) * 100, places=9)
        with self.assertRaises(ValueError):
            bd_rate(ra, d, rt, d, part=(0.5, 0.5))


class PchipTest(unittest.TestCase):
    def test_matches_scipy(self):
        try:
            from scipy.interpolate import PchipInterpolator
        except ImportError:
            self.skipTest("scipy not available")
        rng = np.random.default_rng(1)
        for n in (2, 3, 4, 7):
            x = np.cumsum(rng.uniform(0.2, 2.0, n))
            y = rng.normal(size=n) if n % 2 else np.cumsum(rng.uniform(0, 1, n))
            ours, ref = Pchip(x, y), PchipInterpolator(x, y)
            t = np.linspace(x[0], x[-1], 97)
            np.testing.assert_allclose(ours(t), ref(t), atol=1e-12)
            for a, b in ((x[0], x[-1]), (t[5], t[80]), (t[40], t[41])):
                self.assertAlmostEqual(ours.integrate(a, b), ref.integrate(a, b),
                                       places=10)

    def test_monotone_and_interpolating(self):
        x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
        y = np.array([0.0, 0.1, 3.0, 3.1, 3.2])
        p = Pchip(x, y)
        np.testing.assert_allclose(p(x), y, atol=1e-14)
        v = p(np.linspace(0, 4, 401))
        self.assertTrue(np.all(np.diff(v) >= -1e-12))


class PsnrTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.img = rng.integers(0, 250, size=(64, 96, 3), dtype=np.uint8)

    def test_identical_is_inf(self):
        self.assertEqual(psnr_rgb(self.img, self.img), float("inf"))

    def test_known_mse(self):
        b = self.img + 1   # error 1 everywhere
        self.assertAlmostEqual(psnr_rgb(self.img, b), 10 * math.log10(255 ** 2),
                               places=10)
        c = self.img.copy()
        c[..., 1] += 3     # one channel off by 3: MSE = 9 / 3 = 3
        self.assertAlmostEqual(psnr_rgb(self.img, c),
                               10 * math.log10(255 ** 2 / 3), places=10)

    def test_no_uint8_wraparound(self):
        a = np.zeros((8, 8, 3), np.uint8)
        b = np.full((8, 8, 3), 255, np.uint8)
        self.assertAlmostEqual(psnr_rgb(a, b), 0.0, places=10)


def _load_kodim():
    from PIL import Image
    with Image.open(KODIM) as im:
        return np.asarray(im.convert("RGB"))


class MsSsimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.path.exists(KODIM):
            cls.img = _load_kodim()
        else:   # a smooth synthetic image
            yy, xx = np.mgrid[0:256, 0:384]
            base = 128 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
            cls.img = np.stack([base, base[::-1], base[:, ::-1]], -1).astype(np.uint8)
        rng = np.random.default_rng(0)
        n = rng.normal(size=cls.img.shape)
        cls.noisy1 = np.clip(cls.img + 4 * n, 0, 255).astype(np.uint8)
        cls.noisy2 = np.clip(cls.img + 16 * n, 0, 255).astype(np.uint8)

    def test_identical_is_one(self):
        self.assertAlmostEqual(ms_ssim_rgb(self.img, self.img), 1.0, places=12)

    def test_noise_lowers_it(self):
        v1 = ms_ssim_rgb(self.img, self.noisy1)
        v2 = ms_ssim_rgb(self.img, self.noisy2)
        self.assertLess(v1, 1.0)
        self.assertLess(v2, v1)
        self.assertGreater(v2, 0.0)
        self.assertAlmostEqual(v1, ms_ssim_rgb(self.noisy1, self.img), places=12)

    def test_db(self):
        self.assertAlmostEqual(float(ms_ssim_db(0.99)), 20.0, places=9)

    def test_too_small(self):
        with self.assertRaises(ValueError):
            ms_ssim_rgb(self.img[:100, :100], self.img[:100, :100])

    def test_against_torch_implementation(self):
        """models/nic/metrics.py (torch, float32) on the full 512x768 image.
        It averages channels inside each scale; ours (like pytorch_msssim)
        forms the product per channel, so compare channel by channel and
        the RGB values loosely."""
        try:
            import torch
            sys.path.insert(0, os.path.join(REPO, "models"))
            from nic.metrics import ms_ssim as torch_ms_ssim
        except Exception as e:  # torch or the models package not importable
            self.skipTest(f"torch implementation not importable: {e}")
        a = self.img.astype(np.float64) / 255
        for other in (self.noisy1, self.noisy2):
            b = other.astype(np.float64) / 255
            per_channel = []
            for c in range(3):
                ta = torch.from_numpy(a[None, None, :, :, c].copy())
                tb = torch.from_numpy(b[None, None, :, :, c].copy())
                ref = float(torch_ms_ssim(ta, tb))
                ours = ms_ssim_rgb(self.img[..., c:c + 1], other[..., c:c + 1])
                self.assertAlmostEqual(ours, ref, delta=2e-5)
                per_channel.append(ref)
            self.assertAlmostEqual(ms_ssim_rgb(self.img, other),
                                   float(np.mean(per_channel)), delta=2e-5)
            ta = torch.from_numpy(np.moveaxis(a, -1, 0)[None].copy())
            tb = torch.from_numpy(np.moveaxis(b, -1, 0)[None].copy())
            self.assertAlmostEqual(ms_ssim_rgb(self.img, other),
                                   float(torch_ms_ssim(ta, tb)), delta=2e-3)


if __name__ == "__main__":
    unittest.main()
