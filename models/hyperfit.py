#!/usr/bin/python3
"""Train a hyperprior model's hyper networks on large latent maps, with g_a,
g_s and the gains frozen (nic/hyperfit.py says why).

    python3 models/hyperfit.py --model hyperprior [--steps 1200] [--minutes M]

Reads the checkpoint that export.py would take (models/ckpt/<model>-cooled.pt,
then <model>.pt, and for the hyperprior the committed one) and writes it
back with the new hyper networks and a "hyperfit" record: steps done, both
optimizers, the sampler's state.  When the run ends, the hyperprior's
committed checkpoint gets the weights and the step count.  A run resumes
from the record until --steps are done; end-to-end training drops the
record, so the next hyperfit starts again.  The rate of the held-out
photos' whole latent maps (with rounding) goes to stdout and
models/runs/<model>-hyperfit.jsonl.  The latents are cached in
models/cache/ under the digest of the transform they came from; the
photos are fetched once by nic/photos.py."""
import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import data, hyperfit, optim, photos  # noqa: E402
from nic.checkpoint import (candidates, compact, load_newest, model_from,  # noqa: E402
                            save_atomic)

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="hyperprior", choices=["hyperprior", "hyperprior-msssim"])
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    p.add_argument("--compact-dir", default=os.path.join(HERE, "checkpoints"))
    p.add_argument("--log-dir", default=os.path.join(HERE, "runs"))
    p.add_argument("--cache-dir", default=os.path.join(HERE, "cache"))
    p.add_argument("--steps", type=int, default=1200, help="total hyperfit steps")
    p.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--decay-at", type=float, default=0.8,
                   help="fraction of --steps after which the learning rate drops 10x")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=250)
    return p.parse_args()


def latents(model, args):
    """(training maps, held-out maps), computed once per transform."""
    digest = hyperfit.transform_digest(model)
    path = os.path.join(args.cache_dir, f"latents-{digest}.pt")
    if os.path.exists(path):
        return torch.load(path)
    train, held = photos.load(os.path.join(args.cache_dir, "photos.npz"))
    cache = os.path.join(args.cache_dir, "train-x2.npz")
    if not os.path.exists(cache):
        data.build_cache(os.path.join(HERE, "..", "..", "shared", "data", "train"), cache)
    train += data.Crops(cache, 256).train  # the training images of 256x256 and more
    t0 = time.time()
    maps = (hyperfit.latent_maps(model, train), hyperfit.latent_maps(model, held))
    print(f"latents of {len(maps[0])} training and {len(maps[1])} held-out images in "
          f"{time.time() - t0:.0f} s", flush=True)
    save_atomic(maps, path)
    return maps


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    for d in (args.ckpt_dir, args.log_dir, args.cache_dir):
        os.makedirs(d, exist_ok=True)
    # The checkpoint export would take (a cooled one first), written back in
    # place; the committed one is written back to models/ckpt/.
    src, ck = load_newest(candidates(args.model, args.ckpt_dir, args.compact_dir))
    if ck is None:
        raise SystemExit(f"{args.model}: no checkpoint to start from")
    cooled = src.endswith("-cooled.pt")
    path = src if cooled else os.path.join(args.ckpt_dir, args.model + ".pt")
    model = model_from(ck)
    train_maps, held_maps = latents(model, args)

    for p in model.parameters():
        p.requires_grad_(False)
    weights, dens, quant = hyperfit.hyper_parameters(model)
    for p in weights + dens + quant:
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": weights, "lr_scale": 1.0},
                            {"params": dens, "lr_scale": 10.0}], lr=args.lr)
    aux_opt = torch.optim.Adam(quant, lr=1e-2)
    crops = hyperfit.LatentCrops(train_maps)
    rec = ck.get("hyperfit")
    step = 0
    if rec:
        step = rec["steps"]
        if "opt" in rec:  # not in the committed (compact) checkpoint
            opt.load_state_dict(rec["opt"])
            aux_opt.load_state_dict(rec["aux_opt"])
            crops.rng.bit_generator.state = rec["sampler"]
            torch.set_rng_state(rec["torch_rng"])
    else:
        torch.manual_seed(4)
    q_rng = np.random.Generator(np.random.PCG64(step))
    print(f"hyperfit {args.model} from {src}: step {ck['step']} of training, hyperfit step "
          f"{step} of {args.steps}; {len(train_maps)} training maps", flush=True)

    def save(final=False):
        ck["model"] = model.state_dict()
        ck["hyperfit"] = {"steps": step, "latents": len(train_maps)}
        targets = [(path, dict(ck, hyperfit=dict(
            ck["hyperfit"], opt=opt.state_dict(), aux_opt=aux_opt.state_dict(),
            sampler=crops.rng.bit_generator.state, torch_rng=torch.get_rng_state())))]
        if final and args.model == "hyperprior" and not cooled:
            # the hyperprior's committed checkpoint, which a fresh checkout resumes
            targets.append((os.path.join(args.compact_dir, args.model + ".pt"), compact(ck)))
        for p, obj in targets:
            save_atomic(obj, p)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    logf = open(os.path.join(args.log_dir, args.model + "-hyperfit.jsonl"), "a")
    qs = [0, model.qualities // 2, model.qualities - 1]
    if step == 0:
        before = hyperfit.held_out_rate(model, held_maps, qs)
        print("held-out bpp before:", json.dumps(before), flush=True)
        logf.write(json.dumps({"hyperfit_step": 0, "held_out_bpp": before}) + "\n")
    model.train()
    t_start, window = time.time(), []
    while step < args.steps and not stop["now"]:
        if args.minutes and time.time() - t_start > args.minutes * 60:
            break
        t0 = time.time()
        lr = optim.set_lr(opt, step, args.lr, args.warmup, args.decay_at * args.steps)
        q = int(q_rng.integers(model.qualities))
        loss = hyperfit.rate_bpp(model, crops.batch(args.batch), q)
        _, aux = optim.update(model, q, loss, opt, aux_opt, weights + dens)
        step += 1
        window.append(time.time() - t0)
        if step % args.save_every == 0 or step == args.steps:
            held = hyperfit.held_out_rate(model, held_maps, qs)
            entry = {"hyperfit_step": step, "held_out_bpp": held, "lr": lr,
                     "s_per_step": float(np.median(window)), "aux": float(aux)}
            window = []
            logf.write(json.dumps(entry) + "\n")
            logf.flush()
            print(json.dumps(entry), flush=True)
            save()
    save(final=True)
    print(f"saved {path} at hyperfit step {step}", flush=True)


if __name__ == "__main__":
    main()
