# SPDX-License-Identifier: MIT
"""A small, independent safetensors reader and writer for the tests.

Written from the format's specification (huggingface/safetensors), with no
code shared with librnn or its binding, so that a file one side writes is
judged by a second implementation:

    8 bytes    N, little-endian unsigned 64-bit: the size of the header
    N bytes    UTF-8 JSON object: {"__metadata__": {str: str}, optional,
               name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
               (the official writer pads it with spaces to a multiple of 8)
    rest       the byte buffer; data_offsets are relative to its start
"""

import json
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


class FormatError(ValueError):
    """The bytes are not a valid safetensors file."""


def parse(data):
    """Returns (tensors, metadata, header): tensors maps name -> (dtype, shape,
    raw bytes), in order of their data offsets; header is the parsed JSON.
    Checks what the specification requires: header inside the file, offsets
    ordered, contiguous, non-overlapping and covering the buffer exactly,
    sizes matching dtype and shape."""
    if len(data) < 8:
        raise FormatError("shorter than the 8-byte header size")
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8:
        raise FormatError("header size %d exceeds the file" % size)
    text = data[8:8 + size]
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError("header is not UTF-8 JSON: %s" % exc)
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    buffer = data[8 + size:]
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise FormatError("__metadata__ must map strings to strings")
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if set(entry) != {"dtype", "shape", "data_offsets"}:
            raise FormatError("%s: keys %s" % (name, sorted(entry)))
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise FormatError("%s: unknown dtype %r" % (name, dtype))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * np.dtype(_DTYPES[dtype]).itemsize:
            raise FormatError("%s: %d bytes for shape %s %s" % (name, end - begin, shape, dtype))
        entries.append((begin, end, name, dtype, tuple(shape)))
    entries.sort()
    position = 0
    tensors = {}
    for begin, end, name, dtype, shape in entries:
        if begin != position:
            raise FormatError("%s starts at %d, expected %d (gap or overlap)" % (name, begin, position))
        position = end
        tensors[name] = (dtype, shape, bytes(buffer[begin:end]))
    if position != len(buffer):
        raise FormatError("tensors cover %d of %d buffer bytes" % (position, len(buffer)))
    return tensors, metadata, header


def load(path):
    """name -> float32 NumPy array (copies), and the metadata dict."""
    with open(path, "rb") as f:
        tensors, metadata, _ = parse(f.read())
    arrays = {}
    for name, (dtype, shape, raw) in tensors.items():
        arrays[name] = np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(shape).copy()
    return arrays, metadata


def dump(arrays, metadata=None):
    """safetensors bytes of name -> array (written as F32, in the given order,
    header padded with spaces to a multiple of 8 like the official writer)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, value in arrays.items():
        arr = np.ascontiguousarray(value, dtype="<f4")
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def save(path, arrays, metadata=None):
    """Writes dump(arrays, metadata) to path."""
    with open(path, "wb") as f:
        f.write(dump(arrays, metadata))
