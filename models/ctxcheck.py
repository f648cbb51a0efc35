#!/usr/bin/python3
"""Self-checks of the context model's integer path (no training data).

    python3 models/ctxcheck.py [--seed 1] [--elements 2000]

1. Mixture CDFs (nic/mixcdf.py) of random integer parameters, extremes
   included: 0 = cdf[0] < cdf[1] < ... < cdf[nsym] = 65536 with nsym <=
   32768; the elementwise cdf_at agrees with the whole CDF; decoding a slot
   by bisection finds the symbol whose interval holds it; every value's
   symbol decodes back to it.
2. The passes (nic/ctxint.py) of a small random context model, for both
   priors: a decoder that reads the encoder's values back gets the same
   parameters; changing y where a pass has not yet decoded changes nothing
   that pass computes; the fake-quantized PyTorch model and the integer
   path agree on y_hat almost everywhere (they differ only where float
   rounding meets a tie).
Exits non-zero on the first failure."""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import ctxint, entropy, mixcdf  # noqa: E402
from nic.context import ContextModel  # noqa: E402


def fail(msg):
    raise SystemExit(f"ctxcheck: FAIL: {msg}")


def random_mixture(rng, k, e):
    means = rng.integers(-200, 200, size=(k, e))
    means[:, : e // 8] = rng.choice([-mixcdf.MEAN_MAX, mixcdf.MEAN_MAX], size=(k, e // 8))
    scales = rng.integers(0, entropy.SCALE_LEVELS, size=(k, e))
    logits = rng.integers(-40, 40, size=(k, e))
    logits[:, e // 8: e // 4] = rng.choice([-mixcdf.LOGIT_MAX, mixcdf.LOGIT_MAX],
                                           size=(k, e // 4 - e // 8))
    logits[:, e // 4: e // 4 + 8] = 5  # equal weights
    return means, scales, logits


def check_mixture(tabs, rng, e):
    for k in (1, 2, 3):
        mix = mixcdf.Mixture(tabs, *random_mixture(rng, k, e))
        for i in rng.choice(e, size=min(e, 40), replace=False):
            cdf = mix.full_cdf(i)
            if cdf[0] != 0 or cdf[-1] != mixcdf.TOTAL or np.any(np.diff(cdf) < 1):
                fail(f"K={k} element {i}: CDF not strictly increasing from 0 to 65536")
            if len(cdf) - 1 > mixcdf.TOTAL // 2:
                fail(f"K={k} element {i}: {len(cdf) - 1} symbols")
        t = (rng.random(e) * (mix.nsym + 1)).astype(np.int64)
        lo = mix.cdf_at(t)
        hi = mix.cdf_at(np.minimum(t + 1, mix.nsym))
        if np.any((t < mix.nsym) & (hi <= lo)):
            fail(f"K={k}: an empty interval")
        slot = rng.integers(0, mixcdf.TOTAL, size=e)
        s = mix.decode(slot)
        if np.any(mix.cdf_at(s) > slot) or np.any(mix.cdf_at(s + 1) <= slot):
            fail(f"K={k}: bisection found the wrong symbol")
        v = mix.slo + (rng.random(e) * (mix.nsym + 6)).astype(np.int64) - 3
        sym = mix.symbols(v)
        start = mix.cdf_at(sym)
        back = mix.decode(start + (mix.cdf_at(sym + 1) - start) // 2)
        if np.any(back != sym):
            fail(f"K={k}: a symbol does not decode back")
        if not np.all(np.isfinite(mix.bits(v))):
            fail(f"K={k}: infinite rate")
    print(f"mixture CDFs: K = 1, 2, 3, {e} random elements each: ok")


def small_model(k, rng):
    torch.manual_seed(int(rng.integers(1 << 30)))
    model = ContextModel(n=8, m=24, groups=(4, 4, 8, 8), mixture=k, hidden=16)
    model.train()
    for _ in range(3):  # sets the activation steps
        model(torch.randn(2, 24, 8, 12) * 4, torch.round(torch.randn(2, 8, 2, 3) * 3))
    return model.eval()


def check_passes(tabs, rng):
    for k in (1, 3):
        model = small_model(k, rng)
        ip = ctxint.quantize(model)
        y = (rng.standard_normal((24, 8, 12)) * 4).astype(np.float32)
        z = np.round(rng.standard_normal((8, 2, 3)) * 3).astype(np.int64)
        enc = ctxint.run(ip, z, ctxint.values_source(y, model.groups))
        vals = iter([g[0] for g in enc])
        stored = {}

        def reader(gk, sel, means, scales, logits):
            if gk not in stored:
                stored[gk] = next(vals)
            return stored[gk][:, sel]
        dec = ctxint.run(ip, z, reader)
        for a, b in zip(enc, dec):
            for s, t in zip(a, b):
                if s is not None and not np.array_equal(s, t):
                    fail(f"K={k}: the decoder's parameters differ from the encoder's")
        mask = ctxint.anchors(8, 12)
        starts = np.cumsum([0] + list(model.groups))
        for gk in range(len(model.groups)):
            for p, sel in ((0, mask), (1, ~mask)):
                # everything decoded after this pass moves; its parameters must not
                y2 = y.copy()
                y2[starts[gk + 1]:] += 3.0
                y2[starts[gk]:starts[gk + 1]][:, ~mask] += 3.0
                if p == 0:
                    y2[starts[gk]:starts[gk + 1]][:, mask] += 3.0
                other = ctxint.run(ip, z, ctxint.values_source(y2, model.groups))
                for s, t in zip(enc[gk][1:], other[gk][1:]):
                    if s is not None and not np.array_equal(s[..., sel], t[..., sel]):
                        fail(f"K={k}: group {gk} pass {p} reads values decoded after it")
            # and the non-anchor pass does read its group's anchors
            y2 = y.copy()
            y2[starts[gk]:starts[gk + 1]][:, mask] += 3.0
            other = ctxint.run(ip, z, ctxint.values_source(y2, model.groups))
            if np.array_equal(enc[gk][1][..., ~mask], other[gk][1][..., ~mask]):
                fail(f"K={k}: group {gk}'s non-anchor means ignore the anchors")
        with torch.no_grad():
            _, y_hat = model.double()(torch.from_numpy(y[None]).double(),
                                      torch.from_numpy(z[None]).double())
        ref = np.concatenate([v * mixcdf.MEAN_ONE + ctxint.center(m, lg)
                              for v, m, _, lg in enc])
        same = float(np.mean(np.round(y_hat[0].numpy() * mixcdf.MEAN_ONE) == ref))
        if same < 0.98:
            fail(f"K={k}: PyTorch and the integer path agree on only {same:.3f} of y_hat")
        print(f"passes, K={k}: decoder = encoder, causal, y_hat agreement {same:.4f}: ok")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--elements", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.Generator(np.random.PCG64(args.seed))
    tabs = mixcdf.Tables()
    check_mixture(tabs, rng, args.elements)
    check_passes(tabs, rng)
    print("ctxcheck: all ok")


if __name__ == "__main__":
    main()
