"""Fits a fresh entropy bottleneck to the latents of an already trained
analysis transform.

A derived model that gets a new prior (factorized, started from the
hyperprior's transforms) would otherwise begin with a density spread over
+-10 for every channel and quality, code y at several bits per element,
and spend thousands of end-to-end steps -- each a full forward and backward
pass of g_a and g_s -- just moving the density onto the latents.  The
density only sees y, so it can be fitted on its own: y of a few hundred
crops is computed once (g_a in inference mode), and the bottleneck of every
quality is optimised on those samples with the training objective (uniform
noise in place of rounding), followed by its quantiles (the auxiliary loss).
A step of that costs milliseconds, not a second."""
import torch

from .entropy import TAIL_MASS


@torch.no_grad()
def collect_latents(model, batches):
    """y = g_a(x) without gains for every tensor batch of `batches`, as one
    (channels, samples) matrix."""
    model.eval()
    ys = [model.g_a(x).float() for x in batches]
    model.train()
    y = torch.cat(ys)
    return y.permute(1, 0, 2, 3).reshape(y.shape[1], -1)


def scaled_latents(y, gains):
    """y * gain of every quality, stacked quality-major (the bottleneck's row
    order): (qualities * channels, n)."""
    g = torch.exp(gains.log_gain.detach()).to(y.device)  # (qualities, channels)
    return (g[:, :, None] * y[None]).reshape(-1, y.shape[1])


def histograms(v, channels, bins, draws, gen):
    """For every row of v: its samples plus uniform noise (`draws` draws per
    sample), as `bins` bin centres and their weights (summing to 1).  Done
    `channels` rows at a time to bound the memory of the noisy copies."""
    centres, weights = [], []
    for r in range(0, v.shape[0], channels):
        part = v[r:r + channels].repeat(1, draws)
        part = part + torch.rand(part.shape, generator=gen) - 0.5
        lo = part.min(dim=1, keepdim=True).values
        width = (part.max(dim=1, keepdim=True).values - lo).clamp_min(1e-3) / bins
        idx = ((part - lo) / width).long().clamp_(0, bins - 1)
        w = torch.zeros(part.shape[0], bins).scatter_add_(1, idx, torch.ones_like(part))
        centres.append(lo + width * (torch.arange(bins) + 0.5))
        weights.append(w / part.shape[1])
    return torch.cat(centres).unsqueeze(1), torch.cat(weights).unsqueeze(1)


def empirical_entropy(symbols):
    """Mean over rows of the entropy of each row's symbol histogram, in bits:
    the rate of an ideal per-channel prior fitted to exactly these
    symbols."""
    total = 0.0
    for row in symbols:
        _, counts = torch.unique(row, return_counts=True)
        p = counts.double() / counts.sum()
        total += float(-(p * torch.log2(p)).sum())
    return total / symbols.shape[0]


def fit_bottleneck(eb, gains, y, steps=600, aux_steps=2000, bins=256, draws=4, lr=1e-2,
                   seed=3, log=print):
    """Fits every quality's density of `eb` to the samples y (channels x n)
    scaled by that quality's gain, then its quantiles.  The objective is the
    training one (rate of the samples plus uniform noise), evaluated on a
    fine histogram of them so that a step costs one pass over
    qualities x channels x bins points, whatever the sample count.  Returns,
    for every quality, the rate of the rounded samples under the fitted
    density and the empirical entropy of the same symbols, both in bits per
    latent element."""
    gen = torch.Generator().manual_seed(seed)
    dev = eb.quantiles.device
    v = scaled_latents(y.cpu(), gains)
    centres, weights = (t.to(dev) for t in histograms(v, eb.channels, bins, draws, gen))
    rows = centres.shape[0]
    density = [p for p in eb.parameters() if p is not eb.quantiles]
    opt = torch.optim.Adam(density, lr=lr)
    for step in range(steps):
        if step == steps * 2 // 3:
            for grp in opt.param_groups:
                grp["lr"] = lr * 0.1
        lik = eb.likelihood(centres.view(1, rows, 1, bins), None).view(rows, 1, bins)
        loss = -(weights * torch.log2(lik)).sum() / rows
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            log(f"prefit step {step}: {float(loss):.4f} bits per element "
                "(noisy, mean over qualities)")

    # Quantiles: start from the sample range of every channel, then move
    # them onto the density's tails with the auxiliary loss.
    v = v.to(dev)
    with torch.no_grad():
        eb.quantiles[:, 0, 0] = v.min(dim=1).values - 1
        eb.quantiles[:, 0, 1] = v.median(dim=1).values
        eb.quantiles[:, 0, 2] = v.max(dim=1).values + 1
    aux_opt = torch.optim.Adam([eb.quantiles], lr=0.1)
    for step in range(aux_steps):
        if step == aux_steps * 2 // 3:
            for grp in aux_opt.param_groups:
                grp["lr"] = 0.01
        aux = eb.aux_loss(None)
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
    log(f"prefit quantiles: aux loss {float(aux):.3f} (tail mass {TAIL_MASS:g} per side pair)")

    # The rate of the rounded samples (what the coder sees) per quality,
    # against the entropy of those symbols.
    with torch.no_grad():
        med = eb.quantiles[:, 0, 1:2]
        sym = torch.round(v - med)
        lik = eb.likelihood((sym + med).view(1, rows, 1, -1), None).view(rows, -1)
        bits = -torch.log2(lik).mean(dim=1).view(eb.qualities, eb.channels).mean(dim=1)
        c = eb.channels
        return [(float(bits[q]), empirical_entropy(sym[q * c:(q + 1) * c].cpu()))
                for q in range(eb.qualities)]
