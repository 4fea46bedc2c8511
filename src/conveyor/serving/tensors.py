"""The Open Inference Protocol's in-memory types, shared by the REST and gRPC transports.

A ``Tensor`` holds its data as a NumPy array already in its declared shape; BYTES tensors hold
an object array of ``bytes``. Transports convert their wire format to and from these types.
"""

from __future__ import annotations

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
