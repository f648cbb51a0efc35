#!/usr/bin/python3
"""PyTorch forward pass of a nic model file (the same weights the C codec
uses), timed the way `make bench` times the C codec: median seconds of the
encoder side (g_a, h_a, integer scale path, h_s means) and of the decoder
side (scale path, means, g_s) on one image.

    bench_torch.py MODEL.gguf QUALITY IMAGE RUNS THREADS"""
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from nic import gguf  # noqa: E402
from nic.reference import FileModel  # noqa: E402


def main():
    path, q, image, runs, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    meta, tensors = gguf.read(path)
    ref = FileModel(meta, tensors)
    img = np.asarray(Image.open(image).convert("RGB"))
    enc, dec = [], []
    for _ in range(runs):
        t = time.perf_counter()
        r = ref.analyse(img, q)
        enc.append(time.perf_counter() - t)
        t = time.perf_counter()
        if ref.arch == "hyperprior":
            from nic import intpath
            intpath.scale_indices(ref.int_params(), r["zsym"])
            means = ref.chain(torch.from_numpy(r["zsym"])[None].float(), "h_s_mean",
                              (1, 1, 1), (True, True, False))
        else:
            means = r["means"]
        ref.reconstruct(r["ysym"], means, q, *img.shape[:2])
        dec.append(time.perf_counter() - t)
    print(json.dumps({"encode_s": float(np.median(enc)), "decode_s": float(np.median(dec)),
                      "threads": threads}))


if __name__ == "__main__":
    main()
