"""Minimal GGUF (version 3) writer and reader for nic model files.

Written for nic's needs (docs/model-format.md): scalar, string and array
metadata, and F32/F16/I8/I32/I64 tensors aligned to 32 bytes."""
import hashlib
import struct

import numpy as np

MAGIC = b"GGUF"
VERSION = 3
ALIGNMENT = 32

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, \
    T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)

# tensor types (ggml numbering)
TENSOR_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int8): 24,
                np.dtype(np.int32): 26, np.dtype(np.int64): 27}
DTYPES = {v: k for k, v in TENSOR_TYPES.items()}

_SCALAR = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
           T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
           T_FLOAT64: "<d"}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == T_STRING:
        return _str(v)
    return struct.pack(_SCALAR[vtype], v)


def write(path, metadata, tensors):
    """metadata: list of (key, type, value); arrays as (key, (T_ARRAY, elem_type), list).
    tensors: list of (name, numpy array).  The content hash (first 4 bytes
    of the data section's SHA-256) is added as nic.content_hash and
    returned."""
    data = bytearray()
    infos = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in TENSOR_TYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        pad = (-len(data)) % ALIGNMENT
        data += b"\0" * pad
        infos.append((name, arr.shape, TENSOR_TYPES[arr.dtype], len(data)))
        data += arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    content_hash = struct.unpack(">I", hashlib.sha256(bytes(data)).digest()[:4])[0]
    metadata = list(metadata) + [("nic.content_hash", T_UINT32, content_hash)]

    out = bytearray()
    out += MAGIC + struct.pack("<IQQ", VERSION, len(infos), len(metadata))
    for key, vtype, value in metadata:
        out += _str(key)
        if isinstance(vtype, tuple):
            etype = vtype[1]
            out += struct.pack("<IIQ", T_ARRAY, etype, len(value))
            for v in value:
                out += _value(etype, v)
        else:
            out += struct.pack("<I", vtype) + _value(vtype, value)
    for name, shape, ttype, offset in infos:
        dims = list(reversed(shape)) or [1]
        out += _str(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, offset)
    out += b"\0" * ((-len(out)) % ALIGNMENT)
    out += data
    with open(path, "wb") as f:
        f.write(out)
    return content_hash


def read(path):
    """Returns (metadata dict, tensors dict) — used by tests and tools."""
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == T_STRING:
            return string()
        if t == T_ARRAY:
            et, n = take("<IQ")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    if buf[:4] != MAGIC:
        raise ValueError("not a GGUF file")
    pos = 4
    version, nt, nkv = take("<IQQ")
    if version != VERSION:
        raise ValueError(f"GGUF version {version}")
    meta = {}
    for _ in range(nkv):
        k = string()
        meta[k] = value(take("<I"))
    infos = []
    for _ in range(nt):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        ttype, off = take("<IQ")
        infos.append((name, tuple(reversed(dims)), ttype, off))
    align = meta.get("general.alignment", ALIGNMENT)
    base = pos + (-pos) % align
    tensors = {}
    for name, shape, ttype, off in infos:
        dt = DTYPES[ttype]
        n = int(np.prod(shape))
        tensors[name] = np.frombuffer(buf, dtype=dt.newbyteorder("<"), count=n,
                                      offset=base + off).reshape(shape)
    return meta, tensors
