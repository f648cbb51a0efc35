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
import os
import signal
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import data, nets, optim, photos, prefit  # noqa: E402
from nic.checkpoint import candidates, compact, load, load_newest, save_atomic  # noqa: E402
from nic.metrics import ms_ssim, psnr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {
    "factorized": {"arch": "factorized", "metric": "mse", "init_from": "hyperprior"},
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
    p.add_argument("--n-s", type=int, default=0,
                   help="hidden width of g_s (0: N); a wider one starts from a checkpoint"
                        " that grow.py widened")
    p.add_argument("--qualities", type=int, default=0,
                   help="number of qualities: the metric's ladder of lambdas continued "
                        "upward (nets.extended_ladder); 0: the ladder itself")
    p.add_argument("--objective", default="rd", choices=["rd", "ceiling"],
                   help="rd: lambda * distortion + rate; ceiling: the distortion of"
                        " g_s(g_a(x)) with no quantization and no rate term (trains g_a, g_s"
                        " and the gains only: what the transforms can reach, or a"
                        " distortion-first start)")
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "train"))
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "ckpt"))
    p.add_argument("--compact-dir", default=os.path.join(HERE, "checkpoints"),
                   help="committed compact checkpoints, to continue in a fresh checkout")
    p.add_argument("--log-dir", default=os.path.join(HERE, "runs"))
    p.add_argument("--cache", default=os.path.join(HERE, "cache", "train-x2.npz"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--freeze-old", action="store_true",
                   help="from a checkpoint that grow.py widened: train only what it added"
                        " (every entry of the old network gets no gradient); measures what"
                        " the new channels alone can add")
    p.add_argument("--min-side", type=int, default=0,
                   help="crop only from images at least this large on both sides (to"
                        " compare crop sizes on the same images)")
    p.add_argument("--photos", action="store_true",
                   help="also crop from the large photographs of nic/photos.py (most training"
                        " images are too small for crops of 256 and more)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 2e-4; 1e-4 for MS-SSIM)")
    p.add_argument("--warmup", type=int, default=1000,
                   help="linear warm-up steps of a fresh run; a run that starts without"
                        " Adam's moments (a committed checkpoint, a fine-tune) warms up"
                        " over --rewarm steps")
    p.add_argument("--rewarm", type=int, default=100)
    p.add_argument("--prefit-batches", type=int, default=16,
                   help="a derived model with a new entropy bottleneck fits it first to"
                        " the latents of this many batches (nic/prefit.py)")
    p.add_argument("--restart", action="store_true",
                   help="derived models: start again from the hyperprior even if a"
                        " checkpoint of this model exists")
    p.add_argument("--cooldown", type=int, default=0,
                   help="train this many steps at lr/10 from the current checkpoint into"
                        " ckpt/<model>-cooled.pt (which export prefers); the main"
                        " checkpoint is not changed")
    p.add_argument("--promote-cooled", action="store_true",
                   help="make ckpt/<model>-cooled.pt the main line: training goes on from"
                        " its weights, Adam's state and RNGs (its cooldown steps become"
                        " ordinary steps, a hyperfit record is dropped); the un-cooled"
                        " checkpoint is kept as ckpt/<model>-uncooled.pt.  Pair it with"
                        " --decay-at to keep the cooldown's learning rate")
    p.add_argument("--q-weights", default=None,
                   help="comma-separated sampling weights of the qualities (default: all"
                        " equal); e.g. more batches at the high qualities, where the"
                        " transforms limit the PSNR")
    p.add_argument("--decay-at", type=int, default=0,
                   help="step after which the learning rate drops 10x (0: never)")
    p.add_argument("--steps", type=int, default=0, help="stop at this total step (0: no limit)")
    p.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    p.add_argument("--threads", default="auto", help="1, 2, ... or auto (measured)")
    p.add_argument("--bf16", default="auto",
                   help="bf16 autocast of the big transform layers on CPU: 1, 0 or auto"
                        " (on where the CPU has native bf16: avx512_bf16 or amx_bf16)")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args()


class ThreadTuner:
    """With --threads auto, trains on 2 threads and every `probe_every` steps
    (or `probe_seconds`, whichever comes first: a slow count must not hold
    for long) times `probe_len` steps on the other count; it switches only
    when that one is clearly faster.  Two threads are several times slower
    than one while anything else runs on the machine (every op ends in a
    barrier that waits for the descheduled thread)."""

    def __init__(self, spec, probe_every=200, probe_len=10, margin=0.85, probe_seconds=120.0):
        self.auto = spec == "auto"
        self.current = 2 if self.auto else int(spec)
        self.probe_every, self.probe_len, self.margin = probe_every, probe_len, margin
        self.probe_seconds = probe_seconds
        self.main_times, self.probe_times = [], []
        self.probing = False
        self.step_in_cycle = 0
        torch.set_num_threads(self.current)

    def record(self, dt):
        if not self.auto:
            return
        self.step_in_cycle += 1
        if self.probing:
            self.probe_times.append(dt)
            if len(self.probe_times) == self.probe_len:
                # the first probe steps pay for the switch; judge the rest
                probe = float(np.median(self.probe_times[2:]))
                main = float(np.median(self.main_times[-50:]))
                self.probing = False
                if probe >= self.margin * main:  # not clearly faster: go back
                    self._set(3 - self.current)
                self.main_times, self.probe_times = [], []
                self.step_in_cycle = 0
            return
        self.main_times.append(dt)
        if self.step_in_cycle >= self.probe_every or (
                len(self.main_times) >= self.probe_len
                and sum(self.main_times) >= self.probe_seconds):
            self.probing = True
            self._set(3 - self.current)

    def _set(self, n):
        self.current = n
        torch.set_num_threads(n)


def lr_at(args, step, warm_from=0, warm_len=0):
    lr = args.lr * min(1.0, (step + 1) / max(1, args.warmup))
    if warm_len:
        lr *= min(1.0, (step - warm_from + 1) / warm_len)
    if args.decay_at and step >= args.decay_at:
        lr *= 0.1
    return lr


def native_bf16():
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


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


def param_groups(model):
    """Transforms at lr; the entropy models' densities at 10x lr: each
    quality's density sees only the batches of its quality, 1/8 of them.
    The quantiles have their own optimizer (the auxiliary loss)."""
    dens, rest = [], []
    for n, p in model.named_parameters():
        if n.endswith("quantiles"):
            continue
        is_density = n.startswith("entropy_bottleneck.")
        (dens if is_density else rest).append(p)
    return [{"params": rest, "lr_scale": 1.0}, {"params": dens, "lr_scale": 10.0}]


def optimizer_state(opt, model):
    """Adam's state keyed by parameter name (independent of group layout)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: st for p, st in opt.state.items()}


def load_optimizer_state(opt, model, named):
    """Loads the states of `named` whose parameter `opt` optimizes."""
    own = {id(p) for g in opt.param_groups for p in g["params"]}
    params = {n: p for n, p in model.named_parameters() if id(p) in own}
    for n, st in named.items():
        if n in params and all(not torch.is_tensor(v) or v.dim() == 0 or
                               v.shape == params[n].shape for v in st.values()):
            opt.state[params[n]] = {k: (v.float() if torch.is_tensor(v) and v.dim() else v)
                                    for k, v in st.items()}


def legacy_optimizer_state(ck, model):
    """Checkpoints written before the state was keyed by name: one group
    over the non-quantile parameters in named_parameters order."""
    main = [n for n, _ in model.named_parameters() if not n.endswith("quantiles")]
    aux = [n for n, _ in model.named_parameters() if n.endswith("quantiles")]
    out = {}
    for key, names in (("opt", main), ("aux_opt", aux)):
        if key in ck:
            st = ck[key]["state"]
            out.update({names[i]: v for i, v in st.items() if i < len(names)})
    return out


def restore(ck, model, opt, aux_opt, crops, state_rng):
    """Load a checkpoint's weights, Adam's state where it has one, and every
    RNG (data sampler, quality draw, torch).  Returns whether Adam's state
    was there (a compact checkpoint has none)."""
    model.load_state_dict(ck["model"])
    named = ck.get("opt_named")
    if named is None and "opt" in ck:
        named = legacy_optimizer_state(ck, model)
    if named:
        load_optimizer_state(opt, model, named)
        load_optimizer_state(aux_opt, model, named)
    crops.rng.bit_generator.state = ck["data_rng"]
    state_rng.bit_generator.state = ck["q_rng"]
    torch.set_rng_state(ck["torch_rng"])
    return bool(named)


def resume_cooldown(path, base_step, cooldown, model, opt, aux_opt, crops, state_rng, device):
    """A cooldown is resumable too: when `path` holds an unfinished cooldown
    of the same base step (weights, Adam's state and the RNGs, not yet
    changed by hyperfit.py), continue it.  Returns the step to go on from."""
    if not os.path.exists(path):
        return base_step
    ck = load(path, device)
    done = ck.get("cooldown_steps", 0)
    if (ck["step"] != base_step or "hyperfit" in ck or not ck.get("opt_named")
            or not 0 < done < cooldown):
        return base_step
    restore(ck, model, opt, aux_opt, crops, state_rng)
    print(f"resumed the cooldown in {path} after {done} of its steps", flush=True)
    return base_step + done


def promote_cooled(ckpt_path, cooled_path):
    """--promote-cooled: the cooled checkpoint becomes ckpt_path, counted
    as one line of ordinary steps; the old ckpt_path is kept aside."""
    if not os.path.exists(cooled_path):
        raise SystemExit(f"--promote-cooled: no {cooled_path} (already promoted?)")
    ck = load(cooled_path)
    if not ck.get("opt_named"):
        raise SystemExit(f"{cooled_path}: no optimizer state to continue from")
    ck["step"] = int(ck["step"]) + int(ck.pop("cooldown_steps", 0))
    ck.pop("hyperfit", None)
    if os.path.exists(ckpt_path):
        os.replace(ckpt_path, ckpt_path[:-3] + "-uncooled.pt")
    save_atomic(ck, ckpt_path)
    os.remove(cooled_path)
    print(f"promoted {cooled_path} to {ckpt_path} at step {ck['step']}", flush=True)


def freeze_old(model, old_config):
    """Only the entries grow.py added learn: those inside the old network's
    leading block of each tensor get a zero gradient (whole tensors that
    did not grow, none at all).  The quantiles' auxiliary loss is left as
    it is."""
    old = nets.build(old_config).state_dict()
    for name, p in model.named_parameters():
        if name.endswith("quantiles") or name not in old:
            continue
        if old[name].shape == p.shape:
            p.requires_grad_(False)
            continue
        mask = torch.ones_like(p)
        mask[tuple(slice(0, d) for d in old[name].shape)] = 0
        p.register_hook(lambda g, mask=mask: g * mask)


def quality_sampler(weights, qualities, rng):
    """Draws the quality of each batch: uniform, or by --q-weights."""
    if not weights:
        return lambda: int(rng.integers(qualities))
    w = np.array([float(v) for v in weights.split(",")])
    if len(w) != qualities or (w < 0).any() or w.sum() <= 0:
        raise SystemExit(f"--q-weights needs {qualities} non-negative weights")
    p = w / w.sum()
    return lambda: int(rng.choice(qualities, p=p))


def main():
    args = parse_args()
    variant = VARIANTS[args.model]
    if args.lr is None:
        args.lr = 1e-4 if variant["metric"] == "ms-ssim" else 2e-4
    os.makedirs(args.ckpt_dir, exist_ok=True)
    os.makedirs(args.log_dir, exist_ok=True)
    ckpt_path = os.path.join(args.ckpt_dir, args.model + ".pt")
    cooled_path = os.path.join(args.ckpt_dir, args.model + "-cooled.pt")
    compact_path = os.path.join(args.compact_dir, args.model + ".pt")
    log_path = os.path.join(args.log_dir, args.model + ".jsonl")
    device = torch.device(args.device)
    derived = variant.get("init_from")

    if not os.path.exists(args.cache):
        data.build_cache(args.data, args.cache)
    crops = data.Crops(args.cache, args.crop)
    if args.photos:
        pics, _ = photos.load(os.path.join(os.path.dirname(args.cache), "photos.npz"))
        crops.train += [a for a in pics if min(a.shape[:2]) >= args.crop]
    if args.min_side:
        crops.train = [a for a in crops.train if min(a.shape[:2]) >= args.min_side]
    side = max(args.crop, args.min_side)
    print(f"data: {len(crops.train)} images of {side}x{side} or more", flush=True)
    val = crops.val_crops()

    lambdas = nets.extended_ladder(variant["metric"], args.qualities) if args.qualities else None
    config = nets.make_config(variant["arch"], args.n, args.m, variant["metric"], args.n_s,
                              lambdas)
    model = nets.build(config).to(device)
    groups = param_groups(model)
    main_params = [p for g in groups for p in g["params"]]
    aux_params = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    opt = torch.optim.Adam(groups, lr=args.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-2)
    step = 0
    init_steps = 0  # steps of the model this one was started from
    init_from = None
    grown_from = None  # the config of the checkpoint grow.py widened
    warm_from, warm_len = 0, 0
    state_rng = np.random.Generator(np.random.PCG64(777))

    if args.promote_cooled:
        promote_cooled(ckpt_path, cooled_path)
    # The local checkpoint or the committed one, whichever is further on.
    # Derived models are fine-tunes of the hyperprior: they resume only their
    # own local checkpoint, and start again from the hyperprior otherwise.
    paths = [ckpt_path] if derived else [ckpt_path, compact_path]
    path, ck = (None, None) if (derived and args.restart) else load_newest(paths, device)
    if ck is not None:
        if ck["config"] != config:
            raise SystemExit(f"{path}: checkpoint is {ck['config']}, asked for {config}")
        named = restore(ck, model, opt, aux_opt, crops, state_rng)
        step = ck["step"]
        init_steps = ck.get("init_steps", 0)
        init_from = ck.get("init_from")
        grown_from = ck.get("grown_from")
        if not named:
            warm_from, warm_len = step, args.rewarm
        print(f"resumed {path} at step {step}"
              + ("" if named else f" (no optimizer state: {args.rewarm}-step warm-up)"))
    elif derived:
        src_name = variant["init_from"]
        src_path, src = load_newest(candidates(src_name, args.ckpt_dir, args.compact_dir),
                                    device)
        if src is None:
            raise SystemExit(f"{args.model} starts from {src_name}: train it first")
        # Everything whose shape matches, the gains too: the MSE and the
        # MS-SSIM lambda ladders both span a ratio of about 1:100 over 8
        # steps, so quality q's trained gains are a better start for the
        # other metric's q than the initial formula.
        own = model.state_dict()
        state = {k: v for k, v in src["model"].items()
                 if k in own and own[k].shape == v.shape}
        model.load_state_dict(state, strict=False)
        if any(k.startswith("entropy_bottleneck.") and k not in state for k in own):
            # A new prior (factorized): fit it to the transform's latents first.
            y = prefit.collect_latents(model, (to_tensor(crops.batch(args.batch), device)
                                               for _ in range(args.prefit_batches)))
            rates = prefit.fit_bottleneck(model.entropy_bottleneck, model.gains, y,
                                          log=lambda s: print(s, flush=True))
            print("prefit, bits per element at q0..: rate of y "
                  + " ".join(f"{r:.3f}" for r, _ in rates)
                  + "; entropy of its symbols " + " ".join(f"{h:.3f}" for _, h in rates),
                  flush=True)
        init_steps = src["step"] + src.get("init_steps", 0) + src.get("cooldown_steps", 0)
        init_from = f"{src_name}@{init_steps}"
        torch.manual_seed(2)
        print(f"initialized {args.model} from {src_path} ({init_from}; {len(state)} of "
              f"{len(own)} tensors)")
    else:
        torch.manual_seed(1)

    if args.freeze_old:
        if not grown_from:
            raise SystemExit("--freeze-old: the checkpoint was not widened by grow.py")
        freeze_old(model, grown_from["config"])

    if derived:
        # A fine-tune warms up over its first --rewarm steps only, also when
        # it resumes its own checkpoint.
        args.warmup = 0
        if not warm_len:
            warm_from, warm_len = 0, args.rewarm

    cooldown = args.cooldown
    base_step = step
    if cooldown:
        out_path = cooled_path
        end_step = step + cooldown
        print(f"cooldown: {cooldown} steps at lr/10 into {cooled_path}")
        step = resume_cooldown(cooled_path, base_step, cooldown, model, opt, aux_opt, crops,
                               state_rng, device)
    else:
        out_path = ckpt_path
        end_step = args.steps

    def checkpoint():
        return {"config": config, "model": model.state_dict(),
                "opt_named": optimizer_state(opt, model) | optimizer_state(aux_opt, model),
                "step": base_step if cooldown else step,
                "cooldown_steps": step - base_step if cooldown else 0,
                "init_steps": init_steps, "init_from": init_from,
                "data_rng": crops.rng.bit_generator.state,
                "q_rng": state_rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "data_digest": crops.digest,
                "args": vars(args)} | ({"grown_from": grown_from} if grown_from else {})

    def save(final=False):
        ck = checkpoint()
        targets = [(out_path, ck)]
        if final and not derived and not cooldown:
            targets.append((compact_path, compact(ck)))
        for path, obj in targets:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            save_atomic(obj, path)
        return [p for p, _ in targets]

    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    draw_quality = quality_sampler(args.q_weights, model.qualities, state_rng)
    tuner = ThreadTuner(args.threads) if device.type == "cpu" else None
    use_bf16 = device.type == "cpu" and (native_bf16() if args.bf16 == "auto"
                                         else bool(int(args.bf16)))
    t_start = time.time()
    logf = open(log_path, "a")
    model.train()
    window = []
    print(f"training {args.model} {config} on {device}, step {step}, lr {args.lr:g}, "
          f"bf16 {use_bf16}", flush=True)

    def current_lr():
        lr = lr_at(args, step, warm_from, warm_len)
        return lr * 0.1 if cooldown else lr

    while not stop["now"]:
        if end_step and step >= end_step:
            break
        if args.minutes and time.time() - t_start > args.minutes * 60:
            break
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = current_lr() * g["lr_scale"]
        q = draw_quality()
        x = to_tensor(crops.batch(args.batch), device)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            if args.objective == "ceiling":
                out = {"x_hat": model.ceiling(x, q), "likelihoods": []}
            else:
                out = model(x, q)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = nets.bits(out["likelihoods"]) / npix if out["likelihoods"] else torch.zeros(())
        dist = distortion(model, x, out["x_hat"])
        loss = model.lambdas[q] * dist + bpp
        gnorm, aux = optim.update(model, q, loss, opt, aux_opt, main_params)
        step += 1
        dt = time.time() - t0
        if tuner:
            tuner.record(dt)
        mse = float(torch.mean((x - out["x_hat"].detach().clamp(0, 1)) ** 2))
        window.append((float(loss), float(bpp), psnr(mse), dt))
        if os.environ.get("NIC_TRAIN_DEBUG"):
            print(f"step {step} q {q} loss {float(loss):.4g} dist {float(dist):.4g} "
                  f"bpp {float(bpp):.4g} gnorm {float(gnorm):.4g} dt {dt:.3f}", flush=True)
        if step % 50 == 0:
            w = np.array(window)
            rec = {"step": step, "loss": float(w[:, 0].mean()), "bpp": float(w[:, 1].mean()),
                   "psnr": float(w[:, 2].mean()), "s_per_step": float(np.median(w[:, 3])),
                   "threads": tuner.current if tuner else 0, "lr": current_lr(),
                   "aux": float(aux)}
            if cooldown:
                rec["cooldown"] = True
            window = []
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in rec.items()), flush=True)
        if step % args.save_every == 0:
            save()
        if step % args.eval_every == 0 or (cooldown and step == end_step):
            ev = evaluate(model, val, device, [0, model.qualities // 2, model.qualities - 1])
            logf.write(json.dumps({"step": step, "eval": ev, "cooldown": bool(cooldown)}) + "\n")
            logf.flush()
            print("eval", json.dumps(ev), flush=True)
    written = save(final=True)
    print(f"saved {' and '.join(written)} at step {step}", flush=True)


if __name__ == "__main__":
    main()
