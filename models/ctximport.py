#!/usr/bin/python3
"""A training checkpoint from a shipped context model file, so that a fresh
checkout can go on training the model it ships (models/ckpt/ is not
committed).

    python3 models/ctximport.py models/context.gguf --out models/ckpt/context-file.pt
    python3 models/ctxtune.py --init models/ckpt/context-file.pt ...

The file holds the transforms (g_a, g_s in F16, GDN, the gains), h_a, and
the context networks as integers; z's prior is there only as CDF tables and
h_s is not there at all, so both come from --hyperprior (the committed
hyperprior, which the shipped context models started from).

An integer layer of the file gives back a fake-quantized layer of
nic/intlayers.py exactly up to one free step per activation: the file
holds W = round(w * step_in / a) (int8, one accumulator step a per output
channel, with max |W| = 127 in every channel) and the requantization
a / step_out, not a and step_out apart.  Each free activation step is
chosen so that the float weights of the layer before it have the RMS of
their initialization, 1 / sqrt(fan_in); the integers every layer computes,
and so what the model codes, are the file's either way.  The output is a
ctxtune.py checkpoint (a derived start), checked by quantizing it again:
the same int8 weights and biases, requantizations within float32's
precision."""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nic import ctxfile, ctxint, gguf  # noqa: E402
from nic.checkpoint import compact, load, model_from, save_atomic, total_steps  # noqa: E402
from nic.context import Y_STEP, ContextModel  # noqa: E402
from nic.intlayers import ACT_QMAX  # noqa: E402
from nic.layers import GDN  # noqa: E402


def _ratio(rq):
    """a / step_out (or a * factor for a head) of a requantization, per
    output channel."""
    return np.asarray(rq["mult"], dtype=np.float64) / 2.0 ** int(rq["shift"])


def _float_weights(layer, steps_in, a):
    """W * a / step_in per part (a per output channel, steps_in one array
    of input steps per part): the float weights of the file's integers."""
    out = []
    for W, s in zip(layer["w"], steps_in):
        s = np.broadcast_to(np.asarray(s, dtype=np.float64), (W.shape[1],))
        out.append(W.astype(np.float64) * a[:, None, None, None] / s[None, :, None, None])
    return out


def _set_layer(conv, layer, steps_in, a, bias_rows=1):
    """IntConv weights and biases from the file's integers."""
    with torch.no_grad():
        for p, w in enumerate(_float_weights(layer, steps_in, a)):
            conv.weights[p].copy_(torch.from_numpy(w))
        bias = np.asarray(layer["bias"], dtype=np.float64).reshape(bias_rows, -1)
        conv.bias.copy_(torch.from_numpy(bias * a[None, :]))


def _free_step(layer, steps_in, ratio):
    """step_out for which the layer's float weights W * ratio * step_out /
    step_in have an RMS of 1 / sqrt(fan_in)."""
    u = np.concatenate([w.reshape(-1) for w in _float_weights(layer, steps_in, ratio)])
    fan_in = sum(W.shape[1] * W.shape[2] * W.shape[3] for W in layer["w"])
    return (1.0 / np.sqrt(fan_in)) / np.sqrt(np.mean(u * u))


def _set_act(act, step):
    act.running_max.fill_(step * ACT_QMAX)


def _set_hidden(conv, act, layer, steps_in):
    """A layer followed by a uint8 activation: returns the activation step."""
    r = _ratio(layer["rq"])
    s_out = _free_step(layer, steps_in, r)
    _set_layer(conv, layer, steps_in, r * s_out)
    _set_act(act, s_out)
    return s_out


def _set_head(conv, head, layer, steps_in):
    a = _ratio(layer["rq"]) / head.factor.double().numpy()
    _set_layer(conv, layer, steps_in, a)


def context_model(meta, ip, n, m):
    model = ContextModel(n, m, ip["groups"], ip["mixture"], int(meta["nic.context.hidden"]))
    h_steps = []
    for name in ("scale", "mean"):
        br, (l1, l2, l3) = getattr(model.hyper, name), ip["hyper"][name]
        s1 = _set_hidden(br.l1, br.a1, l1, [1.0])
        s2 = _set_hidden(br.l2, br.a2, l2, [s1])
        _set_head(br.l3, br.head, l3, [s2])
        h_steps.append(np.full(n, s2))
    prior = 0
    for net, g, layers in zip(model.nets, model.groups, ip["nets"]):
        steps = [np.concatenate(h_steps + [np.full(prior, Y_STEP)]), Y_STEP]
        l1 = layers["l1"]
        # one accumulator step for both passes: a = ratio_p * step_p
        r0, r1 = _ratio(l1["rq"][0]), _ratio(l1["rq"][1])
        s0 = _free_step(l1, steps, r0)
        a = r0 * s0
        _set_layer(net.l1, l1, steps, a, bias_rows=2)
        _set_act(net.act1[0], s0)
        _set_act(net.act1[1], float(np.median(a / r1)))
        for p, (second, third) in enumerate(layers["passes"]):
            s2 = _set_hidden(net.l2[p], net.act2[p], second, [float(net.act1[p].step())])
            _set_head(net.l3[p], net.head, third, [s2])
        prior += g
    return model.eval()


