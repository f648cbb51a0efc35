"""An independent Python reader of nic bitstreams (docs/bitstream.md), used to
check the C encoder against the PyTorch model symbol by symbol."""
import struct

import numpy as np

HEADER = struct.Struct(">3sBHHBBHIII")
RANS_L = 1 << 23


def parse_header(buf):
    magic, version, w, h, typ, q, model, mhash, zs, ys = HEADER.unpack_from(buf)
    if magic != b"NIC" or version != 1:
        raise ValueError("not a nic v1 stream")
    return {"width": w, "height": h, "type": typ, "quality": q, "model": model,
            "hash": mhash, "z_size": zs, "y_size": ys}


class Rans:
    def __init__(self, buf):
        if len(buf) < 4:
            raise ValueError("payload shorter than the rANS state")
        self.x = struct.unpack(">I", buf[:4])[0]
        self.buf, self.pos = buf, 4

    def _advance(self, start, freq):
        x = freq * (self.x >> 16) + (self.x & 0xFFFF) - start
        while x < RANS_L:
            if self.pos >= len(self.buf):
                raise ValueError("payload overread")
            x = (x << 8) | self.buf[self.pos]
            self.pos += 1
        self.x = x

    def bits(self, n):
        shift = 16 - n
        v = (self.x & 0xFFFF) >> shift
        self._advance(v << shift, 1 << shift)
        return v

    def value(self, cdf, offset):
        slot = self.x & 0xFFFF
        s = int(np.searchsorted(cdf, slot, side="right")) - 1
        self._advance(int(cdf[s]), int(cdf[s + 1] - cdf[s]))
        esc = len(cdf) - 2
        if s != esc:
            return offset + s
        return self.escape(offset, offset + esc - 1)

    def escape(self, lo, hi):
        """The value after an escape symbol of a table coding [lo, hi]."""
        k = self.bits(5)
        if k > 30:
            raise ValueError("escape too long")
        e1 = 1 << k
        if k > 16:
            e1 |= self.bits(k - 16) << 16
            e1 |= self.bits(16)
        elif k:
            e1 |= self.bits(k)
        e1 -= 1
        return lo - 1 - (e1 >> 1) if e1 & 1 else hi + 1 + (e1 >> 1)

    def finish(self):
        if self.x != RANS_L or self.pos != len(self.buf):
            raise ValueError("payload does not end cleanly")


def tables(tensors, prefix):
    cdf = tensors[prefix + ".cdf"].astype(np.int64)
    return [(cdf[s:s + n + 1], off) for s, n, off in tensors[prefix + ".cdf_index"]]


def decode_symbols(buf, tensors, meta, scale_indices):
    """Returns (header, z symbols or None, y symbols) of a packet; for the
    hyperprior, scale_indices(z) supplies the table of every y element."""
    h = parse_header(buf)
    m, n, q = meta["nic.m"], meta["nic.n"], h["quality"]
    hz, wz = (h["height"] + 63) // 64, (h["width"] + 63) // 64
    hl, wl = 4 * hz, 4 * wz
    pos = HEADER.size
    zsym = None
    ty = tables(tensors, "entropy_y")
    if meta["nic.arch"] == "hyperprior":
        tz = tables(tensors, "entropy_z")
        r = Rans(buf[pos:pos + h["z_size"]])
        zsym = np.array([r.value(*tz[q * n + c]) for c in range(n) for _ in range(hz * wz)],
                        dtype=np.int64).reshape(n, hz, wz)
        r.finish()
        pos += h["z_size"]
        idx = scale_indices(zsym).reshape(-1)
        r = Rans(buf[pos:pos + h["y_size"]])
        ysym = np.array([r.value(*ty[int(i)]) for i in idx], dtype=np.int64)
    else:
        r = Rans(buf[pos:pos + h["y_size"]])
        ysym = np.array([r.value(*ty[q * m + c]) for c in range(m) for _ in range(hl * wl)],
                        dtype=np.int64)
    r.finish()
    return h, zsym, ysym.reshape(m, hl, wl)
