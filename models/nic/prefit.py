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


def histograms(y, gains, bins, draws, gen):
    """For every quality and channel (rows quality-major, as the bottleneck
    stores them): the samples y * gain plus uniform noise (`draws` draws per
    sample), as `bins` bin centres and their weights (summing to 1)."""
    g = torch.exp(gains.log_gain.detach()).cpu()  # (qualities, channels)
    centres, weights = [], []
    for q in range(g.shape[0]):
        v = (y * g[q][:, None]).repeat(1, draws)
        v = v + torch.rand(v.shape, generator=gen) - 0.5
        lo = v.min(dim=1, keepdim=True).values
        width = (v.max(dim=1, keepdim=True).values - lo).clamp_min(1e-3) / bins
        idx = ((v - lo) / width).long().clamp_(0, bins - 1)
        w = torch.zeros(v.shape[0], bins).scatter_add_(1, idx, torch.ones_like(v))
        centres.append(lo + width * (torch.arange(bins) + 0.5))
        weights.append(w / v.shape[1])
    return torch.cat(centres).unsqueeze(1), torch.cat(weights).unsqueeze(1)


def fit_bottleneck(eb, gains, y, steps=600, aux_steps=2000, bins=256, draws=4, lr=1e-2,
                   seed=3, log=print):
    """Fits every quality's density of `eb` to the samples y (channels x n)
    scaled by that quality's gain, then its quantiles.  The objective is the
    training one (rate of the samples plus uniform noise), evaluated on a
    fine histogram of them so that a step costs one pass over
    qualities x channels x bins points, whatever the sample count.  Returns
    the rate of the rounded samples, in bits per latent element, for every
    quality."""
    gen = torch.Generator().manual_seed(seed)
    dev = eb.quantiles.device
    y = y.cpu()
    centres, weights = (t.to(dev) for t in histograms(y, gains, bins, draws, gen))
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
    g = torch.exp(gains.log_gain.detach()).cpu()
    with torch.no_grad():
        v = torch.cat([y * g[q][:, None] for q in range(eb.qualities)]).to(dev)
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

    # The rate of the rounded samples (what the coder sees) per quality.
    with torch.no_grad():
        med = eb.quantiles[:, 0, 1:2]
        v_hat = torch.round(v - med) + med
        rates = []
        for q in range(eb.qualities):
            part = v_hat[q * eb.channels:(q + 1) * eb.channels]
            lik = eb.likelihood(part.view(1, eb.channels, 1, -1), q)
            rates.append(float(-torch.log2(lik).mean()))
    return rates