def hyperprior_model(meta, t, hp_ck):
    """The hyperprior of hp_ck with the file's transforms, gains and h_a."""
    hp = model_from(hp_ck)
    if (hp.n, hp.m) != (int(meta["nic.n"]), int(meta["nic.m"])):
        raise SystemExit(f"the hyperprior is {hp.n}/{hp.m}, the file {meta['nic.n']}/{meta['nic.m']}")
    f32 = lambda k: torch.from_numpy(np.array(t[k], dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        for prefix in ("g_a", "g_s", "h_a"):
            for i, layer in enumerate(getattr(hp, prefix)):
                name = f"{prefix}.{i}"
                if isinstance(layer, GDN):
                    layer.beta_p.copy_(torch.sqrt(f32(name + ".beta") + GDN.PEDESTAL))
                    layer.gamma_p.copy_(torch.sqrt(f32(name + ".gamma") + GDN.PEDESTAL))
                elif name + ".weight" in t:
                    c = layer if isinstance(layer, torch.nn.Conv2d) else layer[0]
                    c.weight.copy_(f32(name + ".weight"))
                    c.bias.copy_(f32(name + ".bias"))
        hp.gains.log_gain.copy_(torch.log(f32("gains.gain")))
        hp.gains.log_inv_gain.copy_(torch.log(f32("gains.inv_gain")))
    return hp


def _requants(layer):
    """A layer's requantizations: one per pass for a group's first layer."""
    rq = layer["rq"]
    return rq if isinstance(rq, list) else [rq]


def check(model, ip):
    """Quantizing the model again gives the file's integers."""
    again = ctxint.quantize(model)

    def same(x, y, what):
        for la, lb in zip(x, y):
            for wa, wb in zip(la["w"], lb["w"]):
                if not np.array_equal(wa, wb):
                    raise SystemExit(f"{what}: weights differ")
            if not np.array_equal(np.asarray(la["bias"]).reshape(-1),
                                  np.asarray(lb["bias"]).reshape(-1)):
                raise SystemExit(f"{what}: biases differ")
            for ra, rb in zip(_requants(la), _requants(lb)):
                if abs(np.log(_ratio(ra) / _ratio(rb))).max() > 1e-5:
                    raise SystemExit(f"{what}: requantization differs")
    for name in ("scale", "mean"):
        same(again["hyper"][name], ip["hyper"][name], f"hyper {name}")
    for k, (na, nb) in enumerate(zip(again["nets"], ip["nets"])):
        same([na["l1"]] + [l for p in na["passes"] for l in p],
             [nb["l1"]] + [l for p in nb["passes"] for l in p], f"group {k}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a context model file (context.gguf, context-msssim.gguf)")
    p.add_argument("--hyperprior", default=os.path.join(HERE, "checkpoints", "hyperprior.pt"),
                   help="where z's prior and the config come from")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    meta, t = gguf.read(args.model)
    if meta.get("nic.arch") != "context":
        raise SystemExit(f"{args.model} is not a context model")
    ip, _ = ctxfile.read(meta, t)
    hp_ck = load(args.hyperprior)
    if meta["nic.metric"] != hp_ck["config"]["metric"]:
        hp_ck = hp_ck | {"config": dict(hp_ck["config"], metric=meta["nic.metric"])}
    hp = hyperprior_model(meta, t, hp_ck)
    ctx = context_model(meta, ip, hp.n, hp.m)
    check(ctx, ip)
    hp_steps = total_steps(hp_ck)
    steps = int(meta["nic.training.steps"])
    # the file's steps after the hyperprior's count as earlier end-to-end
    # ones; ctxtune.py runs from here as a derived run (a fresh optimizer)
    save_atomic({"config": ctx.config(), "model": ctx.state_dict(), "steps": steps - hp_steps,
                 "ctxfit_steps": 0, "base_e2e_steps": steps - hp_steps, "e2e_steps": 0,
                 "hyperprior": compact(hp_ck) | {"model": hp.state_dict()},
                 "imported_from": {"file": os.path.basename(args.model),
                                   "hash": int(meta["nic.content_hash"]),
                                   "steps": steps - hp_steps,
                                   "data": meta.get("nic.training.data", "")}}, args.out)
    print(f"{args.out}: {meta['nic.model']} (hash {int(meta['nic.content_hash']):08x}, "
          f"{steps} steps) with z's prior and h_s of {args.hyperprior}")


if __name__ == "__main__":
    main()
