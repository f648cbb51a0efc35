"""Large photographs from Debian 12's wallpaper packages, for training the
hyperprior's hyper networks at sizes the training set lacks.

After the x2 downsampling of nic/data.py most training images are about
250x170 pixels: their latent maps are 16x11 and their hyper-latent maps
4x3, nearly all border.  A Kodak image has a 12x8 hyper-latent map.  These
photos (1.3 to 26 MP, free licences) are downsampled to about 1024 pixels
on the long side and give maps of 16x10 hyper-latents and more.

Only the photographs of each package are taken (the list below, chosen by
looking at every file once); illustrations, logos and patterns are not.
load() holds out every 8th: BytheWater, the sample that `make demo` codes
(samples/bythewater.png), is one of them.  ColorfulCups, the other sample,
is trained on; check-parity uses it, and parity does not depend on what
the weights were trained on.
The .deb files are fetched with `apt-get download` into a temporary folder
and unpacked with `dpkg -x`; the result is cached in models/cache/."""
import glob
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

PLASMA = ("BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite "
          "OneStandsOut Path summer_1am").split()
LOMIRI = ("Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Kleiber_by_Lukas_Baubkus "
          "Picture_0B_by_freespace Picture_1A_by_freespace Wine_by_Jakkub_Mede "
          "aitzgorri_by_Aitzol_Berasategi free_by_Peter_Nerlich friends_by_Aitzol_Berasategi "
          "life_by_Aitzol_Berasategi picosdeeuropa_by_Aitzol_Berasategi "
          "seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi").split()
LXQT = ("Butterfly-Kenneth-Wimer.jpg Valendas.png after-the-rain.jpg appleflower.png beam.png "
        "butterfly.png cloud.png drop.png flowers.png fog.jpg this-is-not-windows.jpg").split()
PACKAGES = ["plasma-workspace-wallpapers", "mate-backgrounds", "lomiri-wallpapers-16.04",
            "lomiri-wallpapers-20.04", "lxqt-themes"]


def photo_paths(root):
    """The photographs under an unpacked tree, in a fixed order."""
    out = []
    for n in PLASMA:
        # every size of a plasma wallpaper is the same picture: the largest
        sizes = glob.glob(os.path.join(root, f"usr/share/wallpapers/{n}/contents/images/*"))
        out.append(max(sizes, key=os.path.getsize))
    out += sorted(glob.glob(os.path.join(root, "usr/share/backgrounds/mate/nature/*.jpg")))
    out += [os.path.join(root, f"usr/share/backgrounds/{n}.jpg") for n in LOMIRI]
    out += [os.path.join(root, f"usr/share/lxqt/wallpapers/{n}") for n in LXQT]
    missing = [p for p in out if not os.path.exists(p)]
    if missing:
        raise SystemExit(f"photos: not in the packages: {missing}")
    return out


def downsample(path, long_side=1024):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    f = max(2.0, max(w, h) / long_side)
    im = im.resize((int(w / f), int(h / f)), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def build_cache(cache):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download"] + PACKAGES, cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        root = os.path.join(tmp, "root")
        for deb in sorted(glob.glob(os.path.join(tmp, "*.deb"))):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        images = [downsample(p) for p in photo_paths(root)]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    np.savez(cache + ".tmp.npz", **{f"p{i}": a for i, a in enumerate(images)})
    os.replace(cache + ".tmp.npz", cache)
    print(f"photos: {len(images)} photographs from {len(PACKAGES)} packages into {cache}")


def load(cache, held_out_every=8):
    """(training photos, held-out photos): every held_out_every-th photo of
    the list is held out."""
    if not os.path.exists(cache):
        build_cache(cache)
    z = np.load(cache)
    pics = [z[k] for k in sorted(z.files, key=lambda k: int(k[1:]))]
    return ([a for i, a in enumerate(pics) if i % held_out_every],
            [a for i, a in enumerate(pics) if i % held_out_every == 0])
