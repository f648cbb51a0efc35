"""Fake-quantized integer layers of the context model (training side).

Every tensor that flows between these layers holds integers (in float
storage) together with a known real step: value = integer * step.  A layer
sums convolutions over one or more such inputs into an integer accumulator
whose real step `a` is one per output channel:

    u[c, i]   = w[c, i] * step_in[i]          (the input step folded in)
    a[c]      = max |u[c, ., ., .]| / 127     (over every part of the layer)
    W[c, i]   = round(u[c, i] / a[c])         (int8)
    acc[c]    = round(b[c] / a[c]) + sum of W * x   (int32 in the codec)

so inputs of different steps (hyper features, decoded latents) share one
accumulator.  The accumulator is then requantized, as the codec does it
with `(acc * mult + add) >> shift`, either to a uint8 activation of a
tracked step (Act8) or to the integer parameters of the entropy model
(Head).  nic/ctxint.py holds the exact integer counterpart."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import round_ste

WEIGHT_QMAX = 127
ACT_QMAX = 255


def round_half_up_ste(x):
    """floor(x + 0.5), what `(acc * mult + add) >> shift` computes with
    add = 0.5 * 2^shift; identity in the backward pass."""
    return x + (torch.floor(x + 0.5) - x).detach()


class IntConv(nn.Module):
    """A sum of k x k convolutions (zero padding, stride 1) over integer
    inputs, int8 weights on one accumulator step per output channel.
    `parts` lists (input channels, kernel size); `biases` is the number of
    bias vectors (one per pass that uses the layer)."""

    def __init__(self, parts, cout, biases=1):
        super().__init__()
        self.parts = [tuple(p) for p in parts]
        self.cout = cout
        self.weights = nn.ParameterList()
        for cin, k in self.parts:
            w = torch.empty(cout, cin, k, k)
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            self.weights.append(nn.Parameter(w))
        fan_in = sum(cin * k * k for cin, k in self.parts)
        bound = 1 / math.sqrt(fan_in)
        self.bias = nn.Parameter(torch.empty(biases, cout).uniform_(-bound, bound))

    def folded(self, steps):
        """(u per part, accumulator step a [cout]) for input steps given per
        part as tensors of [cin] (or scalars)."""
        u = []
        for w, s in zip(self.weights, steps):
            s = torch.as_tensor(s, dtype=w.dtype).reshape(-1)
            u.append(w * s.expand(w.shape[1]).view(1, -1, 1, 1))
        amax = torch.stack([t.detach().abs().amax(dim=(1, 2, 3)) for t in u]).amax(0)
        return u, torch.clamp(amax / WEIGHT_QMAX, min=1e-12)

    def quantized(self, steps):
        """(integer-valued weights per part, a, integer-valued biases)."""
        u, a = self.folded(steps)
        wq = [torch.clamp(round_ste(t / a.view(-1, 1, 1, 1)), -WEIGHT_QMAX, WEIGHT_QMAX)
              for t in u]
        bq = round_ste(self.bias / a)
        return wq, a, bq

    def part(self, wq, i, x):
        k = self.parts[i][1]
        return F.conv2d(x, wq[i], padding=k // 2)

    def forward(self, xs, steps, bias=0):
        """Sum over all parts (xs: one integer tensor per part) -> (acc, a):
        acc integer-valued in units of a."""
        wq, a, bq = self.quantized(steps)
        acc = sum(self.part(wq, i, x) for i, x in enumerate(xs))
        return acc + bq[bias].view(1, -1, 1, 1), a


class Act8(nn.Module):
    """ReLU and uint8 quantization of an accumulator with a tracked step
    (running maximum while training, frozen at export)."""

    def __init__(self, momentum=0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_max", torch.tensor(0.0))

    def step(self):
        return torch.clamp(self.running_max, min=1e-4) / ACT_QMAX

    def forward(self, acc, a):
        """acc in units of a [cout] -> integer activation (0..255), step."""
        real = acc * a.view(1, -1, 1, 1)
        if self.training:
            m = real.detach().amax()
            if self.running_max.item() == 0.0:
                self.running_max.copy_(m)
            else:
                self.running_max.mul_(1 - self.momentum).add_(self.momentum * m)
        s = self.step()
        return torch.clamp(round_half_up_ste(real / s), 0, ACT_QMAX), s


class Head(nn.Module):
    """The last requantization: output channel c is
    clamp(floor(real * factor[c] + offset[c]) + base, lo[c], hi[c]), base
    an optional integer tensor added before the clamp; the factors, offsets
    and bounds are fixed (they define the parameter units)."""

    def __init__(self, factor, offset, lo, hi):
        super().__init__()
        for name, v in (("factor", factor), ("offset", offset), ("lo", lo), ("hi", hi)):
            self.register_buffer(name, torch.as_tensor(v, dtype=torch.float64).float())

    def forward(self, acc, a, base=None):
        real = acc * a.view(1, -1, 1, 1)
        v = round_half_up_ste(real * self.factor.view(1, -1, 1, 1)
                              + (self.offset.view(1, -1, 1, 1) - 0.5))
        if base is not None:
            v = v + base
        lo, hi = self.lo.view(1, -1, 1, 1), self.hi.view(1, -1, 1, 1)
        return torch.maximum(torch.minimum(v, hi), lo)
