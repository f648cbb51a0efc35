#!/usr/bin/python3
"""Train the context entropy model (nic/context.py) on cached latents, with
the hyperprior's g_a, h_a, gains and z's prior frozen.

    python3 models/ctxfit.py --prior gaussian|gmm [--steps 2000] [--batch 8]
    python3 models/ctxfit.py --baseline      the hyperprior's own rates
    python3 models/ctxfit.py --init models/ckpt/context-e2e.pt [--steps 1000]

y = g_a(x) of whole training images and z_hat of every quality are
computed once (nic/ctxdata.py, models/cache/).  With the transforms frozen
the distortion does not depend on the entropy model, so the loss is the
rate of y alone; z's rate is the same for every variant.  The run resumes
from models/ckpt/context-<prior>.pt until --steps are done.  At the end it
reports, on the held-out latents and per quality, y's rate in bits per
latent element twice (the float training objective with rounding, and the
exact integer path of nic/ctxint.py with the codec's tables) and the bpp
of y and z together (exact integer tables both).

--init refits a models/ctxtune.py checkpoint the way hyperfit.py refits
the hyperprior: ctxtune.py trains on 128x128 crops, whose z maps are 2x2
and nearly all border, so its context networks and their hyper path (at
--hyper-lr-scale) train again here on whole-image latents of its own
transforms, which stay frozen, and the activation steps follow the whole
images again.  The run resumes from models/ckpt/context-refit.pt
(context-msssim-refit.pt for an MS-SSIM model), which export.py --context
turns into a model file like a ctxtune.py checkpoint."""
import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402
from nic import ctxdata, ctxint, data, entropy, intpath, mixcdf, optim  # noqa: E402
from nic.checkpoint import carried, load, model_from, save_atomic  # noqa: E402
from nic.context import ContextModel, context_from  # noqa: E402

PRIORS = {"gaussian": 1, "gmm": 3}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prior", choices=sorted(PRIORS), default="gaussian")
    p.add_argument("--init", metavar="CKPT",
                   help="refit the context networks of this ctxtune.py checkpoint")
    p.add_argument("--baseline", action="store_true",
                   help="only report the hyperprior's rates on the held-out latents")
    p.add_argument("--groups", default="", help="channel groups, e.g. 16,16,32,64,64")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--hyper-lr-scale", type=float, default=0.1,
                   help="learning rate of the (pretrained) hyper path, relative")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--decay-at", type=float, default=0.8,
                   help="fraction of --steps after which the learning rate drops 10x")
    p.add_argument("--train-images", type=int, default=1544)
    p.add_argument("--held-out", type=int, default=8)
    p.add_argument("--qualities", default="0,4,7", help="qualities to evaluate")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-every", type=int, default=200,
                   help="checkpoint every this many steps (and on SIGINT/SIGTERM)")
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"))
    p.add_argument("--image-cache", default=os.path.join(HERE, "cache", "train-x2.npz"),
                   help="nic/data.py's decoded training images")
    p.add_argument("--cache-dir", default=os.path.join(HERE, "cache"))
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    return p.parse_args()


def z_tables(hp, q):
    """The codec's integer tables of z at quality q, one per channel."""
    tabs = export.eb_tables(hp.entropy_bottleneck, q, torch.zeros(hp.n))
    return [(o, c.astype(np.int64)) for o, c in tabs]


def z_bits(tables, z_hat):
    return sum(float(mixcdf.table_bits(o, c, z_hat[i].astype(np.int64)).sum())
               for i, (o, c) in enumerate(tables))


@torch.no_grad()
def baseline_y(hp, ip, tabs, y, z):
    """(float bits, exact bits, 0) of y under the hyperprior's own prior."""
    zt = torch.from_numpy(z[None].astype(np.float32))
    idx = intpath.scale_indices(ip, z)
    mean = hp.h_s_mean(zt)[0].double().numpy()
    v = np.floor(y - mean + 0.5).astype(np.int64)
    scales = np.exp(entropy.LOG_SCALE_MIN + entropy.LOG_SCALE_STEP * idx)
    p = entropy.gaussian_likelihood(torch.from_numpy(v + mean), torch.from_numpy(mean),
                                    torch.from_numpy(scales))
    return float(-torch.log2(p).sum()), float(mixcdf.gaussian_bits(tabs, idx, v).sum()), 0


@torch.no_grad()
def context_y(model, ip, tabs, y, z):
    """(float bits, exact bits, elements where PyTorch's y_hat differs from
    the integer path's) of y under the context model."""
    lik, y_hat = model(torch.from_numpy(y[None]), torch.from_numpy(z[None].astype(np.float32)))
    out = ctxint.run(ip, z, ctxint.values_source(y, model.groups))
    ref = np.concatenate([v * mixcdf.MEAN_ONE + ctxint.center(m, lg) for v, m, _, lg in out])
    differ = int(np.sum(np.round(y_hat[0].numpy() * mixcdf.MEAN_ONE) != ref))
    return (float(-torch.log2(lik).sum()), float(ctxint.rate_bits(tabs, ip, out).sum()),
            differ)


def evaluate(hp, held, qualities, rate_y):
    """Per quality: y's float and exact bits per latent element, the exact
    bpp of y and z, over the held-out latents, and the share of y_hat where
    PyTorch and the integer path differ."""
    res = {}
    for q in qualities:
        gain = torch.exp(hp.gains.log_gain[q]).detach().double().numpy()[:, None, None]
        zt = z_tables(hp, q)
        fl = ex = zb = elems = pixels = differ = 0
        for y, z, (h, w) in held:
            a, b, d = rate_y((y * gain).astype(np.float32), z[q].astype(np.int64))
            fl, ex, differ = fl + a, ex + b, differ + d
            zb += z_bits(zt, z[q])
            elems += y.size
            pixels += h * w
        res[q] = {"y_bits_per_elem_float": fl / elems, "y_bits_per_elem": ex / elems,
                  "bpp": (ex + zb) / pixels, "z_bpp": zb / pixels,
                  "y_hat_differ": differ / elems}
    return res


