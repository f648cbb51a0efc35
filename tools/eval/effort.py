#!/usr/bin/python3
"""BD-rate of nic encoder effort levels (or explicit schedules) against effort 0.

  tools/eval/effort.py --nictool build/nictool --model models/hyperprior.gguf \\
      --efforts 1 2 3 [--crop 384 256] [--qualities 0 2 4 6 7] IMAGE.png ...

Every image is coded by the C codec (`nictool encode`, one thread per
encode, --jobs encodes at a time) at effort 0 and at each effort (a level
1..3 or a schedule ITERATIONS:LR_START:LR_END:TAU_START:TAU_END:NOISE, see
tools/nictool.c), decoded by `nictool decode`, and measured (bytes, PSNR of
the 8-bit RGB).  Prints, for each effort, the BD-rate (bdrate.py) of the
curves averaged over the images, the BD-rate of each image, the mean rate
and PSNR change at each quality, and the mean encode wall time.  --crop
takes the centre WxH of each image.  Measurements are cached in --cache
(keyed by the nictool and model files' sizes and times, image, crop,
quality and effort).  --results DIR also writes each level's curve
as DIR/nic-MODEL-effortE.json in eval.py's layout, which `eval.py
--report` tabulates against effort 0 (nic-MODEL.json) and plots."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bdrate import bd_rate  # noqa: E402
from metrics import ms_ssim_rgb  # noqa: E402


def stamp(path):
    st = os.stat(path)
    return f"{st.st_size}:{int(st.st_mtime)}"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nictool", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--efforts", nargs="+", required=True)
    p.add_argument("--qualities", type=int, nargs="+", default=[0, 2, 4, 6, 7])
    p.add_argument("--crop", type=int, nargs=2, metavar=("W", "H"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cache", default="build/eval/effort-cache.json")
    p.add_argument("--results", metavar="DIR",
                   help="write the curves as DIR/nic-MODEL-effortE.json (full images only)")
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    if args.results and args.crop:
        p.error("--results writes full-image curves: not with --crop")
    cache = json.load(open(args.cache)) if os.path.exists(args.cache) else {}
    os.makedirs(os.path.dirname(os.path.abspath(args.cache)), exist_ok=True)
    tool = f"{stamp(args.nictool)}|{stamp(args.model)}"
    tmp = tempfile.mkdtemp(prefix="nic-effort-")
    srcs = {}
    for path in args.images:
        img = Image.open(path).convert("RGB")
        if args.crop:
            w, h = img.size
            x0, y0 = (w - args.crop[0]) // 2, (h - args.crop[1]) // 2
            img = img.crop((x0, y0, x0 + args.crop[0], y0 + args.crop[1]))
        name = os.path.splitext(os.path.basename(path))[0]
        srcs[name] = os.path.join(tmp, name + ".ppm")
        img.save(srcs[name])
    crop = "x".join(map(str, args.crop)) if args.crop else "full"

    def one(name, q, effort):
        key = f"{tool}|{name}|{crop}|{q}|{effort}"
        if len(cache.get(key, ())) == 4:
            return cache[key]
        stem = os.path.join(tmp, f"{name}-{q}-{effort.replace(':', '_')}")
        cmd = [args.nictool, "encode", args.model, str(q), srcs[name], stem + ".nic", effort]
        t0 = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, NIC_THREADS="1"))
        dt = time.time() - t0
        subprocess.run([args.nictool, "decode", args.model, stem + ".nic", stem + ".ppm"],
                       check=True)
        a = np.asarray(Image.open(srcs[name]), dtype=np.float64)
        b = np.asarray(Image.open(stem + ".ppm"), dtype=np.float64)
        rec = [os.path.getsize(stem + ".nic") * 8 / (a.shape[0] * a.shape[1]),
               10 * np.log10(255 ** 2 / np.mean((a - b) ** 2)), dt, float(ms_ssim_rgb(a, b))]
        os.remove(stem + ".nic")
        os.remove(stem + ".ppm")
        cache[key] = rec
        with open(args.cache, "w") as f:
            json.dump(cache, f)
        return rec

    names = list(srcs)
    jobs = [(n, q, e) for e in ["0"] + args.efforts for n in names for q in args.qualities]
    with ThreadPoolExecutor(args.jobs) as ex:
        res = dict(zip(jobs, ex.map(lambda j: one(*j), jobs)))
    qs = args.qualities
    print(f"{len(names)} images ({crop}), qualities {qs}")
    for e in args.efforts:
        def curve(names_, eff, k):
            return [np.mean([res[(n, q, eff)][k] for n in names_]) for q in qs]
        avg = bd_rate(curve(names, "0", 0), curve(names, "0", 1),
                      curve(names, e, 0), curve(names, e, 1))
        per = [bd_rate(curve([n], "0", 0), curve([n], "0", 1), curve([n], e, 0),
                       curve([n], e, 1)) for n in names]
        dq = [f"q{q} {np.mean([res[(n, q, e)][0] / res[(n, q, '0')][0] - 1 for n in names]) * 100:+.1f}%"
              f"/{np.mean([res[(n, q, e)][1] - res[(n, q, '0')][1] for n in names]):+.2f} dB"
              for q in qs]
        t = np.mean([res[(n, q, e)][2] for n in names for q in qs])
        if args.results and e != "0":
            write_curve(args, names, qs, res, e, curve)
        print(f"effort {e}: BD-rate {avg:+.2f}% (per image {' '.join(f'{v:+.1f}' for v in per)}); "
              f"{', '.join(dq)}; encode {t:.1f} s (1 thread, wall)")


def write_curve(args, names, qs, res, effort, curve):
    """DIR/nic-MODEL-effortE.json in eval.py's layout: the mean over the
    images (eval.py's report compares it with nic-MODEL.json, effort 0
    through ffmpeg, which codes the same streams)."""
    model = os.path.splitext(os.path.basename(args.model))[0]
    d = {"name": f"nic {model} effort {effort}",
         "description": f"nictool encode {model}.gguf Q IN OUT {effort}, 1 thread "
                        f"(tools/eval/effort.py); nictool decode",
         "kind": "nic", "dataset": "kodak", "images": len(names),
         "quality_param": "q", "quality": list(qs),
         "results": {"bpp": curve(names, effort, 0), "psnr-rgb": curve(names, effort, 1),
                     "ms-ssim-rgb": curve(names, effort, 3),
                     "encoding_time": curve(names, effort, 2)}}
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, f"nic-{model}-effort{effort}.json"), "w") as f:
        json.dump(d, f, indent=2)


if __name__ == "__main__":
    main()
