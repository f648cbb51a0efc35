#!/usr/bin/python3
"""Hostile context model files: the loader must refuse each one.

    /usr/bin/python3 tools/hostile-models.py NICTOOL MODEL.gguf WORKDIR

MODEL is a context model (either prior). Every variant is a well-formed
GGUF file with a correct content hash, changed in one way the loader has
to catch (docs/model-format.md, "Context model"): accumulators that can
leave int32, requantizations that can leave int64, clamp bounds outside
the parameter ranges, groups that do not split M, shapes that do not
match the metadata, and (for a mixture) broken component tables. `nictool
load` must fail on each, and load the unchanged file written the same
way. Exits non-zero otherwise."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "models"))
from nic import gguf  # noqa: E402

TYPES = {"general.alignment": gguf.T_UINT32, "nic.training.steps": gguf.T_UINT64,
         "nic.lambdas": (gguf.T_ARRAY, gguf.T_FLOAT32),
         "nic.context.groups": (gguf.T_ARRAY, gguf.T_UINT32)}


def typed(meta):
    out = []
    for k, v in meta.items():
        if k == "nic.content_hash":
            continue
        t = TYPES.get(k, gguf.T_STRING if isinstance(v, str) else gguf.T_UINT32)
        out.append((k, t, v))
    return out


def set_meta(key, value):
    def change(meta, t):
        meta[key] = value
    return change


def set_at(name, index, value, dtype=None):
    def change(meta, t):
        a = np.array(t[name], dtype=dtype or t[name].dtype)
        a[index] = value
        t[name] = a
    return change


def variants(meta, t):
    v = [("unchanged", None)]
    big = 2 ** 31 - 1000
    v += [("l1 bias near 2^31", set_at("ctx.g0.l1.bias", (1, 0), big)),
          ("hyper l3 bias near 2^31", set_at("ctx.hyper.mean.l3.bias", 3, big)),
          ("l2 bias near -2^31", set_at("ctx.g2.p1.l2.bias", 5, -big)),
          ("shift 0", set_at("ctx.g1.p0.l3.shift", 0, 0)),
          ("shift 41", set_at("ctx.g0.l1.shift", 1, 41)),
          ("mult -2^31", set_at("ctx.hyper.scale.l1.mult", 0, -2 ** 31)),
          ("add 2^50 + 1", set_at("ctx.g3.p1.l2.add", 7, 2 ** 50 + 1)),
          ("scale index clamp past the tables",
           set_at("ctx.hyper.scale.l3.hi", 0, meta["nic.scale_levels"])),
          ("mean clamp past 32767", set_at("ctx.g0.p0.l3.lo", 0, -40000)),
          ("lo > hi, both in range", lambda meta, t: (
              set_at("ctx.g0.p1.l3.lo", 0, 40)(meta, t), set_at("ctx.g0.p1.l3.hi", 0, 30)(meta, t))),
          ("groups do not sum to M", set_meta("nic.context.groups",
                                              list(meta["nic.context.groups"][:-1]) + [1])),
          ("5 components", set_meta("nic.context.components", 5)),
          ("hidden 64 against tensors of 128", set_meta("nic.context.hidden",
                                                        meta["nic.context.hidden"] // 2)),
          ("a missing tensor", lambda meta, t: t.pop("ctx.g0.p1.l2.weight")),
          ("I32 weights", lambda meta, t: t.__setitem__(
              "ctx.g1.l1.anchor_weight", np.asarray(t["ctx.g1.l1.anchor_weight"], np.int32)))]
    if meta["nic.context.components"] > 1:
        start, n, _ = (int(x) for x in t["ctx.mix.cdf_index"][100])
        v += [("a decreasing component table",
               set_at("ctx.mix.cdf", start + n // 2, int(t["ctx.mix.cdf"][start + n // 2 - 1]) - 1)),
              ("G[0] != 0", set_at("ctx.mix.cdf", start, 1)),
              ("a component table of n = 0", set_at("ctx.mix.cdf_index", (100, 1), 0)),
              ("a component table past the end",
               set_at("ctx.mix.cdf_index", (100, 0), len(t["ctx.mix.cdf"]) - 2)),
              ("T[0] = 0", set_at("ctx.mix.weights", 0, 0)),
              ("T[7] > 2^15", set_at("ctx.mix.weights", 7, 2 ** 15 + 1))]
    return v


def main():
    nictool, model, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    meta, tensors = gguf.read(model)
    if meta.get("nic.arch") != "context":
        raise SystemExit(f"{model} is not a context model")
    fails = 0
    path = os.path.join(work, "variant.gguf")
    for name, change in variants(meta, tensors):
        m, t = dict(meta), dict(tensors)
        if change:
            change(m, t)
        gguf.write(path, typed(m), list(t.items()))
        loads = subprocess.run([nictool, "load", path, "1"], capture_output=True).returncode == 0
        good = loads == (change is None)
        fails += not good
        print(f"  {'ok  ' if good else 'FAIL'}  {name}: {'loads' if loads else 'refused'}")
    os.remove(path)
    print(f"hostile context models: {fails} failures")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
