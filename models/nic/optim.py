"""The update and learning-rate schedule shared by the trainers."""
import torch


def update(model, q, loss, opt, aux_opt, params, clip=1.0):
    """One step: `loss` through `opt`, its gradients over `params` clipped
    to norm `clip`; then the entropy bottlenecks' auxiliary (quantile) loss
    of quality q through `aux_opt`.  Returns (gradient norm, aux loss)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    aux = model.aux_loss(q)
    aux_opt.zero_grad(set_to_none=True)
    aux.backward()
    aux_opt.step()
    return gnorm, aux


def set_lr(opt, step, lr, warmup, decay_from):
    """Linear warm-up to lr over `warmup` steps, a tenth of it from step
    `decay_from` on; sets every parameter group's rate (lr times the
    group's "lr_scale") and returns the base rate."""
    lr = lr * min(1.0, (step + 1) / warmup)
    if step >= decay_from:
        lr *= 0.1
    for g in opt.param_groups:
        g["lr"] = lr * g["lr_scale"]
    return lr
