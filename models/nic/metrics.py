"""Distortion measures: PSNR and MS-SSIM (Wang et al. 2003) on [0, 1] RGB."""
import math

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def psnr(mse):
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def _gauss_window(size=11, sigma=1.5, device=None):
    t = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-t * t / (2 * sigma * sigma))
    return g / g.sum()


def _filter(x, win):
    c = x.shape[1]
    k = win.numel()
    x = F.conv2d(x, win.view(1, 1, 1, k).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, win.view(1, 1, k, 1).repeat(c, 1, 1, 1), groups=c)


def ms_ssim(x, y, data_range=1.0):
    """Mean MS-SSIM over the batch.  The Gaussian window shrinks at coarse
    scales when the image is too small for 11 taps, so 128x128 crops work."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    x, y = x.float(), y.float()
    vals = []
    for i, w in enumerate(MS_SSIM_WEIGHTS):
        size = min(11, min(x.shape[-2:]))
        size -= 1 - size % 2
        win = _gauss_window(size, 1.5 * size / 11, x.device)
        mx, my = _filter(x, win), _filter(y, win)
        sxx = _filter(x * x, win) - mx * mx
        syy = _filter(y * y, win) - my * my
        sxy = _filter(x * y, win) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        if i == len(MS_SSIM_WEIGHTS) - 1:
            ssim = ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs
            vals.append(torch.relu(ssim.mean(dim=(1, 2, 3))))
        else:
            vals.append(torch.relu(cs.mean(dim=(1, 2, 3))))
            x = F.avg_pool2d(x, 2, ceil_mode=True)
            y = F.avg_pool2d(y, 2, ceil_mode=True)
    out = torch.ones_like(vals[0])
    for v, w in zip(vals, MS_SSIM_WEIGHTS):
        out = out * v.clamp(min=1e-8) ** w
    return out.mean()
