"""The Open Inference Protocol's in-memory types, shared by the REST and gRPC transports.

A ``Tensor`` holds its data as a NumPy array already in its declared shape; BYTES tensors hold
an object array of ``bytes``. Transports convert their wire format to and from these types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError

# OIP v2 datatype -> NumPy dtype (BYTES is an object array of bytes)
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_BY_KIND = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}


def numpy_dtype(datatype: str, *, field_name: str = "datatype") -> np.dtype[Any]:
    """Return the NumPy dtype of an OIP datatype, or raise naming the field."""
    try:
        return DATATYPES[datatype]
    except (KeyError, TypeError):
        msg = f"unknown datatype {datatype!r}; use one of {sorted(DATATYPES)}"
        raise InvalidArgumentError(msg, field=field_name) from None


def oip_datatype(dtype: np.dtype[Any]) -> str:
    """Return the OIP datatype for a NumPy dtype (strings and objects are BYTES)."""
    return _BY_KIND.get(np.dtype(dtype), "BYTES")


@dataclass(slots=True)
class Tensor:
    """One named input or output tensor."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray[Any, Any]
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RequestedOutput:
    """An output the client asked for, with its parameters (``binary_data``, ...)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class InferRequest:
    """An inference request in transport-neutral form."""

    inputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] = field(default_factory=list)


@dataclass(slots=True)
class InferResponse:
    """An inference response in transport-neutral form."""

    model_name: str
    outputs: list[Tensor]
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def serialize_raw(array: np.ndarray[Any, Any]) -> bytes:
    """Return a tensor's raw bytes as the binary extensions carry them.

    Numbers are row-major little-endian values; BYTES elements (bytes, or str encoded as UTF-8)
    are each a 4-byte little-endian length followed by the bytes.
    """
    if array.dtype.kind in "OSU":
        parts: list[bytes] = []
        for item in array.ravel():
            value = _as_bytes(item)
            parts += (len(value).to_bytes(4, "little"), value)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _as_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, bytearray | memoryview):
        return bytes(item)
    return str(item).encode()


def deserialize_raw(
    raw: bytes | memoryview, datatype: str, shape: tuple[int, ...], *, field_name: str
) -> np.ndarray[Any, Any]:
    """Read a raw tensor (see ``serialize_raw``) of a given datatype and shape into a new array.

    Raises ``InvalidArgumentError`` naming ``field_name`` when the size does not match the shape.
    """
    dtype = numpy_dtype(datatype, field_name=field_name)
    count = math.prod(shape)
    if datatype == "BYTES":
        return _split_bytes(memoryview(raw), count, field_name).reshape(shape)
    expected = count * dtype.itemsize
    if len(raw) != expected:
        msg = (
            f"{field_name}: {len(raw)} bytes of raw data, but a {datatype} tensor of shape "
            f"{list(shape)} takes {expected} bytes; send {dtype.itemsize} bytes per element"
        )
        raise InvalidArgumentError(msg, field=field_name)
    # astype copies into a writable native-order array: the body buffer is read-only
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _split_bytes(view: memoryview, count: int, field_name: str) -> np.ndarray[Any, Any]:
    items: list[bytes] = []
    pos, end = 0, len(view)
    while pos < end:
        if pos + 4 > end:
            msg = f"{field_name}: BYTES data ends inside an element's 4-byte length prefix"
            raise InvalidArgumentError(msg, field=field_name)
        size = int.from_bytes(view[pos : pos + 4], "little")
        pos += 4
        if pos + size > end:
            msg = f"{field_name}: a BYTES element of {size} bytes runs past the end of the data"
            raise InvalidArgumentError(msg, field=field_name)
        items.append(bytes(view[pos : pos + size]))
        pos += size
    if len(items) != count:
        msg = (
            f"{field_name}: BYTES data holds {len(items)} elements, the shape needs {count}; "
            "prefix each element with its 4-byte little-endian length"
        )
        raise InvalidArgumentError(msg, field=field_name)
    out = np.empty(count, dtype=object)
    out[:] = items
    return out
