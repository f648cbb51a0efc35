#!/usr/bin/python3
"""Train (or continue training) one nic model.

    python3 models/train.py --model hyperprior [--minutes 150]

Resumable to the step: the checkpoint holds the weights, both optimizers,
every RNG (torch, the data sampler) and the step count, and is written
atomically every --save-every steps and on SIGINT/SIGTERM.  Progress goes to
stdout and to models/runs/<model>.jsonl (training loss, bpp and PSNR, and
held-out evaluations with real rounding)."""
import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import data, nets  # noqa: E402
from nic.metrics import ms_ssim, psnr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {
    "factorized": {"arch": "factorized", "metric": "mse"},
    "hyperprior": {"arch": "hyperprior", "metric": "mse"},
    "hyperprior-msssim": {"arch": "hyperprior", "metric": "ms-ssim",
                          "init_from": "hyperprior"},
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(VARIANTS))
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--m", type=int, default=192)
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "train"))
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    p.add_argument("--compact-dir", default=os.path.join(HERE, "checkpoints"),
                   help="committed compact checkpoints, to continue in a fresh checkout")
    p.add_argument("--log-dir", default=os.path.join(HERE, "runs"))
    p.add_argument("--cache", default=os.path.join(HERE, "cache", "train-x2.npz"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--decay-at", type=int, default=0,
                   help="step after which the learning rate drops 10x (0: never)")
    p.add_argument("--steps", type=int, default=0, help="stop at this total step (0: no limit)")
    p.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    p.add_argument("--threads", default="auto", help="1, 2, ... or auto (measured)")
    p.add_argument("--bf16", type=int, default=0, help="bf16 autocast of the transforms (CPU)")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args()


class ThreadTuner:
    """With --threads auto, measures steps on 1 and on 2 threads now and
    then and keeps the faster: two threads are slower whenever something
    else runs on the machine."""

    def __init__(self, spec, probe_every=100, probe_len=10):
        self.auto = spec == "auto"
        self.current = 1 if self.auto else int(spec)
        self.probe_every, self.probe_len = probe_every, probe_len
        self.times = {1: [], 2: []}
        self.step_in_cycle = 0
        torch.set_num_threads(self.current)

    def record(self, dt):
        if not self.auto:
            return
        self.times[self.current].append(dt)
        self.step_in_cycle += 1
        if self.step_in_cycle == self.probe_every - self.probe_len:
            self.times = {1: [], 2: []}
            self._set(3 - self.current)
        elif self.step_in_cycle == self.probe_every:
            other = 3 - self.current
            a = np.median(self.times[self.current]) if self.times[self.current] else 1e9
            b = np.median(self.times[other][-self.probe_len // 2:]) if self.times[other] else 1e9
            self._set(self.current if a <= b else other)
            self.step_in_cycle = 0
            self.times = {1: [], 2: []}

    def _set(self, n):
        self.current = n
        torch.set_num_threads(n)


def lr_at(args, step):
    lr = args.lr * min(1.0, (step + 1) / max(1, args.warmup))
    if args.decay_at and step >= args.decay_at:
        lr *= 0.1
    return lr


def to_tensor(batch, device):
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0).contiguous(
        memory_format=torch.channels_last)


def distortion(model, x, x_hat):
    if model.metric == "mse":
        return torch.mean((x - x_hat) ** 2) * 255.0 ** 2
    return 1.0 - ms_ssim(x, x_hat.clamp(0, 1))


@torch.no_grad()
def evaluate(model, crops, device, qualities):
    model.eval()
    res = {}
    x = to_tensor(crops, device)
    for q in qualities:
        bits = 0.0
        mse = 0.0
        mss = 0.0
        for i in range(0, x.shape[0], 4):
            xi = x[i:i + 4]
            out = model(xi, q)
            xh = out["x_hat"].clamp(0, 1)
            bits += float(nets.bits(out["likelihoods"]))
            mse += float(torch.mean((xi - xh) ** 2)) * xi.shape[0]
            mss += float(ms_ssim(xi, xh)) * xi.shape[0]
        n = x.shape[0]
        res[q] = {"bpp": bits / (n * x.shape[2] * x.shape[3]),
                  "psnr": psnr(mse / n), "ms_ssim": mss / n}
    model.train()
    return res


MOMENTS = ("exp_avg", "exp_avg_sq")


def compact(ck):
    """A checkpoint to commit: the same state with Adam's moments in bf16
    (halves its size; fp16 would flush small second moments to zero)."""
    out = dict(ck)
    out["opt"] = {"param_groups": ck["opt"]["param_groups"],
                  "state": {k: {n: (t.to(torch.bfloat16) if n in MOMENTS else t)
                                for n, t in v.items()}
                            for k, v in ck["opt"]["state"].items()}}
    return out


def expand(ck):
    ck["opt"]["state"] = {k: {n: (t.float() if n in MOMENTS else t) for n, t in v.items()}
                          for k, v in ck["opt"]["state"].items()}
    return ck


def main():
    args = parse_args()
    variant = VARIANTS[args.model]
    os.makedirs(args.ckpt_dir, exist_ok=True)
    os.makedirs(args.log_dir, exist_ok=True)
    ckpt_path = os.path.join(args.ckpt_dir, args.model + ".pt")
    compact_path = os.path.join(args.compact_dir, args.model + ".pt")
    log_path = os.path.join(args.log_dir, args.model + ".jsonl")
    device = torch.device(args.device)

    if not os.path.exists(args.cache):
        data.build_cache(args.data, args.cache)
    crops = data.Crops(args.cache, args.crop)
    val = crops.val_crops()

    config = {"arch": variant["arch"], "n": args.n, "m": args.m, "metric": variant["metric"]}
    model = nets.build(config).to(device)
    aux_params = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    opt = torch.optim.Adam(main_params, lr=args.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-3)
    step = 0
    state_rng = np.random.Generator(np.random.PCG64(777))

    # the local checkpoint or the committed one, whichever is further on
    found = [expand(torch.load(p, map_location=device)) | {"path": p}
             for p in (ckpt_path, compact_path) if os.path.exists(p)]
    if found:
        ck = max(found, key=lambda c: c["step"])
        del found
        if ck["config"] != config:
            raise SystemExit(f"{ckpt_path}: checkpoint is {ck['config']}, asked for {config}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        aux_opt.load_state_dict(ck["aux_opt"])
        step = ck["step"]
        crops.rng.bit_generator.state = ck["data_rng"]
        state_rng.bit_generator.state = ck["q_rng"]
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed {ck['path']} at step {step}")
    elif variant.get("init_from"):
        src = os.path.join(args.ckpt_dir, variant["init_from"] + ".pt")
        if not os.path.exists(src):
            src = os.path.join(args.compact_dir, variant["init_from"] + ".pt")
        if not os.path.exists(src):
            raise SystemExit(f"{args.model} starts from {src}: train {variant['init_from']} first")
        ck = torch.load(src, map_location=device)
        state = {k: v for k, v in ck["model"].items() if "gains" not in k}
        model.load_state_dict(state, strict=False)
        print(f"initialized {args.model} from {src} (step {ck['step']})")
    else:
        torch.manual_seed(1)

    def save(final=False):
        ck = {"config": config, "model": model.state_dict(), "opt": opt.state_dict(),
              "aux_opt": aux_opt.state_dict(), "step": step,
              "data_rng": crops.rng.bit_generator.state,
              "q_rng": state_rng.bit_generator.state,
              "torch_rng": torch.get_rng_state(), "data_digest": crops.digest,
              "args": vars(args)}
        for path, obj in [(ckpt_path, ck)] + ([(compact_path, compact(ck))] if final else []):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            torch.save(obj, path + ".tmp")
            os.replace(path + ".tmp", path)

    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    tuner = ThreadTuner(args.threads) if device.type == "cpu" else None
    use_bf16 = bool(args.bf16) and device.type == "cpu"
    t_start = time.time()
    logf = open(log_path, "a")
    model.train()
    window = []
    print(f"training {args.model} {config} on {device}, step {step}", flush=True)
    while not stop["now"]:
        if args.steps and step >= args.steps:
            break
        if args.minutes and time.time() - t_start > args.minutes * 60:
            break
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(args, step)
        q = int(state_rng.integers(model.qualities))
        x = to_tensor(crops.batch(args.batch), device)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = model(x, q)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = nets.bits(out["likelihoods"]) / npix
        dist = distortion(model, x, out["x_hat"])
        loss = model.lambdas[q] * dist + bpp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        opt.step()
        aux = model.aux_loss(q)
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
        step += 1
        dt = time.time() - t0
        if tuner:
            tuner.record(dt)
        mse = float(torch.mean((x - out["x_hat"].detach().clamp(0, 1)) ** 2))
        window.append((float(loss), float(bpp), psnr(mse), dt))
        if step % 50 == 0:
            w = np.array(window)
            rec = {"step": step, "loss": float(w[:, 0].mean()), "bpp": float(w[:, 1].mean()),
                   "psnr": float(w[:, 2].mean()), "s_per_step": float(np.median(w[:, 3])),
                   "threads": tuner.current if tuner else 0, "lr": lr_at(args, step),
                   "aux": float(aux)}
            window = []
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in rec.items()), flush=True)
        if step % args.save_every == 0:
            save()
        if step % args.eval_every == 0:
            ev = evaluate(model, val, device, [0, model.qualities // 2, model.qualities - 1])
            logf.write(json.dumps({"step": step, "eval": ev}) + "\n")
            logf.flush()
            print("eval", json.dumps(ev), flush=True)
    save(final=True)
    print(f"saved {ckpt_path} and {compact_path} at step {step}", flush=True)


if __name__ == "__main__":
    main()
