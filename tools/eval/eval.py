#!/usr/bin/python3
"""Rate-distortion evaluation of nic and classic image codecs on Kodak.

  tools/eval/eval.py --classic                 # JPEG, JPEG 2000, WebP, HEVC, AVIF, JPEG XL
  tools/eval/eval.py --nic factorized hyperprior hyperprior-msssim [--ffmpeg PATH]
  tools/eval/eval.py --nic hyperprior --nic-effort 0 1 2   # encoder effort levels
  tools/eval/eval.py --report                  # results/*.json -> plot, BD-rate, markdown

Every codec writes results/<key>.json in CompressAI's layout (one list entry
per quality point, each the mean over the images).  Per-image measurements
are cached in build/eval/cache.json keyed by codec settings and tool
versions, so reruns only code what changed.  Rates are the sizes of the
files the encoders write; distortion is measured on the decoded 8-bit RGB.
"""
import argparse
import glob
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(1, os.path.join(REPO, "models"))  # nic.gguf: the model files' reader

import numpy as np  # noqa: E402

import bdrate  # noqa: E402
import drivers as cdc  # noqa: E402
from metrics import ms_ssim_db, ms_ssim_rgb, psnr_rgb  # noqa: E402
from nic import gguf  # noqa: E402

DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "kodak"))
DEFAULT_BUILD = os.path.join(REPO, "build", "eval")
DEFAULT_OUT = os.path.join(REPO, "results")
DEFAULT_FFMPEG = os.environ.get("NIC_FFMPEG",
                                os.path.join(REPO, "build", "install", "bin", "ffmpeg"))
DEFAULT_SYS_FFMPEG = "/usr/bin/ffmpeg" if os.path.exists("/usr/bin/ffmpeg") else "ffmpeg"
# bump when metrics.py changes what it computes: cached records made with
# another version are measured again
METRICS_VERSION = 1
DEPS = ("libjpeg-turbo-progs libopenjp2-tools webp ffmpeg libavif-bin "
        "libjxl-tools")


def log(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------ cache

class Cache:
    def __init__(self, path):
        self.path = path
        self.data = {}
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)
        self.dirty = 0

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value
        self.dirty += 1
        if self.dirty >= 8:
            self.save()

    def save(self):
        if not self.dirty:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=0, sort_keys=True)
        os.replace(tmp, self.path)
        self.dirty = 0


# ------------------------------------------------------------------ running

def list_images(data_dir, only=None, limit=None):
    files = sorted(glob.glob(os.path.join(data_dir, "kodim*.png")))
    if not files:
        files = sorted(glob.glob(os.path.join(data_dir, "*.png")))
    if not files:
        raise SystemExit(f"no PNG images in {data_dir}")
    if only:
        want = {o if o.endswith(".png") else o + ".png" for o in only}
        files = [f for f in files if os.path.basename(f) in want]
    if limit:
        files = files[:limit]
    return files


def measure_one(codec, src, param, ref, tmpdir):
    """Encode/decode one image at one setting; returns the cache record."""
    h, w = ref.shape[:2]
    bs = os.path.join(tmpdir, "stream" + codec.ext)
    for f in os.listdir(tmpdir):
        os.unlink(os.path.join(tmpdir, f))
    enc_s = codec.encode(src, bs, param, tmpdir)
    nbytes = os.path.getsize(bs)
    extra = codec.check_bitstream(bs, param, w, h)
    dec_s, dec_path = codec.decode(bs, os.path.join(tmpdir, "decoded.png"), tmpdir)
    rec = cdc.load_rgb(dec_path)
    if rec.shape != ref.shape:
        raise cdc.CodecError(f"{codec.key} q={param}: decoded shape {rec.shape} "
                             f"!= source {ref.shape}")
    out = {"bytes": nbytes, "bpp": nbytes * 8.0 / (w * h),
           "psnr": psnr_rgb(ref, rec), "ms_ssim": ms_ssim_rgb(ref, rec),
           "enc_s": enc_s, "dec_s": dec_s, "w": w, "h": h,
           "mv": METRICS_VERSION}
    out.update(extra)
    return out


