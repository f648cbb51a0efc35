#!/usr/bin/python3
"""Gradient parity of the C encoder's latent optimization with PyTorch.

    python3 models/grad_parity.py --nictool build/nictool --model models/hyperprior.gguf \\
        --quality 4 --tau 0.3 IMAGE.png

`nictool grad` writes the latent y of the image (as the C encoder analyses
it), its means and scale indices, the loss that `-effort` minimizes at
temperature TAU without noise, and the C gradient of that loss with respect
to y.  This script evaluates the same loss on the same y with a PyTorch
forward pass that reads the same model file (nic/reference.py), takes its
gradient with torch.autograd, and compares: the loss within --max-loss
(relative), the gradient within --max-grad (largest absolute difference
over the largest gradient).  The image is cropped to --crop (at most
768x768, one tile of the optimizer)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import gguf  # noqa: E402
from nic.reference import FileModel  # noqa: E402

RELAX_EPS = 1e-5


def code_lengths(cdf, offset, values):
    """Bits of each integer value under one table, escapes included (docs/bitstream.md)."""
    freq = np.diff(cdf.astype(np.int64))
    bits = 16 - np.log2(freq)
    n = len(freq)
    hi = offset + n - 2
    out = np.empty(values.shape, np.float64)
    inside = (values >= offset) & (values <= hi)
    out[inside] = bits[values[inside] - offset]
    below, above = values < offset, values > hi
    e = np.zeros(values.shape, np.int64)
    e[below] = 2 * (offset - 1 - values[below]) + 1
    e[above] = 2 * (values[above] - hi - 1)
    esc = ~inside
    out[esc] = bits[n - 1] + 5 + np.floor(np.log2(e[esc] + 1))
    return out


def read_dump(path):
    buf = open(path, "rb").read()
    m, h, w = np.frombuffer(buf, "<i4", 3)
    loss = float(np.frombuffer(buf, "<f8", 1, 12)[0])
    n = int(m * h * w)
    arrays = np.frombuffer(buf, "<f4", 4 * n, 20).reshape(4, m, h, w)
    return loss, arrays


def torch_loss(ref, meta, tensors, img, y, means, idx, q, tau):
    """The loss of nic_optimize.c on y (1, M, H, W), differentiable in y."""
    m = y.shape[1]
    v = y - means
    f = torch.floor(v).detach()
    d = torch.clamp(v - f, RELAX_EPS, 1 - RELAX_EPS)
    w = torch.sigmoid((torch.atanh(d) - torch.atanh(1 - d)) / tau ** 2)
    y_hat = means + f + w

    cdfs, index = tensors["entropy_y.cdf"], tensors["entropy_y.cdf_index"]
    if ref.arch == "hyperprior":
        table = idx[0].numpy().astype(np.int64)
    else:
        table = np.broadcast_to((q * m + np.arange(m)).reshape(m, 1, 1), idx[0].shape)
    fi = f[0].numpy().astype(np.int64)
    r0, r1 = np.empty(fi.shape), np.empty(fi.shape)
    for t in np.unique(table):
        sel = table == t
        start, n, off = (int(x) for x in index[t])
        cdf = cdfs[start:start + n + 1]
        r0[sel] = code_lengths(cdf, off, fi[sel])
        r1[sel] = code_lengths(cdf, off, fi[sel] + 1)
    r0, r1 = torch.from_numpy(r0)[None], torch.from_numpy(r1)[None]
    rate = torch.sum(r0 + w.double() * (r1 - r0))

    inv = ref._w("gains.inv_gain")[q].view(1, -1, 1, 1)
    h, wd = img.shape[:2]
    x_hat = ref.transform(y_hat * inv, "g_s", True)[0, :, :h, :wd]
    x = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    lam = float(meta["nic.lambdas"][q])
    dist = lam * 255.0 ** 2 * torch.sum((torch.clamp(x_hat, 0, 1) - x).double() ** 2) / 3
    return rate + dist


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nictool", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("--tau", type=float, default=0.3)
    p.add_argument("--crop", type=int, nargs=2, default=[256, 192], metavar=("W", "H"))
    p.add_argument("--max-loss", type=float, default=1e-4)
    p.add_argument("--max-grad", type=float, default=1e-3)
    p.add_argument("image")
    args = p.parse_args()
    torch.set_num_threads(1)
    meta, tensors = gguf.read(args.model)
    ref = FileModel(meta, tensors)
    img = np.asarray(Image.open(args.image).convert("RGB"))[:args.crop[1], :args.crop[0]].copy()
    with tempfile.TemporaryDirectory() as tmp:
        ppm, out = os.path.join(tmp, "in.ppm"), os.path.join(tmp, "grad.bin")
        Image.fromarray(img).save(ppm)
        subprocess.run([args.nictool, "grad", args.model, str(args.quality), str(args.tau),
                        ppm, out], check=True, stdout=subprocess.DEVNULL)
        c_loss, (y, means, idx, c_grad) = read_dump(out)
    y_t = torch.from_numpy(y.copy())[None].requires_grad_(True)
    loss = torch_loss(ref, meta, tensors, img, y_t, torch.from_numpy(means.copy())[None],
                      torch.from_numpy(idx.copy())[None], args.quality, args.tau)
    loss.backward()
    t_grad = y_t.grad[0].numpy()
    loss_err = abs(c_loss - float(loss)) / abs(float(loss))
    scale = float(np.abs(t_grad).max())
    grad_err = float(np.abs(c_grad - t_grad).max()) / scale
    cos = float(np.sum(c_grad * t_grad) /
                np.sqrt(np.sum(c_grad.astype(np.float64) ** 2) * np.sum(t_grad ** 2)))
    print(f"{meta['nic.model']} q{args.quality} tau {args.tau} {img.shape[1]}x{img.shape[0]}: "
          f"loss C {c_loss:.3f} PyTorch {float(loss):.3f} (relative {loss_err:.2e}); "
          f"gradient max |diff| / max |grad| {grad_err:.2e} (max |grad| {scale:.3g}), "
          f"cosine {cos:.7f}")
    ok = loss_err <= args.max_loss and grad_err <= args.max_grad
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
