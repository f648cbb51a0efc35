#!/usr/bin/python3
"""Fine-tune the `context` model end to end: the hyperprior's transforms
(g_a, g_s, the gains), h_a and z's prior together with the context entropy
model, on the rate-distortion loss of the real codec's structure.

    python3 models/ctxtune.py [--steps 6000] [--threads 1]

It starts from a models/ctxfit.py checkpoint (the context networks trained
on frozen latents) and the hyperprior it was trained on, and resumes from
models/ckpt/context-e2e.pt until --steps are done.  The loss is, per batch
of 128x128 crops at one quality q,

    lambda_q * 255^2 * MSE(x, g_s(y_hat)) + bits(y | context) + bits(z)

with the context model's rounding of y around its predicted centers
(straight-through) for the reconstruction and uniform noise for the rates,
as ctxfit.py trains it.  The context inputs are the rounded latents (no
gradient flows through them), and the integer networks' activation steps
stay those ctxfit.py tracked on whole images (128x128 crops would shrink
them).  `export.py --context models/ckpt/context-e2e.pt` writes
context.gguf from the result.

--init may also be an earlier ctxtune.py checkpoint: a derived run starts
from its transforms and context networks.  With --metric ms-ssim the
distortion is 1 - MS-SSIM at the MS-SSIM lambdas (train.py's), which
derives the MS-SSIM variant from the context model as hyperprior-msssim
was derived from the hyperprior; export.py names it context-msssim."""
import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402
from nic import data, nets, optim, photos  # noqa: E402
from nic.checkpoint import carried, load, model_from, save_atomic  # noqa: E402
from nic.context import context_from  # noqa: E402
from nic.intlayers import Act8  # noqa: E402
from nic.layers import round_ste  # noqa: E402
from nic.metrics import ms_ssim, psnr  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", default=os.path.join(HERE, "ckpt", "context-gmm.pt"),
                   help="the ctxfit.py (or ctxtune.py) checkpoint a fresh run starts from")
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"),
                   help="the hyperprior that checkpoint was trained on")
    p.add_argument("--out", default=os.path.join(HERE, "ckpt", "context-e2e.pt"))
    p.add_argument("--log", default=os.path.join(HERE, "runs", "context-e2e.jsonl"))
    p.add_argument("--cache", default=os.path.join(HERE, "cache", "train-x2.npz"))
    p.add_argument("--metric", choices=sorted(nets.LAMBDAS), default=None,
                   help="the distortion to train for (default: the start's)")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--photos", action="store_true",
                   help="also crop from nic/photos.py's photographs, as train.py --photos")
    p.add_argument("--q-weights", default=None,
                   help="sampling weights of the qualities, as train.py --q-weights")
    p.add_argument("--lr", type=float, default=1e-4, help="the transforms' learning rate")
    p.add_argument("--ctx-lr-scale", type=float, default=1.0,
                   help="the context networks' learning rate, relative")
    p.add_argument("--context-grad", action="store_true",
                   help="let the rate's gradient reach y through the context inputs "
                        "(straight-through rounding)")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--decay-at", type=float, default=0.8,
                   help="fraction of --steps after which the learning rate drops 10x")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bf16", default="auto", help="bf16 autocast of the transforms: 1, 0, auto")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=1000)
    return p.parse_args()


class Joint(nn.Module):
    """The hyperprior's transforms, h_a and z's prior with the context
    entropy model in place of h_s (whose weights stay unused)."""

    def __init__(self, hp, ctx):
        super().__init__()
        self.hp, self.ctx = hp, ctx
        self.lambdas, self.qualities, self.metric = hp.lambdas, hp.qualities, hp.metric

    def aux_loss(self, q):
        return self.hp.aux_loss(q)

    def forward(self, x, q):
        hp = self.hp
        y = hp.g_a(x).float() * hp.gains.gain(q)
        with torch.autocast("cpu", enabled=False):
            z = hp.h_a(y)
            if self.training:
                lik_z = hp.entropy_bottleneck.likelihood(
                    z + torch.empty_like(z).uniform_(-0.5, 0.5), q)
                z_hat = round_ste(z)
            else:
                z_hat = torch.round(z)
                lik_z = hp.entropy_bottleneck.likelihood(z_hat, q)
            lik_y, y_hat = self.ctx(y, z_hat)
        x_hat = hp.g_s(y_hat * hp.gains.inv_gain(q))
        return {"x_hat": x_hat.float(), "likelihoods": [lik_y, lik_z]}


def param_groups(joint, ctx_scale):
    """The transforms and h_a at lr, z's densities at 10x (train.py's
    reason), the context networks at ctx_scale; h_s, which the context
    model replaces, and the quantiles (auxiliary loss) are left out."""
    trans, dens = [], []
    for n, p in joint.hp.named_parameters():
        if n.endswith("quantiles") or n.startswith("h_s_"):
            continue
        (dens if n.startswith("entropy_bottleneck.") else trans).append(p)
    return [{"params": trans, "lr_scale": 1.0}, {"params": dens, "lr_scale": 10.0},
            {"params": list(joint.ctx.parameters()), "lr_scale": ctx_scale}]