def run_codec(codec, images, cache, build_dir, force=False):
    """Returns a result dict (CompressAI layout) or raises CodecError."""
    fp = codec.fingerprint()
    desc = codec.description()
    per_point = []
    tmpdir = tempfile.mkdtemp(prefix=codec.key + "-", dir=os.path.join(build_dir, "tmp"))
    refs = {}
    t_start = time.time()
    n_new = 0
    extras = set()
    try:
        for param in codec.points:
            recs = []
            for src in images:
                name = os.path.basename(src)
                key = f"{codec.key}|{fp}|{param}|{name}"
                rec = None if force else cache.get(key)
                if rec is not None and rec.get("mv", 1) != METRICS_VERSION:
                    rec = None
                if rec is None:
                    if src not in refs:
                        refs[src] = cdc.load_rgb(src)
                    rec = measure_one(codec, src, param, refs[src], tmpdir)
                    cache.put(key, rec)
                    n_new += 1
                if "model_hash" in rec:
                    extras.add(rec["model_hash"])
                recs.append(rec)
            agg = {k: float(np.mean([r[k] for r in recs]))
                   for k in ("bpp", "psnr", "ms_ssim", "enc_s", "dec_s")}
            per_point.append(agg)
            log(f"  {codec.key:18s} {codec.param_name}={param!s:6s} "
                f"bpp={agg['bpp']:.4f} psnr={agg['psnr']:.3f} "
                f"ms-ssim={agg['ms_ssim']:.5f} ({float(ms_ssim_db(agg['ms_ssim'])):.2f} dB) "
                f"enc={agg['enc_s']:.3f}s dec={agg['dec_s']:.3f}s")
    finally:
        cache.save()
        for f in os.listdir(tmpdir):
            os.unlink(os.path.join(tmpdir, f))
        os.rmdir(tmpdir)
    if extras:
        desc += " model hash " + ",".join(sorted(extras))
    log(f"  {codec.key}: {n_new} new encodes, {time.time() - t_start:.1f}s")
    return {
        "name": codec.name,
        "description": desc,
        "kind": codec.kind,
        "dataset": "kodak",
        "images": len(images),
        "quality_param": codec.param_name,
        "quality": list(codec.points),
        "results": {
            "bpp": [p["bpp"] for p in per_point],
            "psnr-rgb": [p["psnr"] for p in per_point],
            "ms-ssim-rgb": [p["ms_ssim"] for p in per_point],
            "encoding_time": [p["enc_s"] for p in per_point],
            "decoding_time": [p["dec_s"] for p in per_point],
        },
    }


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def find_model_files(model):
    """Model weight files that may be what the ffmpeg build loads: the
    first found along NIC_MODEL_PATH where it is set (the codec reads only
    that), else the installed ones and models/; hashed into the nic cache
    key so that new weights invalidate old numbers."""
    env = os.environ.get("NIC_MODEL_PATH", "")
    if env:
        found = [os.path.join(d, model + ".gguf") for d in env.split(":") if d]
        return [f for f in found if os.path.isfile(f)][:1]
    dirs = [os.path.join(REPO, "build", "install", "share", "ffmpeg", "nic"),
            os.path.join(REPO, "models")]
    found = [os.path.join(d, model + ".gguf") for d in dirs]
    return sorted(set(f for f in found if os.path.isfile(f)))


def model_qualities(files, default=8):
    """nic.qualities of the first model file given (the curve runs every
    quality the model has), or `default` without one."""
    for f in files:
        if f.endswith(".gguf") and os.path.isfile(f):
            return int(gguf.read(f)[0]["nic.qualities"])
    return default


