"""The context model's tensors in a nic model file (docs/model-format.md,
"Context model"), both ways: from the integer parameters of
nic/ctxint.quantize() to named tensors for export, and from a file's
tensors back to the same parameters, for the checks that run the integer
reference on exactly what the C codec loads."""
import numpy as np

from . import mixcdf

ACT = (0, 255)  # every activation's clamp (not stored)


def _requant(prefix, rq, bounds):
    out = [(prefix + ".mult", np.asarray(rq["mult"], dtype=np.int32)),
           (prefix + ".add", np.asarray(rq["add"], dtype=np.int64)),
           (prefix + ".shift", np.array([rq["shift"]], dtype=np.int32))]
    if bounds:
        out += [(prefix + ".lo", np.asarray(rq["lo"], dtype=np.int32)),
                (prefix + ".hi", np.asarray(rq["hi"], dtype=np.int32))]
    return out


def _check(name, arr, lo, hi):
    a = np.asarray(arr)
    if a.size and (a.min() < lo or a.max() > hi):
        raise OverflowError(f"{name} out of [{lo}, {hi}]")


def _layer(prefix, layer, bounds=False):
    """A one-part layer with one bias row: weight, bias and its requantization."""
    _check(prefix + ".bias", layer["bias"], -(2 ** 31) + 1, 2 ** 31 - 1)
    return ([(prefix + ".weight", layer["w"][0].astype(np.int8)),
             (prefix + ".bias", layer["bias"][0].astype(np.int32))]
            + _requant(prefix, layer["rq"], bounds))


def tensors(ip, tabs):
    """Named tensors of the integer parameters `ip` (ctxint.quantize) and,
    for a mixture, of the component tables and weights of `tabs`
    (mixcdf.Tables)."""
    out = []
    for name in ("scale", "mean"):
        l1, l2, l3 = ip["hyper"][name]
        out += _layer(f"ctx.hyper.{name}.l1", l1)
        out += _layer(f"ctx.hyper.{name}.l2", l2)
        out += _layer(f"ctx.hyper.{name}.l3", l3, bounds=True)
    for k, net in enumerate(ip["nets"]):
        l1 = net["l1"]
        _check(f"ctx.g{k}.l1.bias", l1["bias"], -(2 ** 31) + 1, 2 ** 31 - 1)
        out += [(f"ctx.g{k}.l1.weight", l1["w"][0].astype(np.int8)),
                (f"ctx.g{k}.l1.anchor_weight", l1["w"][1].astype(np.int8)),
                (f"ctx.g{k}.l1.bias", l1["bias"].astype(np.int32)),
                (f"ctx.g{k}.l1.mult", np.stack([r["mult"] for r in l1["rq"]]).astype(np.int32)),
                (f"ctx.g{k}.l1.add", np.stack([r["add"] for r in l1["rq"]]).astype(np.int64)),
                (f"ctx.g{k}.l1.shift", np.array([r["shift"] for r in l1["rq"]], dtype=np.int32))]
        for p, (second, third) in enumerate(net["passes"]):
            out += _layer(f"ctx.g{k}.p{p}.l2", second)
            out += _layer(f"ctx.g{k}.p{p}.l3", third, bounds=True)
    if ip["mixture"] > 1:
        out += [("ctx.mix.cdf", tabs.comp.astype(np.int32)),
                ("ctx.mix.cdf_index", tabs.comp_index.astype(np.int32)),
                ("ctx.mix.weights", tabs.weights.astype(np.int32))]
    return out


def metadata(ip, hidden, gguf):
    return [("nic.context.components", gguf.T_UINT32, int(ip["mixture"])),
            ("nic.context.groups", (gguf.T_ARRAY, gguf.T_UINT32), [int(g) for g in ip["groups"]]),
            ("nic.context.hidden", gguf.T_UINT32, int(hidden))]


def _read_layer(t, prefix, bounds=False, bias_rows=False):
    i64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    bias = i64(t[prefix + ".bias"])
    rq = {"mult": i64(t[prefix + ".mult"]), "add": i64(t[prefix + ".add"]),
          "shift": int(t[prefix + ".shift"][0])}
    if bounds:
        rq["lo"], rq["hi"] = i64(t[prefix + ".lo"]), i64(t[prefix + ".hi"])
    else:
        rq["lo"] = np.full(bias.shape[-1], ACT[0], dtype=np.int64)
        rq["hi"] = np.full(bias.shape[-1], ACT[1], dtype=np.int64)
    return {"w": [np.asarray(t[prefix + ".weight"])], "bias": bias[None] if not bias_rows else bias,
            "rq": rq}


def read(meta, t):
    """(ip, tabs): the integer parameters as ctxint.run() takes them and the
    tables (mixcdf.Tables' fields) as the file holds them."""
    k = int(meta["nic.context.components"])
    groups = [int(g) for g in meta["nic.context.groups"]]
    ip = {"mixture": k, "groups": groups, "hyper": {}, "nets": []}
    for name in ("scale", "mean"):
        ip["hyper"][name] = [_read_layer(t, f"ctx.hyper.{name}.l1"),
                             _read_layer(t, f"ctx.hyper.{name}.l2"),
                             _read_layer(t, f"ctx.hyper.{name}.l3", bounds=True)]
    for gi, g in enumerate(groups):
        p = f"ctx.g{gi}.l1"
        hidden = t[p + ".bias"].shape[1]
        rqs = [{"mult": np.asarray(t[p + ".mult"][r], dtype=np.int64),
                "add": np.asarray(t[p + ".add"][r], dtype=np.int64),
                "shift": int(t[p + ".shift"][r]),
                "lo": np.full(hidden, ACT[0], dtype=np.int64),
                "hi": np.full(hidden, ACT[1], dtype=np.int64)} for r in range(2)]
        l1 = {"w": [np.asarray(t[p + ".weight"]), np.asarray(t[p + ".anchor_weight"])],
              "bias": np.asarray(t[p + ".bias"], dtype=np.int64), "rq": rqs}
        passes = [(_read_layer(t, f"ctx.g{gi}.p{q}.l2"),
                   _read_layer(t, f"ctx.g{gi}.p{q}.l3", bounds=True)) for q in range(2)]
        ip["nets"].append({"g": g, "l1": l1, "passes": passes})

    tabs = mixcdf.Tables.__new__(mixcdf.Tables)
    cdf = np.asarray(t["entropy_y.cdf"], dtype=np.int64)
    tabs.gauss = [(int(off), cdf[s:s + n + 1]) for s, n, off in t["entropy_y.cdf_index"]]
    if k > 1:
        tabs.comp = np.asarray(t["ctx.mix.cdf"], dtype=np.int64)
        tabs.comp_index = np.asarray(t["ctx.mix.cdf_index"], dtype=np.int64)
        tabs.weights = np.asarray(t["ctx.mix.weights"], dtype=np.int64)
    return ip, tabs