def refit_record(init, steps):
    """What a refit checkpoint keeps of its ctxtune.py start: the tuned
    transforms and the steps before its own (as export.py reads them)."""
    return {"hyperprior": init["hyperprior"], "ctxfit_steps": int(init["ctxfit_steps"]),
            "base_e2e_steps": int(init.get("base_e2e_steps", 0)) + int(init["e2e_steps"]),
            "e2e_steps": 0, "refit_steps": steps, "steps": int(init["steps"]) + steps} | \
        carried(init)


def refit_name(hp):
    """context-refit, or context-msssim-refit for an MS-SSIM model."""
    return "context-refit" if hp.metric == "mse" else "context-msssim-refit"


def train(args, hp, train_maps, held, init=None):
    if init:
        path = os.path.join(args.ckpt_dir, refit_name(hp) + ".pt")
        model = context_from(init)
    else:
        groups = [int(g) for g in args.groups.split(",")] if args.groups else None
        path = os.path.join(args.ckpt_dir, f"context-{args.prior}.pt")
        model = ContextModel(hp.n, hp.m, groups, PRIORS[args.prior], args.hidden)
        model.hyper.init_from(hp)
    hyper = list(model.hyper.parameters())
    nets = list(model.nets.parameters())
    opt = torch.optim.Adam([{"params": hyper, "lr_scale": args.hyper_lr_scale},
                            {"params": nets, "lr_scale": 1.0}], lr=args.lr)
    batches = ctxdata.Batches(train_maps)
    step = 0
    if os.path.exists(path):
        ck = load(path)
        if ck["config"] != model.config():
            raise SystemExit(f"{path} holds another configuration: {ck['config']}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        batches.rng.bit_generator.state = ck["sampler"]
        torch.set_rng_state(ck["torch_rng"])
        step = ck["refit_steps"] if init else ck["steps"]
    elif init:
        torch.manual_seed(13)
    else:
        torch.manual_seed(11)
        with torch.no_grad():  # the first batch sets every activation step
            y, z = batches.batch(args.batch, hp.qualities - 1)
            model(y * hp.gains.gain(hp.qualities - 1), z)
    q_rng = np.random.Generator(np.random.PCG64(1000 + step))
    print(f"{os.path.basename(path)[:-3]}: groups {model.groups}, hidden {model.hidden}, "
          f"{sum(p.numel() for p in model.parameters())} parameters, step {step} of "
          f"{args.steps}, {len(train_maps)} training maps", flush=True)
    model.train()
    window, t0 = [], time.time()

    def save():
        os.makedirs(args.ckpt_dir, exist_ok=True)
        rec = refit_record(init, step) if init else {"steps": step}
        save_atomic({"config": model.config(), "model": model.state_dict(),
                     "opt": opt.state_dict(), "sampler": batches.rng.bit_generator.state,
                     "torch_rng": torch.get_rng_state(), **rec}, path)

    stop = {"now": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(now=True))
    while step < args.steps and not stop["now"]:
        lr = optim.set_lr(opt, step, args.lr, args.warmup, args.decay_at * args.steps)
        q = int(q_rng.integers(hp.qualities))
        y, z = batches.batch(args.batch, q)
        lik, _ = model(y * hp.gains.gain(q).detach(), z)
        loss = -torch.log2(lik).sum() / y.numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        window.append(float(loss))
        if step % args.log_every == 0 or step == args.steps:
            print(json.dumps({"step": step, "train_y_bits_per_elem": float(np.mean(window)),
                              "lr": lr, "s_per_step": (time.time() - t0) / len(window)}),
                  flush=True)
            window, t0 = [], time.time()
        if step % args.save_every == 0:
            save()
    save()
    if stop["now"]:
        raise SystemExit(f"stopped at step {step}; {path} continues it")
    return model


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    init = load(args.init) if args.init else None
    if init and "hyperprior" not in init:
        raise SystemExit(f"{args.init} is not a ctxtune.py checkpoint")
    hp = model_from(init["hyperprior"] if init else load(args.hyperprior))
    for p in hp.parameters():
        p.requires_grad_(False)
    if not os.path.exists(args.image_cache):
        data.build_cache(os.path.join(HERE, "..", "..", "shared", "data", "train"),
                         args.image_cache)
    t0 = time.time()
    train_maps, held = ctxdata.load(hp, args.cache_dir, args.image_cache,
                                    args.train_images, args.held_out)
    print(f"latents: {len(train_maps)} training, {len(held)} held-out maps "
          f"({time.time() - t0:.0f} s)", flush=True)
    tabs = mixcdf.Tables()
    qualities = [int(q) for q in args.qualities.split(",")]
    if args.baseline:
        ip = intpath.quantize(hp.h_s_scale)
        name = "hyperprior"
        res = evaluate(hp, held, qualities, lambda y, z: baseline_y(hp, ip, tabs, y, z))
    else:
        model = train(args, hp, train_maps, held, init).eval()
        ip = ctxint.quantize(model)
        name = refit_name(hp) if init else f"context-{args.prior}"
        res = evaluate(hp, held, qualities, lambda y, z: context_y(model, ip, tabs, y, z))
    for q, r in res.items():
        print(json.dumps({"model": name, "quality": q, "held_out": len(held),
                          **{k: round(v, 4) for k, v in r.items()}}), flush=True)


if __name__ == "__main__":
    main()