def cmd_run(args, codecs, strict_missing):
    images = list_images(args.data, args.images, args.limit)
    subset = len(images) != 24 or args.images or args.limit
    out_dir = args.out or (os.path.join(args.build, "partial") if subset else DEFAULT_OUT)
    if subset:
        log(f"note: {len(images)} images (not the full Kodak set): writing to {out_dir}")
    os.makedirs(os.path.join(args.build, "tmp"), exist_ok=True)
    cache = Cache(os.path.join(args.build, "cache.json"))
    failed, skipped = [], []
    t0 = time.time()
    for codec in codecs:
        ok, why = codec.available()
        if not ok:
            msg = f"{'FAIL' if strict_missing else 'SKIP'} {codec.name}: {why}"
            if codec.kind == "classic":
                msg += f" (Debian: apt-get install {DEPS})"
            log(msg)
            (failed if strict_missing else skipped).append(codec.key)
            continue
        log(f"{codec.name}: {codec.description()}")
        try:
            res = run_codec(codec, images, cache, args.build, force=args.force)
        except cdc.CodecError as e:
            log(f"FAIL {codec.name}: {e}")
            failed.append(codec.key)
            continue
        path = os.path.join(out_dir, codec.key + ".json")
        write_json(path, res)
        log(f"  wrote {os.path.relpath(path, REPO)}")
    log(f"done in {time.time() - t0:.1f}s; skipped: {skipped or 'none'}; "
        f"failed: {failed or 'none'}")
    return 1 if failed else 0


# ------------------------------------------------------------------ report

def load_results(out_dir):
    res = []
    for p in sorted(glob.glob(os.path.join(out_dir, "*.json"))):
        with open(p) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError:
                continue
        if not isinstance(d, dict) or "results" not in d:
            continue
        d["_key"] = os.path.splitext(os.path.basename(p))[0]
        d.setdefault("kind", "nic" if d["_key"].startswith("nic-") else "classic")
        res.append(d)
    return res


def curves(d, metric):
    r = d["results"]
    bpp = np.asarray(r["bpp"], dtype=np.float64)
    if metric == "psnr":
        q = np.asarray(r["psnr-rgb"], dtype=np.float64)
    else:
        q = ms_ssim_db(np.asarray(r["ms-ssim-rgb"], dtype=np.float64))
    return bpp, q


def bd_table(tests, anchors, metric, part=(0.0, 1.0)):
    rows = []
    for t in tests:
        row = []
        for a in anchors:
            if a is t:
                row.append(None)
                continue
            try:
                v = bdrate.bd_rate(*curves(a, metric), *curves(t, metric), part=part)
            except ValueError:
                v = None
            row.append(v)
        rows.append(row)
    return rows


def fmt_bd(v):
    return "n/a" if v is None else f"{v:+.1f}%"


def md_table(header, rows, numeric=True):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i == 0 or not numeric else "---:"
                          for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


HIGH_END_ANCHORS = ("hevc-intra-444", "avif", "jpeg2000")


