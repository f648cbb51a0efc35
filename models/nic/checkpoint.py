"""Where checkpoints live, which one is the newest, and the network one
holds; shared by the trainer, the exporter and the measurement tools."""
import argparse
import os

import numpy as np
import torch
from PIL import Image

from . import nets


def model_from(ck):
    """The network a checkpoint holds, with its weights, in eval mode."""
    model = nets.build(ck["config"])
    model.load_state_dict(ck["model"])
    return model.eval()


def compact(ck):
    """The checkpoint to commit: weights in fp32, the step and every RNG, but
    no optimizer moments (they would triple its size, and a commit of a
    changed binary costs its old and its new size); a run that resumes from
    it rebuilds Adam's moments over a short warm-up."""
    return {k: v for k, v in ck.items() if k not in ("opt", "aux_opt", "opt_named")}


def carried(ck):
    """What a checkpoint made from ck carries on unchanged: the model file
    a models/ctximport.py start was read from, whose history export.py
    writes first."""
    return {"imported_from": ck["imported_from"]} if "imported_from" in ck else {}


def total_steps(ck):
    """Training steps behind a checkpoint's weights: those of the model a
    fine-tune started from and its own (a cooldown's are counted apart)."""
    return int(ck["step"]) + int(ck.get("init_steps", 0))


def candidates(name, ckpt_dir, compact_dir):
    """Where the weights of `name` may be, cooled-down first: the local
    checkpoints and, for the hyperprior (which trains from scratch), the
    committed one.  The derived models are fine-tunes made in the session
    that exports them."""
    paths = [os.path.join(ckpt_dir, name + "-cooled.pt"), os.path.join(ckpt_dir, name + ".pt")]
    if name == "hyperprior":
        paths.append(os.path.join(compact_dir, name + ".pt"))
    return paths


def load(path, device="cpu"):
    """torch.load of a whole checkpoint (it holds RNG states and config
    dicts, not only tensors: newer PyTorch loads only tensors by default)."""
    return torch.load(path, map_location=device, weights_only=False)


def save_atomic(obj, path):
    """torch.save through a temporary file, so that a run stopped midway
    never leaves a truncated checkpoint at `path`."""
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_newest(paths, device="cpu"):
    """(path, checkpoint) of the one with the most steps among the paths
    that exist, the first of equals (a cooled checkpoint is listed before the
    one it was made from); (None, None) if none exists."""
    best = (None, None)
    for p in paths:
        if os.path.exists(p):
            ck = load(p, device)
            if best[1] is None or total_steps(ck) > total_steps(best[1]):
                best = (p, ck)
    return best


def tool_parser(doc):
    """The command line shared by the measurement tools (tile_rate.py,
    ceiling.py): image paths and --ckpt, the committed hyperprior by
    default."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+")
    p.add_argument("--ckpt", default=os.path.join(here, "checkpoints", "hyperprior.pt"))
    return p


def tool_model(path):
    """(checkpoint, network) for a measurement tool, on NIC_THREADS threads
    (2 by default)."""
    torch.set_num_threads(int(os.environ.get("NIC_THREADS", "2")))
    ck = load(path)
    return ck, model_from(ck)


def image_tensor(path):
    """An image file as a 1x3xHxW float tensor in [0, 1]."""
    a = np.asarray(Image.open(path).convert("RGB"))
    return torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255
