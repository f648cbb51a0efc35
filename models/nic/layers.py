"""Building blocks shared by the nic networks: GDN and the fake-quantized
layers of the integer scale path."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows where it pushes x upwards."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, g):
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (g < 0)
        return g * pass_through.to(g.dtype), None


def lower_bound(x, bound):
    return _LowerBound.apply(x, torch.as_tensor(bound, dtype=x.dtype, device=x.device))


def round_ste(x):
    """Round in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


class GDN(nn.Module):
    """Generalized divisive normalization (Balle et al. 2016).

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2); with inverse=True the
    division becomes a multiplication (IGDN).  beta and gamma are kept
    non-negative through a squared reparametrization with a small pedestal.
    Always evaluated in fp32, also under bf16 autocast."""

    PEDESTAL = 2.0 ** -36

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_floor = (beta_min + self.PEDESTAL) ** 0.5
        self.gamma_floor = self.PEDESTAL ** 0.5
        self.beta_p = nn.Parameter(torch.sqrt(torch.ones(channels) + self.PEDESTAL))
        g = gamma_init * torch.eye(channels) + self.PEDESTAL
        self.gamma_p = nn.Parameter(torch.sqrt(g))

    def beta(self):
        return lower_bound(self.beta_p, self.beta_floor) ** 2 - self.PEDESTAL

    def gamma(self):
        return lower_bound(self.gamma_p, self.gamma_floor) ** 2 - self.PEDESTAL

    def forward(self, x):
        with torch.autocast("cpu", enabled=False):
            x = x.float()
            c = x.shape[1]
            norm = F.conv2d(x * x, self.gamma().view(c, c, 1, 1), self.beta())
            norm = torch.sqrt(norm)
            return x * norm if self.inverse else x / norm


def conv(cin, cout, k=5, stride=2):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class Upsample(nn.Sequential):
    """x2 upsampling in sub-pixel form: a 3x3 convolution to 4*cout channels
    followed by depth-to-space.  This is a stride-2 transposed convolution
    with a 6x6 kernel, computed without the zero-stuffing (and on CPU it
    trains several times faster than nn.ConvTranspose2d's backward)."""

    def __init__(self, cin, cout, conv_cls=nn.Conv2d):
        super().__init__(conv_cls(cin, 4 * cout, 3, stride=1, padding=1),
                         nn.PixelShuffle(2))


def deconv(cin, cout):
    return Upsample(cin, cout)


# ---------------------------------------------------------------------------
# Fake quantization for the integer scale path.
#
# Weights: int8, symmetric, one scale per output channel.
# Activations: uint8 after ReLU, one scale per layer, tracked as a running
# maximum while training and frozen at export.
# ---------------------------------------------------------------------------

WEIGHT_QMAX = 127
ACT_QMAX = 255
INPUT_QMAX = 127  # the hyper-latent z_hat enters the path clamped to int8


def weight_scale(w, out_dim):
    dims = [d for d in range(w.dim()) if d != out_dim]
    s = w.detach().abs().amax(dim=dims) / WEIGHT_QMAX
    return torch.clamp(s, min=1e-8)


def fake_quant_weight(w, out_dim):
    s = weight_scale(w, out_dim)
    shape = [1] * w.dim()
    shape[out_dim] = -1
    s = s.view(shape)
    return torch.clamp(round_ste(w / s), -WEIGHT_QMAX, WEIGHT_QMAX) * s


class ActQuant(nn.Module):
    """ReLU followed by uint8 fake quantization with a tracked scale."""

    def __init__(self, momentum=0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_max", torch.tensor(0.0))

    def scale(self):
        return torch.clamp(self.running_max, min=1e-4) / ACT_QMAX

    def forward(self, x):
        if self.training:
            m = x.detach().float().amax()
            if self.running_max.item() == 0.0:
                self.running_max.copy_(m)
            else:
                self.running_max.mul_(1 - self.momentum).add_(self.momentum * m)
        s = self.scale()
        return torch.clamp(round_ste(x / s), 0, ACT_QMAX) * s


class QConv(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, fake_quant_weight(self.weight, 0), self.bias,
                        self.stride, self.padding)