def high_end_table(nic, classic):
    """The PSNR models' upper half against the strongest classic codecs:
    where the transforms, not the entropy model, limit nic (issue 24)."""
    anchors = [d for k in HIGH_END_ANCHORS for d in classic if d["_key"] == k]
    tests = [d for d in nic if "msssim" not in d["_key"]]
    if not anchors or not tests:
        return ""
    rows = []
    for t, bds in zip(tests + anchors,
                      bd_table(tests + anchors, anchors, "psnr", part=(0.5, 1.0))):
        r = t["results"]
        top = int(np.argmax(r["psnr-rgb"]))
        rows.append([t["name"], f"{r['psnr-rgb'][top]:.2f} dB at {r['bpp'][top]:.3f}"]
                    + [fmt_bd(v) for v in bds])
    return md_table(["codec", "top point (bpp)"]
                    + [f"upper half vs {a['name']}" for a in anchors], rows)


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    for d in results:
        style = dict(marker="o", ms=4, lw=1.8) if d["kind"] == "nic" else \
            dict(marker=".", ms=5, lw=1.1, ls="--")
        for ax, metric in zip(axes, ("psnr", "ms-ssim")):
            x, y = curves(d, metric)
            ax.plot(x, y, label=d["name"], **style)
    axes[0].set_ylabel("PSNR RGB [dB]")
    axes[1].set_ylabel("MS-SSIM RGB [dB]  (-10 log10(1 - MS-SSIM))")
    for ax in axes:
        ax.set_xlabel("bits per pixel")
        ax.set_xlim(0, 2.2)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    n = results[0].get("images", 24) if results else 0
    fig.suptitle(f"Rate-distortion on Kodak ({n} images, mean over images)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_report(args):
    subset = args.images or args.limit
    out_dir = args.out or (os.path.join(args.build, "partial") if subset else DEFAULT_OUT)
    results = load_results(out_dir)
    if not results:
        log(f"no results in {out_dir}")
        return 1
    nic = [d for d in results if d["kind"] == "nic"]
    classic = [d for d in results if d["kind"] != "nic"]
    png = os.path.join(out_dir, "rd-kodak.png")
    plot(nic + classic, png)
    log(f"wrote {os.path.relpath(png, REPO)}")

    md = ["## Rate-distortion on Kodak", "",
          "Measured by `tools/eval/eval.py` (`make eval`): every file written "
          "by the encoder, decoded back to 8-bit RGB; PSNR and MS-SSIM on RGB, "
          "averaged over the 24 Kodak images. BD-rate: Bjontegaard delta "
          "rate with PCHIP interpolation over the shared quality range; "
          "negative means fewer bits than the anchor.", ""]

    def section(title, tests, anchors):
        md.append(f"### {title}")
        md.append("")
        for metric, label in (("psnr", "PSNR"), ("ms-ssim", "MS-SSIM (dB)")):
            rows = bd_table(tests, anchors, metric)
            header = [f"BD-rate, {label}"] + [a["name"] for a in anchors]
            body = [[t["name"]] + [fmt_bd(v) for v in row]
                    for t, row in zip(tests, rows)]
            table = md_table(header, body)
            md.extend([table, ""])
            log(f"\n{title} -- {label}\n{table}")

    base = {d["_key"]: d for d in nic}
    efforts = [d for d in nic if "-effort" in d["_key"]
               and d["_key"].rsplit("-effort", 1)[0] in base]
    if efforts:
        md.append("### nic encoder effort against effort 0")
        md.append("")
        rows = []
        for d in efforts:
            a = base[d["_key"].rsplit("-effort", 1)[0]]
            cells = [d["name"], a["name"]]
            for metric in ("psnr", "ms-ssim"):
                try:
                    cells.append(fmt_bd(bdrate.bd_rate(*curves(a, metric), *curves(d, metric))))
                except ValueError:
                    cells.append("n/a")
            t = d["results"]["encoding_time"]
            cells.append(f"{min(t):.1f}-{max(t):.1f} s")
            rows.append(cells)
        table = md_table(["level", "anchor", "BD-rate PSNR", "BD-rate MS-SSIM (dB)",
                          "encode time"], rows)
        md.extend([table, ""])
        log(f"\nnic encoder effort against effort 0\n{table}")
    if nic and classic:
        section("nic against classic codecs", nic, classic)
    else:
        log("\n(no nic results yet: run --nic once the ffmpeg build has the codec)")
    high = high_end_table(nic, classic)
    if high:
        md.extend(["### The high end (PSNR)", "",
                   "BD-rate over the upper half of the PSNR range each pair "
                   "shares, and the top point of each curve.", "", high, ""])
        log(f"\nThe high end (PSNR)\n{high}")
    jpeg = [d for d in classic if d["_key"] == "jpeg"]
    if jpeg:
        section("All codecs against JPEG", [d for d in nic + classic if d is not jpeg[0]],
                jpeg)

    md.append("### RD points (bpp / PSNR dB / MS-SSIM)")
    md.append("")
    rows = []
    for d in nic + classic:
        r = d["results"]
        pts = ", ".join(f"{b:.3f}/{p:.2f}/{m:.4f}" for b, p, m in
                        zip(r["bpp"], r["psnr-rgb"], r["ms-ssim-rgb"]))
        qs = d.get("quality", [])
        rows.append([d["name"], f"{d.get('quality_param', '')} {qs}", pts])
    md.append(md_table(["codec", "settings", "points"], rows, numeric=False))
    md.append("")
    md.append(f"![RD curves]({os.path.basename(png)})")
    md.append("")
    mdp = os.path.join(out_dir, "rd-kodak.md")
    with open(mdp, "w") as f:
        f.write("\n".join(md))
    log(f"\nwrote {os.path.relpath(mdp, REPO)} (snippet for models/README.md)")
    return 0


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classic", action="store_true", help="run the classic codecs")
    ap.add_argument("--codecs", nargs="+", metavar="KEY",
                    help="with --classic: only these (jpeg jpeg2000 webp "
                         "hevc-intra-444 avif jpegxl)")
    ap.add_argument("--nic", nargs="+", metavar="MODEL",
                    help="run nic models through FFmpeg "
                         f"({' '.join(cdc.NIC_MODELS)}, or 'all')")
    ap.add_argument("--report", action="store_true",
                    help="results JSONs -> plot, BD-rate tables, markdown")
    ap.add_argument("--ffmpeg", default=DEFAULT_FFMPEG,
                    help="our FFmpeg build with nic (default %(default)s, env NIC_FFMPEG)")
    ap.add_argument("--sys-ffmpeg", default=DEFAULT_SYS_FFMPEG,
                    help="FFmpeg with libx265 for the HEVC anchor (default %(default)s)")
    ap.add_argument("--nic-model-files", nargs="*", default=None,
                    help="files whose hashes key the nic cache (default: "
                         "<model>.gguf found under build/, models/, $NIC_MODEL_DIR)")
    ap.add_argument("--nic-effort", nargs="+", type=int, default=[0], metavar="E",
                    help="encoder effort levels to run for each model (default 0); "
                         "results/nic-<model>-effort<E>.json")
    ap.add_argument("--nic-skip-header-check", action="store_true",
                    help="do not validate the nic header of each encoded file")
    ap.add_argument("--data", default=DEFAULT_DATA, help="image folder (default %(default)s)")
    ap.add_argument("--images", nargs="+", help="only these images (e.g. kodim01)")
    ap.add_argument("--limit", type=int, help="only the first N images")
    ap.add_argument("--build", default=DEFAULT_BUILD, help="cache/scratch folder")
    ap.add_argument("--out", help="results folder (default results/, or "
                                  "build/eval/partial for image subsets)")
    ap.add_argument("--force", action="store_true", help="ignore cached measurements")
    ap.add_argument("--nice", type=int, default=10, help="niceness increment (default 10)")
    ap.add_argument("--cpu", type=int, default=None,
                    help="pin the run (and its encoders) to this CPU "
                         "(default: the last one available; -1: no pinning)")
    args = ap.parse_args(argv)
    if not (args.classic or args.nic or args.report):
        ap.error("nothing to do: give --classic, --nic MODEL... and/or --report")

    if args.nice:
        os.nice(args.nice)
    if args.cpu != -1 and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        cpu = cpus[-1] if args.cpu is None else args.cpu
        os.sched_setaffinity(0, {cpu})

    rc = 0
    if args.classic:
        avail = {c.key: c for c in (k() if k is not cdc.HevcIntra else
                                    k(args.sys_ffmpeg) for k in cdc.CLASSIC)}
        keys = args.codecs or list(avail)
        unknown = [k for k in keys if k not in avail]
        if unknown:
            ap.error(f"unknown codec(s) {unknown}; known: {list(avail)}")
        rc |= cmd_run(args, [avail[k] for k in keys], strict_missing=False)
    if args.nic:
        models = list(cdc.NIC_MODELS) if args.nic == ["all"] else args.nic
        for m in models:
            if m not in cdc.NIC_MODELS:
                ap.error(f"unknown nic model {m!r}; known: {list(cdc.NIC_MODELS)}")
        codecs = []
        for m in models:
            files = args.nic_model_files if args.nic_model_files is not None \
                else find_model_files(m)
            qualities = model_qualities(files)
            for e in args.nic_effort:
                codecs.append(cdc.Nic(m, args.ffmpeg, files, effort=e,
                                      check_header=not args.nic_skip_header_check,
                                      qualities=qualities))
        rc |= cmd_run(args, codecs, strict_missing=True)
    if args.report:
        rc |= cmd_report(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