@torch.no_grad()
def evaluate(joint, crops, qualities):
    """bpp (float likelihoods of the rounded latents) and PSNR of the
    validation crops at each quality."""
    joint.eval()
    x = train.to_tensor(crops, "cpu")
    res = {}
    for q in qualities:
        bits = mse = mss = 0.0
        for i in range(0, x.shape[0], 4):
            xi = x[i:i + 4]
            out = joint(xi, q)
            bits += float(nets.bits(out["likelihoods"]))
            x_hat = out["x_hat"].clamp(0, 1)
            mse += float(torch.mean((xi - x_hat) ** 2)) * xi.shape[0]
            if joint.metric != "mse":
                mss += float(ms_ssim(xi, x_hat)) * xi.shape[0]
        n = x.shape[0]
        res[q] = {"bpp": bits / (n * x.shape[2] * x.shape[3]), "psnr": psnr(mse / n)}
        if joint.metric != "mse":
            res[q]["ms_ssim"] = mss / n
    joint.train()
    return res


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    crops = data.Crops(args.cache, args.crop)
    if args.photos:
        pics, _ = photos.load(os.path.join(os.path.dirname(args.cache), "photos.npz"))
        crops.train += [a for a in pics if min(a.shape[:2]) >= args.crop]
    val = crops.val_crops()
    state_rng = np.random.Generator(np.random.PCG64(4242))
    # this run's own checkpoint, or a fresh run from --init and --hyperprior
    resume = os.path.exists(args.out)
    ck = load(args.out if resume else args.init)
    tuned = "hyperprior" in ck  # this run's checkpoint, or a derived run's start
    hp_ck = ck["hyperprior"] if tuned else load(args.hyperprior)
    fit_steps = int(ck["ctxfit_steps" if tuned else "steps"])
    # end-to-end steps before this run's own
    base_steps = int(ck.get("base_e2e_steps", 0))
    if tuned and not resume:  # a derived run: its start's steps come first
        base_steps += int(ck["e2e_steps"])
    metric = hp_ck["config"]["metric"]
    if args.metric and args.metric != metric:
        if resume:
            raise SystemExit(f"{args.out} trains for {metric}, not {args.metric}")
        hp_ck = hp_ck | {"config": dict(hp_ck["config"], metric=args.metric)}
    joint = Joint(model_from(hp_ck), context_from(ck))
    joint.ctx.context_grad = args.context_grad
    if not resume:
        torch.manual_seed(5)
    for m in joint.ctx.modules():
        if isinstance(m, Act8):
            m.momentum = 0.0
    groups = param_groups(joint, args.ctx_lr_scale)
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.Adam(groups, lr=args.lr)
    aux_opt = torch.optim.Adam([p for n, p in joint.hp.named_parameters()
                                if n.endswith("quantiles")], lr=1e-2)
    step = 0
    if resume:
        opt.load_state_dict(ck["opt"])
        aux_opt.load_state_dict(ck["aux_opt"])
        crops.rng.bit_generator.state = ck["data_rng"]
        state_rng.bit_generator.state = ck["q_rng"]
        torch.set_rng_state(ck["torch_rng"])
        step = int(ck["e2e_steps"])
    draw_quality = train.quality_sampler(args.q_weights, joint.qualities, state_rng)
    use_bf16 = (train.native_bf16() if args.bf16 == "auto" else bool(int(args.bf16)))

    def save():
        hp_rec = {k: v for k, v in hp_ck.items() if k not in ("model", "opt_named")}
        save_atomic({"config": joint.ctx.config(), "model": joint.ctx.state_dict(),
                     "steps": fit_steps + base_steps + step, "ctxfit_steps": fit_steps,
                     "base_e2e_steps": base_steps, "e2e_steps": step,
                     "hyperprior": hp_rec | {"model": joint.hp.state_dict()},
                     "opt": opt.state_dict(), "aux_opt": aux_opt.state_dict(),
                     "data_rng": crops.rng.bit_generator.state,
                     "q_rng": state_rng.bit_generator.state,
                     "torch_rng": torch.get_rng_state(), "args": vars(args)}
                    | carried(ck), args.out)

    stop = {"now": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(now=True))
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    logf = open(args.log, "a")
    print(f"context end to end ({joint.metric}): step {step} of {args.steps} (after "
          f"{fit_steps} ctxfit and {base_steps} earlier end-to-end steps), lr {args.lr:g}, "
          f"bf16 {use_bf16}, {args.threads} threads", flush=True)

    def log_eval():
        ev = evaluate(joint, val, [0, joint.qualities // 2, joint.qualities - 1])
        logf.write(json.dumps({"step": step, "eval": ev}) + "\n")
        logf.flush()
        print("eval", json.dumps(ev), flush=True)

    if step == 0:
        log_eval()
    joint.train()
    window = []
    while step < args.steps and not stop["now"]:
        t0 = time.time()
        lr = optim.set_lr(opt, step, args.lr, args.warmup, args.decay_at * args.steps)
        q = draw_quality()
        x = train.to_tensor(crops.batch(args.batch), "cpu")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = joint(x, q)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = nets.bits(out["likelihoods"]) / npix
        loss = joint.lambdas[q] * train.distortion(joint, x, out["x_hat"]) + bpp
        optim.update(joint, q, loss, opt, aux_opt, params)
        step += 1
        mse = float(torch.mean((x - out["x_hat"].detach().clamp(0, 1)) ** 2))
        window.append((float(loss), float(bpp), psnr(mse), time.time() - t0))
        if step % 50 == 0 or step == args.steps:
            w = np.array(window)
            rec = {"step": step, "loss": float(w[:, 0].mean()), "bpp": float(w[:, 1].mean()),
                   "psnr": float(w[:, 2].mean()), "s_per_step": float(np.median(w[:, 3])),
                   "lr": lr}
            window = []
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            print(json.dumps(rec), flush=True)
        if step % args.save_every == 0:
            save()
        if step % args.eval_every == 0:
            log_eval()
    save()
    if stop["now"]:
        raise SystemExit(f"stopped at step {step}; {args.out} continues it")


if __name__ == "__main__":
    main()
