#!/usr/bin/python3
"""Widen a checkpoint's latent (M) and/or its synthesis (g_s's hidden width)
without changing what it computes, so that training can go on from it;
--qualities adds qualities above the top one.

    python3 models/grow.py --m 320 --n-s 192 [--init split] [--qualities 10]
                           OUT.pt [--ckpt models/checkpoints/hyperprior.pt]

Every old weight is kept.  Two ways to start the new channels:
- zero (default): a fresh initialization where a new channel is produced
  (new rows of g_a's last layer, of g_s's hidden layers, new GDN rows) and
  zeros where an old channel reads it, so the old outputs are unchanged;
  new latent channels get the mean of the old gains, a zero mean and the
  mean scale row in h_s.  Their readers start at zero and learn slowly.
- split: each new channel is a copy of an old one (those its readers
  weigh most), and every reader of the pair takes 3/4 of the old weight
  from the original and 1/4 from the copy (GDN's gamma splits the same
  way), so the sum is unchanged and the two can drift apart.  A copied
  latent channel is coded twice: only for a distortion-first start.
- fresh: every tensor whose shape changes (the layer that makes y, the
  layers that read it, the gains, the ends of the hyper networks) takes
  the new network's initialization; what keeps its shape (the hidden
  layers of g_a, g_s and the hyper networks, z's prior) is copied.  The
  latent is learned anew, from trained features; the output changes.
New qualities continue the metric's ladder of lambdas at its ratio
(nets.extended_ladder); their gains continue the top two qualities' step
(in log) and z's prior starts as the top quality's.
The result has no optimizer state (the trainer warms up over --rewarm
steps) and prints the largest difference between the old and the new
network's output on a random image, with and without quantization."""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import nets  # noqa: E402
from nic.layers import GDN  # noqa: E402
from nic.checkpoint import model_from, save_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Outputs of new latent channels that must start neutral: a zero mean in
# h_s; the scale branch's rows start at the mean of the old rows.
ZERO_NEW_ROWS = ("h_s_mean.4.weight", "h_s_mean.4.bias")
MEAN_NEW_ROWS = ("h_s_scale.l3.weight", "h_s_scale.l3.bias")


def widen(old, new, name):
    """old's values in new's leading block; the old rows' new columns zero
    (an old channel must not read a new one); new rows keep new's init,
    except the named cases above and the biases of new channels (zero)."""
    out = new.clone()
    if old.dim() == 0 or old.shape == new.shape:
        return old.clone()
    block = tuple(slice(0, d) for d in old.shape)
    out[block] = old
    rows = old.shape[0]
    if old.dim() >= 2 and new.shape[1] > old.shape[1]:
        out[:rows, old.shape[1]:] = 0
    if new.shape[0] > rows:
        if name in ZERO_NEW_ROWS or (old.dim() == 1 and name.endswith(".bias")):
            out[rows:] = 0
        elif name in MEAN_NEW_ROWS:
            out[rows:] = old.mean(dim=0, keepdim=True)
    return out


SPLIT = 0.75  # the original's share of a split reader weight


def split_cols(t, src, dst):
    col = t[:, src].clone()
    t[:, src] = SPLIT * col
    t[:, dst] = (1 - SPLIT) * col


def copy_rows(t, src, dst, group=1):
    for k in range(group):
        t[dst * group + k] = t[src * group + k]


def split_gdn(state, prefix, src, dst):
    """The copy's row of gamma and beta are the source's; every row's
    gamma on the source is split between the two (x_dst = x_src)."""
    ped = GDN.PEDESTAL
    g = state[prefix + ".gamma_p"].clamp(min=ped ** 0.5) ** 2 - ped
    g[dst] = g[src]
    split_cols(g, src, dst)
    state[prefix + ".gamma_p"] = torch.sqrt(g + ped)
    state[prefix + ".beta_p"][dst] = state[prefix + ".beta_p"][src]


def sources(reader, old, new):
    """The old channels whose readers' weights are largest, one per new
    channel."""
    norms = reader[:, :old].pow(2).sum(dim=[d for d in range(reader.dim()) if d != 1])
    return norms.argsort(descending=True)[:new - old].tolist()


def split_latent(state, old, new):
    srcs = sources(state["g_s.0.0.weight"], old, new)
    for dst, src in zip(range(old, new), srcs):
        for k in ("g_a.6.weight", "g_a.6.bias", "h_s_mean.4.weight", "h_s_mean.4.bias",
                  "h_s_scale.l3.weight", "h_s_scale.l3.bias"):
            copy_rows(state[k], src, dst)
        for k in ("gains.log_gain", "gains.log_inv_gain"):
            state[k][:, dst] = state[k][:, src]
        split_cols(state["g_s.0.0.weight"], src, dst)
        split_cols(state["h_a.0.weight"], src, dst)


