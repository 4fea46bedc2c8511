"""Tensor data on the OIP gRPC wire: the typed ``contents`` fields, and raw bytes.

Raw data has the layout of the binary tensor extension (``serialize_raw`` / ``deserialize_raw``
in ``conveyor.serving.tensors``). Decoding checks every size against the declared shape, so a
malformed tensor is an ``InvalidArgumentError`` naming it, never an exception from NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.serving.grpc import inference_pb2 as pb
from conveyor.serving.tensors import numpy_dtype, serialize_raw

# The typed field that carries each datatype; FP16 has none and travels raw only.
CONTENTS_FIELDS: dict[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
# Types narrower than their wire field, whose values must be range-checked.
_NARROW = {"INT8", "INT16", "UINT8", "UINT16"}


def _describe(datatype: str, shape: tuple[int, ...]) -> str:
    return f"a {datatype} tensor of shape {list(shape)}"


def _object_array(values: list[bytes], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


def decode_contents(
    contents: pb.InferTensorContents, datatype: str, shape: tuple[int, ...], *, field: str
) -> np.ndarray[Any, Any]:
    """Decode one tensor's typed ``contents``."""
    dtype = numpy_dtype(datatype, field_name=f"{field}.datatype")
    name = CONTENTS_FIELDS.get(datatype)
    if name is None:
        msg = f"{field}: {datatype} has no typed contents field; send it in raw_input_contents"
        raise InvalidArgumentError(msg, field=field)
    values = getattr(contents, name)
    count = math.prod(shape)
    if len(values) != count:
        filled = [descriptor.name for descriptor, _ in contents.ListFields()]
        where = f" (the data is in {', '.join(filled)})" if filled and name not in filled else ""
        msg = (
            f"{field}: contents.{name} holds {len(values)} value(s) but "
            f"{_describe(datatype, shape)} needs {count}{where}"
        )
        raise InvalidArgumentError(msg, field=field)
    if datatype == "BYTES":
        return _object_array(list(values), shape)
    if datatype in _NARROW:
        wide = np.array(values, dtype=np.int64)
        info = np.iinfo(dtype)
        if wide.size and (wide.min() < info.min or wide.max() > info.max):
            msg = f"{field}: a value is outside the {datatype} range [{info.min}, {info.max}]"
            raise InvalidArgumentError(msg, field=field)
        return wide.astype(dtype).reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


def encode_raw(data: np.ndarray[Any, Any], datatype: str) -> bytes:
    """Encode one tensor as raw bytes, casting its elements to ``datatype``'s type first."""
    if datatype != "BYTES" or data.dtype.kind not in "OSU":
        data = data.astype(numpy_dtype(datatype), copy=False)
    return serialize_raw(data)
