"""Binary container for sketch states: a JSON header plus raw little-endian NumPy arrays.

Windows were written in this format (version 1) by the first release; they are now written in
the compact version 2 (``packed``), and ``WindowSketch.from_bytes`` still reads version 1.

Layout: ``b"CVSK"``, one version byte, a 4-byte little-endian header length, the UTF-8 JSON
header, then the arrays back to back. In the header each array is replaced by
``{"__array__": [offset, length, dtype, count]}``; floats that JSON cannot hold (NaN, inf) are
written as strings. A window of 25 features takes about 5 KB per numeric column (the KLL items).
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError

MAGIC = b"CVSK"
VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def pack(state: dict[str, Any]) -> bytes:
    """Encode a nested state (dicts, lists, scalars, 1-D NumPy arrays) as bytes."""
    chunks: list[bytes] = []
    offset = 0

    def encode(value: Any) -> Any:
        nonlocal offset
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
            ref = [offset, len(data), value.dtype.newbyteorder("<").str, int(value.size)]
            chunks.append(data)
            offset += len(data)
            return {"__array__": ref}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [encode(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return {"__float__": str(value).replace("nan", "NaN").replace("inf", "Infinity")}
        return value

    header = json.dumps(encode(state), separators=(",", ":"), allow_nan=False).encode()
    return _PREFIX.pack(MAGIC, VERSION, len(header)) + header + b"".join(chunks)


def unpack(blob: bytes) -> dict[str, Any]:
    """Decode bytes written by ``pack``."""
    if len(blob) < _PREFIX.size:
        msg = f"sketch: {len(blob)} bytes is too short to be a serialised sketch"
        raise InvalidArgumentError(msg, field="data")
    magic, version, length = _PREFIX.unpack_from(blob)
    if magic != MAGIC or version != VERSION:
        msg = f"sketch: not a version-{VERSION} Conveyor sketch (magic {magic!r}, version "
        msg += f"{version}); it was written by another format or is corrupt"
        raise InvalidArgumentError(msg, field="data")
    start = _PREFIX.size + length
    try:
        header = json.loads(blob[_PREFIX.size : start])
    except ValueError as exc:
        msg = f"sketch: the header is not valid JSON ({exc}); the data is corrupt"
        raise InvalidArgumentError(msg, field="data") from exc
    body = memoryview(blob)[start:]

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if "__array__" in value:
                at, size, dtype, count = value["__array__"]
                if at + size > len(body):
                    msg = "sketch: an array runs past the end of the data; the data is truncated"
                    raise InvalidArgumentError(msg, field="data")
                return np.frombuffer(body[at : at + size], dtype=np.dtype(dtype), count=count)
            if "__float__" in value:
                return _SPECIAL_FLOATS[value["__float__"]]
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            return [decode(v) for v in value]
        return value  # a scalar, or a list of scalars (category names, level sizes)

    decoded: dict[str, Any] = decode(header)
    return decoded
