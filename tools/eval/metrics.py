"""Image quality metrics for the evaluation, in numpy/scipy only.

Conventions follow CompressAI's evaluation of image codecs:

* ``psnr_rgb``: one MSE over all pixels and all three RGB channels of the
  8-bit images, PSNR = 10 log10(255^2 / MSE).  Dataset figures are the mean
  of the per-image PSNRs (not the PSNR of the mean MSE).
* ``ms_ssim_rgb``: MS-SSIM (Wang, Simoncelli, Bovik 2003) on the RGB image
  scaled to [0, 1] with data_range 1: 5 scales, 11x11 Gaussian window with
  sigma 1.5 applied without padding ("valid"), K1 = 0.01, K2 = 0.03,
  weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average pooling
  between scales.  As in the widely used pytorch_msssim (CompressAI's
  dependency), the product over scales is formed per colour channel, with
  negative contrast-structure terms clipped to 0, and the three per-channel
  values are then averaged.
"""
import numpy as np
from scipy.ndimage import correlate1d

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def mse_rgb(a, b):
    """Mean squared error over all samples of two uint8 (H, W, 3) arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    return float(np.mean((a - b) ** 2))


def psnr_rgb(a, b, max_val=255.0):
    """PSNR in dB of two 8-bit RGB images (inf for identical images)."""
    m = mse_rgb(a, b)
    if m == 0:
        return float("inf")
    return float(10.0 * np.log10(max_val * max_val / m))


def gaussian_window(size=11, sigma=1.5):
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return g / g.sum()


def _blur_valid(x, win):
    """Separable correlation of each channel of x (C, H, W) with win,
    keeping only positions where the window lies inside the image."""
    k = win.size
    h = k // 2
    y = correlate1d(x, win, axis=1, mode="constant")
    y = correlate1d(y, win, axis=2, mode="constant")
    # correlate1d centres the window; the valid part excludes h samples at
    # each border, where the zero padding would leak in.
    return y[:, h:x.shape[1] - h, h:x.shape[2] - h]


def _pool2(x):
    """2x2 average pooling; an odd trailing row/column is averaged over the
    samples that exist (ceil mode).  Kodak sizes never need it."""
    c, hh, ww = x.shape
    if hh % 2:
        x = np.concatenate([x, x[:, -1:, :]], axis=1)
    if ww % 2:
        x = np.concatenate([x, x[:, :, -1:]], axis=2)
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2]
                   + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])


def _ssim_cs(x, y, win, c1, c2):
    """Per-channel mean SSIM and mean contrast-structure term."""
    mx = _blur_valid(x, win)
    my = _blur_valid(y, win)
    sxx = _blur_valid(x * x, win) - mx * mx
    syy = _blur_valid(y * y, win) - my * my
    sxy = _blur_valid(x * y, win) - mx * my
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    lum = (2.0 * mx * my + c1) / (mx * mx + my * my + c1)
    return (lum * cs).mean(axis=(1, 2)), cs.mean(axis=(1, 2))


def ms_ssim_rgb(a, b, data_range=255.0, weights=MS_SSIM_WEIGHTS,
                win_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """MS-SSIM of two (H, W, C) images (uint8 by default, data_range 255,
    which equals the [0, 1] / data_range 1 convention up to rounding).

    Returns the mean over channels of the per-channel MS-SSIM."""
    x = np.asarray(a, dtype=np.float64) / data_range
    y = np.asarray(b, dtype=np.float64) / data_range
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch {x.shape} vs {y.shape}")
    if x.ndim == 2:
        x, y = x[None], y[None]
    else:
        x, y = np.moveaxis(x, -1, 0), np.moveaxis(y, -1, 0)
    levels = len(weights)
    min_side = min(x.shape[1:])
    if min_side < (win_size - 1) * 2 ** (levels - 1) + 1:
        raise ValueError(f"image side {min_side} too small for {levels}-scale "
                         f"MS-SSIM with an {win_size}-tap window")
    win = gaussian_window(win_size, sigma)
    c1, c2 = k1 * k1, k2 * k2
    terms = []
    for i in range(levels):
        ssim, cs = _ssim_cs(x, y, win, c1, c2)
        if i < levels - 1:
            terms.append(np.maximum(cs, 0.0))
            x, y = _pool2(x), _pool2(y)
        else:
            terms.append(np.maximum(ssim, 0.0))
    terms = np.stack(terms)                      # (levels, C)
    w = np.asarray(weights, dtype=np.float64)[:, None]
    per_channel = np.prod(terms ** w, axis=0)
    return float(per_channel.mean())


def ms_ssim_db(v):
    """MS-SSIM expressed in dB as in RD plots: -10 log10(1 - v)."""
    v = np.asarray(v, dtype=np.float64)
    return -10.0 * np.log10(np.maximum(1.0 - v, 1e-12))
