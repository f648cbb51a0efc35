#!/usr/bin/python3
"""make bench: the wall time of the commands a user types.

    tools/bench_e2e.py --bin BIN --models DIR --nictool NICTOOL --out OUT.json IMAGE...

For every nic model, and for the classic codecs that the same FFmpeg has
(libaom AVIF, x265, libwebp, libjxl), the wall time from process start to
exit of

    ffmpeg -i photo.png -c:v CODEC ... out.EXT   (encode)
    ffprobe out.EXT                               (probe)
    ffmpeg -i out.EXT -f null -                   (decode)
    ffmpeg -i out.EXT back.png                    (decode to a file)

each the median of RUNS runs, over the images (median of the per-image
medians), with -threads THREADS.  Beside them, the nic decoder's own time
for the same files (nictool bench: the codec core with no process start, no
model loading and no I/O) and the time to load each model file
(nictool load).  A benchmark, not a test: run it on a quiet machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# name, encoder options, extension; the classic codecs at a middle setting
CLASSIC = [
    ("avif (libaom)", ["-c:v", "libaom-av1", "-crf", "30", "-still-picture", "1",
                       "-cpu-used", "6"], "avif"),
    ("hevc (x265)", ["-c:v", "libx265", "-crf", "28", "-preset", "medium",
                     "-x265-params", "log-level=error"], "mkv"),
    ("webp (libwebp)", ["-c:v", "libwebp", "-quality", "75"], "webp"),
    ("jxl (libjxl)", ["-c:v", "libjxl", "-distance", "1.0"], "jxl"),
]
NIC_MODELS = ["context", "context-msssim", "factorized", "hyperprior", "hyperprior-msssim"]


def wall(cmd, env, runs):
    """Median wall seconds of running cmd to completion (it must succeed)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if r.returncode:
            sys.exit(f"bench_e2e: failed ({r.returncode}): {' '.join(cmd)}\n"
                     f"{r.stderr.decode(errors='replace')[-2000:]}")
    return statistics.median(times)


def codec_rows(name, enc_opts, ext, images, a, env, tmp):
    ff = [os.path.join(a.bin, "ffmpeg"), "-nostdin", "-v", "error", "-y",
          "-threads", str(a.threads)]
    probe = [os.path.join(a.bin, "ffprobe"), "-v", "error", "-show_streams"]
    per = {"encode_s": [], "probe_s": [], "decode_null_s": [], "decode_png_s": [], "bpp": []}
    files = []
    for i, img in enumerate(images):
        out = os.path.join(tmp, f"{i}.{ext}")
        per["encode_s"].append(wall(ff + ["-i", img] + enc_opts + [out], env, a.runs))
        per["probe_s"].append(wall(probe + [out], env, a.runs))
        per["decode_null_s"].append(wall(ff + ["-i", out, "-f", "null", "-"], env, a.runs))
        per["decode_png_s"].append(wall(ff + ["-i", out, os.path.join(tmp, "back.png")],
                                        env, a.runs))
        w, h = dimensions(a, img, env)
        per["bpp"].append(8 * os.path.getsize(out) / (w * h))
        files.append(out)
    row = {"codec": name}
    row.update({k: statistics.median(v) for k, v in per.items()})
    return row, files


def dimensions(a, img, env):
    r = subprocess.run([os.path.join(a.bin, "ffprobe"), "-v", "error", "-select_streams", "v:0",
                        "-show_entries", "stream=width,height", "-of", "csv=p=0", img],
                       env=env, capture_output=True, text=True, check=True)
    w, h = r.stdout.strip().split(",")[:2]
    return int(w), int(h)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bin", required=True, help="directory with ffmpeg and ffprobe")
    p.add_argument("--models", required=True, help="directory of the nic model files")
    p.add_argument("--nictool", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 5)))
    p.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", 2)))
    p.add_argument("--quality", type=int, default=4)
    p.add_argument("images", nargs="+")
    a = p.parse_args()

    env = dict(os.environ, NIC_MODEL_PATH=os.path.abspath(a.models))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # the images as PNG, as a user would have them
        images = []
        for i, img in enumerate(a.images):
            png = os.path.join(tmp, f"src{i}.png")
            subprocess.run([os.path.join(a.bin, "ffmpeg"), "-nostdin", "-v", "error", "-y",
                            "-i", img, "-frames:v", "1", "-pix_fmt", "rgb24", png],
                           env=env, check=True)
            images.append(png)
        for model in NIC_MODELS:
            gguf = os.path.join(a.models, model + ".gguf")
            if not os.path.exists(gguf):
                continue
            row, files = codec_rows(f"nic {model}",
                                    ["-c:v", "nic", "-model", model, "-q:v", str(a.quality)],
                                    "nic", images, a, env, tmp)
            # the decoder's own time on the same images, and model loading
            core = []
            for img in images:
                ppm = os.path.join(tmp, "core.ppm")
                subprocess.run([os.path.join(a.bin, "ffmpeg"), "-nostdin", "-v", "error", "-y",
                                "-i", img, "-pix_fmt", "rgb24", ppm], env=env, check=True)
                r = subprocess.run([a.nictool, "bench", gguf, str(a.quality), ppm, str(a.runs)],
                                   env=dict(env, NIC_THREADS=str(a.threads)),
                                   capture_output=True, text=True, check=True)
                core.append(json.loads(r.stdout))
            row["core_encode_s"] = statistics.median(c["encode_s"] for c in core)
            row["core_decode_s"] = statistics.median(c["decode_s"] for c in core)
            r = subprocess.run([a.nictool, "load", gguf, str(max(a.runs, 5))],
                               capture_output=True, text=True, check=True)
            row["model_load_s"] = json.loads(r.stdout)["load_s"]
            rows.append(row)
        have = subprocess.run([os.path.join(a.bin, "ffmpeg"), "-hide_banner", "-encoders"],
                              env=env, capture_output=True, text=True).stdout
        for name, opts, ext in CLASSIC:
            enc = opts[opts.index("-c:v") + 1]
            if f" {enc} " not in have:
                print(f"bench_e2e: {name}: this FFmpeg has no {enc}, skipped")
                continue
            rows.append(codec_rows(name, opts, ext, images, a, env, tmp)[0])

    res = {"machine": f"{os.cpu_count()} cores, " + cpu_name(), "threads": a.threads,
           "runs": a.runs, "images": [os.path.basename(i) for i in a.images],
           "nic_quality": a.quality, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    report(res)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def report(res):
    print(f"{res['machine']}; -threads {res['threads']}; {len(res['images'])} images; "
          f"median of {res['runs']} runs each, then the median over the images (wall seconds)")
    print(f"{'codec':<24} {'bpp':>5} {'encode':>7} {'ffprobe':>8} {'-f null':>8} {'to png':>7}"
          f" {'core dec':>8} {'null/core':>9} {'load':>6}")
    for r in res["rows"]:
        core = r.get("core_decode_s")
        print(f"{r['codec']:<24} {r['bpp']:5.2f} {r['encode_s']:7.3f} {r['probe_s']:8.3f} "
              f"{r['decode_null_s']:8.3f} {r['decode_png_s']:7.3f} "
              + (f"{core:8.3f} {r['decode_null_s'] / core:9.2f} {r['model_load_s']:6.3f}"
                 if core else f"{'':8} {'':9} {'':6}"))


if __name__ == "__main__":
    main()
