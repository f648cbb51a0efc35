"""End-to-end test of the nic path of eval.py against a stand-in ffmpeg that
speaks the same command-line interface and writes real nic headers
(docs/bitstream.md), plus the report step.  Needs no codec build.

  /usr/bin/python3 -m unittest discover -s tools/eval -p '*_test.py' -v
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import drivers  # noqa: E402

FAKE_FFMPEG = r'''#!/usr/bin/python3
# Stand-in for our ffmpeg: "-encoders", "-i X.png -c:v nic -model M -q:v Q
# out.nic" and "-i X.nic -f image2 out.png".  Lossy by uniform quantisation.
import os, struct, sys, zlib
import numpy as np
from PIL import Image
a = sys.argv[1:]
if "-encoders" in a:
    print(" V....D nic                  nic learned image codec (stand-in)")
    sys.exit(0)
def opt(name):
    return a[a.index(name) + 1]
src, out = opt("-i"), a[-1]
HDR = struct.Struct(">3sBHHBBHIII")
MODELS = {"factorized": 1, "hyperprior": 2, "hyperprior-msssim": 3}
bug = os.environ.get("FAKE_NIC_BUG", "")
if "-c:v" in a:
    assert opt("-c:v") == "nic"
    q, model = int(opt("-q:v")), opt("-model")
    img = np.asarray(Image.open(src).convert("RGB")).astype(np.int32)
    step = 2 ** (7 - q)
    payload = zlib.compress((img // step).astype(np.uint8).tobytes(), 9)
    z = b"" if model == "factorized" else b"zzzz"
    hq = q + 1 if bug == "quality" else q
    hdr = HDR.pack(b"NIC", 1, img.shape[1], img.shape[0], 1, hq,
                   MODELS[model], 0xDEADBEEF, len(z), len(payload))
    open(out, "wb").write(hdr + z + payload)
else:
    assert opt("-f") == "image2"
    data = open(src, "rb").read()
    magic, ver, w, h, typ, q, model, mh, zl, yl = HDR.unpack_from(data)
    y = zlib.decompress(data[HDR.size + zl:HDR.size + zl + yl])
    step = 2 ** (7 - q)
    v = np.frombuffer(y, np.uint8).reshape(h, w, 3).astype(np.int32) * step + step // 2
    Image.fromarray(np.clip(v, 0, 255).astype(np.uint8)).save(out)
'''


def make_image(path, h=192, w=256):
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(3)
    base = 128 + 70 * np.sin(xx / 13.0) * np.cos(yy / 9.0)
    img = np.stack([base, base.T[:h, :w] if h == w else base[::-1], 255 - base], -1)
    img = img + rng.normal(scale=6, size=img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)


class NicPipelineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="nic-eval-test-")
        self.ffmpeg = os.path.join(self.tmp, "ffmpeg")
        with open(self.ffmpeg, "w") as f:
            f.write(FAKE_FFMPEG)
        os.chmod(self.ffmpeg, 0o755)
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        make_image(os.path.join(self.data, "kodim01.png"))
        make_image(os.path.join(self.data, "kodim02.png"), 200, 240)
        self.out = os.path.join(self.tmp, "results")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def eval(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        cmd = [sys.executable, os.path.join(HERE, "eval.py"), "--nice", "0",
               "--cpu", "-1", "--data", self.data, "--out", self.out,
               "--build", os.path.join(self.tmp, "build"), *args]
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=e)

    def test_nic_models_and_report(self):
        p = self.eval("--ffmpeg", self.ffmpeg, "--nic", "factorized", "hyperprior",
                      "--nic-model-files")
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        with open(os.path.join(self.out, "nic-hyperprior.json")) as f:
            d = json.load(f)
        self.assertEqual(d["kind"], "nic")
        self.assertEqual(d["images"], 2)
        self.assertEqual(d["quality"], list(range(8)))
        r = d["results"]
        for k in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"):
            self.assertEqual(len(r[k]), 8, k)
        self.assertTrue(np.all(np.diff(r["bpp"]) > 0))
        self.assertTrue(np.all(np.diff(r["psnr-rgb"]) > 0))
        self.assertIn("deadbeef", d["description"])
        # bpp is file bytes * 8 / pixels, averaged over the two images
        path = os.path.join(self.tmp, "one.nic")
        subprocess.run([self.ffmpeg, "-i", os.path.join(self.data, "kodim01.png"),
                        "-c:v", "nic", "-model", "hyperprior", "-q:v", "3", path],
                       check=True)
        b1 = os.path.getsize(path) * 8 / (192 * 256)
        subprocess.run([self.ffmpeg, "-i", os.path.join(self.data, "kodim02.png"),
                        "-c:v", "nic", "-model", "hyperprior", "-q:v", "3", path],
                       check=True)
        b2 = os.path.getsize(path) * 8 / (200 * 240)
        self.assertAlmostEqual(r["bpp"][3], (b1 + b2) / 2, places=12)

        # second run comes from the cache
        p = self.eval("--ffmpeg", self.ffmpeg, "--nic", "hyperprior",
                      "--nic-model-files")
        self.assertIn("0 new encodes", p.stdout.decode())

        # report with a classic anchor that needs exactly 25% more bits
        anchor = json.loads(json.dumps(d))
        anchor.update(name="anchor", kind="classic")
        anchor["results"]["bpp"] = [1.25 * b for b in r["bpp"]]
        with open(os.path.join(self.out, "anchor.json"), "w") as f:
            json.dump(anchor, f)
        p = self.eval("--report")
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertTrue(os.path.getsize(os.path.join(self.out, "rd-kodak.png")) > 0)
        with open(os.path.join(self.out, "rd-kodak.md")) as f:
            md = f.read()
        self.assertIn("| nic hyperprior | -20.0% |", md)

    def test_bad_header_fails(self):
        p = self.eval("--ffmpeg", self.ffmpeg, "--nic", "hyperprior",
                      "--nic-model-files", env={"FAKE_NIC_BUG": "quality"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unexpected nic header", p.stdout.decode())

    def test_missing_ffmpeg_fails(self):
        p = self.eval("--ffmpeg", os.path.join(self.tmp, "nope"), "--nic",
                      "factorized")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not found", p.stdout.decode())


class HeaderTest(unittest.TestCase):
    def test_parse(self):
        raw = struct.pack(">3sBHHBBHIII", b"NIC", 1, 768, 512, 1, 5, 2,
                          0x01020304, 10, 20)
        h = drivers.parse_nic_header(raw)
        self.assertEqual((h["width"], h["height"], h["quality"], h["model"]),
                         (768, 512, 5, 2))
        self.assertEqual(h["model_hash"], 0x01020304)
        with self.assertRaises(drivers.CodecError):
            drivers.parse_nic_header(raw[:10])


if __name__ == "__main__":
    unittest.main()
