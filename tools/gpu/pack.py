#!/usr/bin/python3
"""Move training data and weights to and from a lent GPU machine, within
the device tool's limits (a 64 MiB working tree with its carried paths;
at most 8 files of 16 MiB each back from $OUT).

  pack.py data SRC DIR [MIB]       an evenly spaced share of each folder of
                                   the training photos in SRC (nic/data.py's
                                   folders, as they are: train.py downsamples
                                   them) copied to DIR, MIB (default 56) in all
  pack.py split CKPT DIR           a checkpoint's weights, step and config
                                   (no optimizer state) in parts of <= 15 MiB
  pack.py join DIR CKPT            the parts back into one checkpoint

The working tree itself is about 2.7 MB once the model files and the
committed checkpoint are moved aside (tools/gpu/README.md), which leaves
the rest of the 64 MiB to the photos."""
import glob
import io
import os
import shutil
import sys


PART = 15 << 20
MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models")


def data(src, out, mib="56"):
    sys.path.insert(0, MODELS)
    from nic.data import list_images
    files = list_images(src)
    total = sum(os.path.getsize(f) for f in files)
    share = min(1.0, float(mib) * 2**20 / total)
    by_folder = {}
    for f in files:
        by_folder.setdefault(os.path.relpath(f, src).split(os.sep)[0], []).append(f)
    if os.path.isdir(out):
        shutil.rmtree(out)
    size = count = 0
    for names in by_folder.values():
        step = 1 / share
        for i in range(int(len(names) * share)):
            f = names[int(i * step)]
            dst = os.path.join(out, os.path.relpath(f, src))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(f, dst)
            size += os.path.getsize(f)
            count += 1
    print(f"{count} of {len(files)} photos, {size / 2**20:.1f} MiB, in {out}")


def split(ckpt, out):
    import torch
    sys.path.insert(0, MODELS)
    from nic.checkpoint import compact, load
    buf = io.BytesIO()
    torch.save(compact(load(ckpt)), buf)
    blob = buf.getvalue()
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "ckpt.part*")):
        os.remove(old)
    n = 0
    for n, off in enumerate(range(0, len(blob), PART)):
        with open(os.path.join(out, f"ckpt.part{n}"), "wb") as f:
            f.write(blob[off:off + PART])
    print(f"{ckpt}: {len(blob) / 2**20:.1f} MiB in {n + 1} parts in {out}")


def join(src, ckpt):
    parts = sorted(glob.glob(os.path.join(src, "ckpt.part*")),
                   key=lambda p: int(p.rsplit("part", 1)[1]))
    if not parts:
        raise SystemExit(f"no ckpt.part* in {src}")
    os.makedirs(os.path.dirname(os.path.abspath(ckpt)), exist_ok=True)
    with open(ckpt + ".tmp", "wb") as f:
        for p in parts:
            with open(p, "rb") as part:
                f.write(part.read())
    os.replace(ckpt + ".tmp", ckpt)
    print(f"{len(parts)} parts into {ckpt}")


def main():
    cmds = {"data": data, "split": split, "join": join}
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
