#!/usr/bin/python3
"""Bit-exact parity of the C codec with the context model's integer
reference (nic/ctxint.py), on a context model file.

    python3 models/ctxparity.py --nictool build/nictool --model models/context.gguf \
        --quality 0 7 IMAGE.png [...]

For every image and quality, with the C encoder's stream S and the latent
y the C encoder coded (`nictool analyse`):

1. z: Python reads S's z payload and writes it again: the same bytes.
2. encoder: Python codes y under that z_hat, pass by pass, with the
   integer path and its own rANS coder: exactly the bytes of S's y payload.
3. decoder: Python reads S's y payload by itself (bisection on the mixture
   CDFs, escapes included) and gets the y_hat the encoder had; the C
   decoder's latents (`nictool latents`, y_hat * inv_gain in float32) equal
   float32(y_hat) * 0.125 * inv_gain, bit for bit.

Exits non-zero unless all of it holds everywhere."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nic import bitstream, ctxfile, ctxstream, gguf  # noqa: E402


def read_latent(path):
    buf = open(path, "rb").read()
    c, h, w = np.frombuffer(buf[:12], dtype="<i4")
    return np.frombuffer(buf[12:], dtype="<f4").reshape(c, h, w)


def z_payload(buf, tensors, meta, h):
    """(z_hat, the z payload written again by Python) of a stream."""
    n, q = meta["nic.n"], h["quality"]
    hz, wz = (h["height"] + 63) // 64, (h["width"] + 63) // 64
    tz = bitstream.tables(tensors, "entropy_z")
    pos = bitstream.HEADER.size
    r = bitstream.Rans(buf[pos:pos + h["z_size"]])
    z = np.array([r.value(*tz[q * n + c]) for c in range(n) for _ in range(hz * wz)],
                 dtype=np.int64).reshape(n, hz, wz)
    r.finish()
    enc = ctxstream.RansEncoder()
    for c in range(n):
        cdf, off = tz[q * n + c]
        for v in z[c].reshape(-1):
            enc.value(cdf, off, int(v))
    return z, enc.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nictool", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--quality", type=int, nargs="+", default=[4])
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    meta, tensors = gguf.read(args.model)
    if meta.get("nic.arch") != "context":
        raise SystemExit(f"{args.model} is not a context model")
    ip, tabs = ctxfile.read(meta, tensors)
    inv_gain = np.asarray(tensors["gains.inv_gain"], dtype=np.float32)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.images:
            ppm = os.path.join(tmp, "in.ppm")
            Image.open(path).convert("RGB").save(ppm)
            for q in args.quality:
                nic, ybin, lbin = (os.path.join(tmp, f) for f in ("x.nic", "y.bin", "l.bin"))
                run = lambda *a: subprocess.run([args.nictool, *a], check=True,  # noqa: E731
                                                stdout=subprocess.DEVNULL)
                run("encode", args.model, str(q), ppm, nic)
                run("analyse", args.model, str(q), ppm, ybin)
                run("latents", args.model, nic, lbin)
                buf = open(nic, "rb").read()
                h = bitstream.parse_header(buf)
                start = bitstream.HEADER.size + h["z_size"]
                zpay, ypay = buf[bitstream.HEADER.size:start], buf[start:start + h["y_size"]]

                z, z_again = z_payload(buf, tensors, meta, h)
                y = read_latent(ybin)
                y_bytes, y8_enc = ctxstream.encode_y(ip, tabs, z, y)
                y8_dec = ctxstream.decode_y(ip, tabs, z, ypay)
                c_lat = read_latent(lbin)
                ref = (y8_dec.astype(np.float32) * np.float32(0.125)) * inv_gain[q][:, None, None]
                lat_diff = int(np.sum(c_lat.view(np.uint32) != ref.view(np.uint32)))
                res = {"image": os.path.basename(path), "quality": q,
                       "prior": "gaussian" if ip["mixture"] == 1 else f"mixture K={ip['mixture']}",
                       "bytes": len(buf), "z_bytes_equal": zpay == z_again,
                       "y_bytes_equal": ypay == y_bytes,
                       "y_hat_decoded_equal": bool(np.array_equal(y8_enc, y8_dec)),
                       "c_latents_differ": lat_diff, "elements": int(y8_dec.size)}
                good = (res["z_bytes_equal"] and res["y_bytes_equal"]
                        and res["y_hat_decoded_equal"] and lat_diff == 0)
                ok &= good
                print(json.dumps(res), "ok" if good else "FAIL", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