def split_synthesis(state, old, new):
    """g_s's hidden layers: producer g_s.{0,2,4} (4 rows a channel before
    depth-to-space), inverse GDN g_s.{1,3,5}, reader g_s.{2,4,6}."""
    for layer in (0, 2, 4):
        reader = state[f"g_s.{layer + 2}.0.weight"]
        for dst, src in zip(range(old, new), sources(reader, old, new)):
            copy_rows(state[f"g_s.{layer}.0.weight"], src, dst, 4)
            copy_rows(state[f"g_s.{layer}.0.bias"], src, dst, 4)
            split_gdn(state, f"g_s.{layer + 1}", src, dst)
            split_cols(reader, src, dst)


def more_qualities(state, old_q, new_q):
    """state with new_q qualities: the new gains go on by the step between
    the top two (log), z's prior (quality-major rows) repeats the top one."""
    for k in ("gains.log_gain", "gains.log_inv_gain"):
        g = state[k]
        step = g[-1] - g[-2]
        state[k] = torch.cat([g] + [g[-1:] + j * step[None] for j in range(1, new_q - old_q + 1)])
    for k, v in list(state.items()):
        if k.startswith("entropy_bottleneck.") and not k.endswith(".target"):
            c = v.shape[0] // old_q
            state[k] = torch.cat([v] + [v[-c:]] * (new_q - old_q))


def grow(ck, m, n_s, init="zero", qualities=0, seed=3):
    cfg = ck["config"]
    if cfg["arch"] != "hyperprior":
        raise SystemExit("grow.py: only the hyperprior is grown")
    old = model_from(ck)
    m, n_s = m or old.m, n_s or old.n_s
    qualities = qualities or old.qualities
    if m < old.m or n_s < old.n_s or qualities < old.qualities:
        raise SystemExit(f"grow.py: {old.m}/{old.n_s}/{old.qualities} cannot shrink to "
                         f"{m}/{n_s}/{qualities}")
    torch.manual_seed(seed)
    lambdas = old.lambdas
    src = dict(ck["model"])
    if qualities > old.qualities:
        lambdas = old.lambdas + nets.extended_ladder(cfg["metric"], qualities)[old.qualities:]
        more_qualities(src, old.qualities, qualities)
    config = nets.make_config(cfg["arch"], cfg["n"], m, cfg["metric"], n_s, lambdas)
    model = nets.build(config)
    own = model.state_dict()
    state = {}
    for k, v in src.items():
        if init == "fresh":
            state[k] = v.clone() if own[k].shape == v.shape else own[k].clone()
        elif k.startswith("gains.") and own[k].shape != v.shape:
            w = own[k].clone()
            w[:, :v.shape[1]] = v
            w[:, v.shape[1]:] = v.mean(dim=1, keepdim=True)
            state[k] = w
        else:
            state[k] = widen(v, own[k], k)
    if init == "split":
        if m > old.m:
            split_latent(state, old.m, m)
        if n_s > old.n_s:
            split_synthesis(state, old.n_s, n_s)
    model.load_state_dict(state)
    return old, model.eval(), config


@torch.no_grad()
def check(old, model, size=128, seed=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, size, size, generator=g)
    q = old.qualities - 1
    d_ceil = float((old.ceiling(x, q) - model.ceiling(x, q)).abs().max())
    d_coded = float((old(x, q)["x_hat"] - model(x, q)["x_hat"]).abs().max())
    return d_ceil, d_coded


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--ckpt", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"))
    p.add_argument("--m", type=int, default=0, help="new latent width (0: unchanged)")
    p.add_argument("--n-s", type=int, default=0, help="new hidden width of g_s (0: unchanged)")
    p.add_argument("--qualities", type=int, default=0,
                   help="number of qualities, more than the checkpoint's (0: unchanged)")
    p.add_argument("--init", default="zero", choices=["zero", "split", "fresh"],
                   help="how the new channels start (see above)")
    args = p.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt, map_location="cpu")
    old, model, config = grow(ck, args.m, args.n_s, args.init, args.qualities)
    d_ceil, d_coded = check(old, model)
    out = {k: v for k, v in ck.items() if k not in ("opt", "aux_opt", "opt_named", "hyperfit")}
    out.update(config=config, model=model.state_dict(),
               grown_from={"config": ck["config"], "step": int(ck["step"])})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_atomic(out, args.out)
    print(f"{args.out}: {ck['config']} -> {config} at step {ck['step']}; largest output"
          f" change {d_ceil:.2e} unquantized, {d_coded:.2e} coded")


if __name__ == "__main__":
    main()
