"""The update shared by the trainer and hyperfit.py."""
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
