"""A functional PyTorch forward pass that reads its weights from a nic model
file, exactly as the C codec sees them (F16 weights included): the
reference for the parity test of the C codec."""
import numpy as np
import torch
import torch.nn.functional as F

from . import intpath


class FileModel:
    def __init__(self, meta, tensors):
        self.meta, self.t = meta, tensors
        self.arch = meta["nic.arch"]

    def _w(self, name):
        return torch.from_numpy(np.asarray(self.t[name], dtype=np.float32).copy())

    def conv(self, x, name, stride, up):
        w, b = self._w(name + ".weight"), self._w(name + ".bias")
        x = F.conv2d(x, w, b, stride=stride, padding=w.shape[-1] // 2)
        return F.pixel_shuffle(x, 2) if up else x

    def gdn(self, x, name, inverse):
        beta, gamma = self._w(name + ".beta"), self._w(name + ".gamma")
        c = x.shape[1]
        norm = torch.sqrt(F.conv2d(x * x, gamma.view(c, c, 1, 1), beta))
        return x * norm if inverse else x / norm

    def transform(self, x, prefix, up):
        """g_a (strided convolutions, GDN) or g_s (upsampling, IGDN)."""
        for i in range(4):
            x = self.conv(x, f"{prefix}.{2 * i}", 1 if up else 2, up)
            if i < 3:
                x = self.gdn(x, f"{prefix}.{2 * i + 1}", up)
        return x

    def chain(self, x, prefix, strides, ups):
        for i, (s, u) in enumerate(zip(strides, ups)):
            x = self.conv(x, f"{prefix}.{2 * i}", s, u)
            if i < 2:
                x = torch.relu(x)
        return x

    def int_params(self):
        return {l: {k: self.t[f"h_s_scale.{l}.{k}"] for k in
                    ("weight", "bias", "mult", "add", "shift")} for l in ("l1", "l2", "l3")}

    @torch.no_grad()
    def analyse(self, img, q):
        """img: uint8 HxWx3 -> dict of quantized symbols and side values."""
        h, w = img.shape[:2]
        hp, wp = -(-h // 64) * 64, -(-w // 64) * 64
        pad = np.pad(img, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
        x = torch.from_numpy(pad).permute(2, 0, 1)[None].float() / 255
        gain = self._w("gains.gain")[q].view(1, -1, 1, 1)
        y = self.transform(x, "g_a", False) * gain
        out = {"y": y}
        if self.arch == "hyperprior":
            z = self.chain(y, "h_a", (1, 2, 2), (False, False, False))
            zq = torch.round(z)
            out["zsym"] = zq[0].long().numpy()
            out["idx"] = intpath.scale_indices(self.int_params(), out["zsym"])
            means = self.chain(zq, "h_s_mean", (1, 1, 1), (True, True, False))
            out["means"] = means
            out["ysym"] = torch.round(y - means)[0].long().numpy()
        else:
            med = self._w("entropy_y.medians")[q].view(1, -1, 1, 1)
            out["means"] = med.expand_as(y)
            out["ysym"] = torch.round(y - med)[0].long().numpy()
        return out

    @torch.no_grad()
    def reconstruct(self, ysym, means, q, h, w):
        inv = self._w("gains.inv_gain")[q].view(1, -1, 1, 1)
        y_hat = (torch.from_numpy(ysym)[None].float() + means) * inv
        x = self.transform(y_hat, "g_s", True)[0, :, :h, :w].clamp(0, 1)
        return (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
