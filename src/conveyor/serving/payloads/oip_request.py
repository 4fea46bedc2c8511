"""Decode an Open Inference Protocol v2 REST inference request, with Triton's binary extension.

The body is ``{"id", "parameters", "inputs": [...], "outputs": [...]}``. An input carries its
values as JSON ``data`` (nested or flat, row-major) or, under the binary tensor data extension,
as ``"parameters": {"binary_data_size": N}`` bytes that follow the JSON, which is then
``Inference-Header-Content-Length`` bytes long.

References:
    https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/ and
    https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads.json_numbers import brief, numbers_array, parse_array
from conveyor.serving.tensors import (
    InferRequest,
    RequestedOutput,
    Tensor,
    deserialize_raw,
    numpy_dtype,
)

HEADER_LENGTH = "Inference-Header-Content-Length"
_UNSUPPORTED = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


def decode_infer_request(body: bytes, header_length: int | str | None = None) -> InferRequest:
    """Decode an OIP v2 inference request body.

    Args:
        body: the whole HTTP body.
        header_length: the ``Inference-Header-Content-Length`` header when present: the JSON
            part's length, binary tensor data following it.

    Raises:
        InvalidArgumentError: anything malformed, naming the field (``inputs[0].shape``, ...).
    """
    size = _header_size(header_length, len(body))
    head = _load_object(body if size is None else body[:size], has_header=size is not None)
    binary = _BinaryReader(memoryview(body)[size:] if size is not None else None)
    inputs = [_input(doc, i, binary) for i, doc in enumerate(_inputs_list(head))]
    binary.finish()
    _check_unique([t.name for t in inputs], "inputs")
    return InferRequest(
        inputs=inputs,
        id=_optional_str(head.get("id"), "id"),
        parameters=_parameters(head.get("parameters"), "parameters"),
        outputs=_outputs(head.get("outputs")),
    )


def _header_size(header_length: int | str | None, body_size: int) -> int | None:
    if header_length is None:
        return None
    try:
        size = int(header_length)
    except ValueError:
        size = -1
    if not 0 <= size <= body_size:
        msg = (
            f"{HEADER_LENGTH} is {header_length!r}; it must be the JSON part's length in bytes, "
            f"between 0 and the body's {body_size}"
        )
        raise InvalidArgumentError(msg, field=HEADER_LENGTH)
    return size


def _load_object(text: bytes, *, has_header: bool) -> dict[str, Any]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        msg = f"the request body is not valid JSON ({exc}); send an OIP inference request object"
        if not has_header:  # perhaps binary data after the JSON
            msg += f" (binary tensor data needs the {HEADER_LENGTH} header)"
        raise InvalidArgumentError(msg, field="body") from None
    if not isinstance(doc, dict):
        msg = f"the request body must be a JSON object, got {_kind(doc)}"
        raise InvalidArgumentError(msg, field="body")
    return doc


def _inputs_list(head: dict[str, Any]) -> list[Any]:
    inputs = head.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        msg = (
            'the request needs "inputs": a non-empty list of {"name", "shape", "datatype", "data"}'
        )
        raise InvalidArgumentError(msg, field="inputs")
    return inputs


def _input(doc: Any, i: int, binary: _BinaryReader) -> Tensor:
    where = f"inputs[{i}]"
    if not isinstance(doc, dict):
        msg = f"{where} must be an object with name, shape, datatype and data, got {_kind(doc)}"
        raise InvalidArgumentError(msg, field=where)
    name = _required_str(doc, "name", where)
    datatype = _required_str(doc, "datatype", where)
    dtype = numpy_dtype(datatype, field_name=f"{where}.datatype")
    shape = _shape(doc.get("shape"), f"{where}.shape")
    parameters = _parameters(doc.get("parameters"), f"{where}.parameters")
    binary_size = parameters.pop("binary_data_size", None)
    if binary_size is not None:
        if "data" in doc:
            msg = f"{where} has both data and binary_data_size; send the values one way"
            raise InvalidArgumentError(msg, field=f"{where}.data")
        raw = binary.take(binary_size, f"{where}.parameters.binary_data_size")
        data = deserialize_raw(raw, datatype, shape, field_name=f"{where}.parameters")
    elif "data" in doc:
        data = _json_data(doc["data"], datatype, dtype, shape, f"{where}.data")
    else:
        msg = f"{where} has no data; send its values as data or binary_data_size"
        raise InvalidArgumentError(msg, field=f"{where}.data")
    return Tensor(name=name, datatype=datatype, shape=shape, data=data, parameters=parameters)


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(type(d) is int for d in value):
        msg = f"{where} must be a list of whole numbers, got {brief(value)}"
        raise InvalidArgumentError(msg, field=where)
    if any(d < 0 for d in value):
        msg = f"{where} has a negative dimension {brief(value)}; every dimension must be >= 0"
        raise InvalidArgumentError(msg, field=where)
    return tuple(value)


def _json_data(
    values: Any, datatype: str, dtype: np.dtype[Any], shape: tuple[int, ...], where: str
) -> np.ndarray[Any, Any]:
    if datatype == "BYTES":
        array = _bytes_array(values, where)
    else:
        array = numbers_array(values, dtype, where)
    if array.shape == shape:
        return array
    if array.ndim <= 1 and array.size == math.prod(shape):  # flat (row-major) data
        return array.reshape(shape)
    msg = (
        f"{where} holds {array.size} values shaped {list(array.shape)}, but shape is "
        f"{list(shape)} ({math.prod(shape)} values); send data flat or nested like shape"
    )
    raise InvalidArgumentError(msg, field=where)


def _bytes_array(values: Any, where: str) -> np.ndarray[Any, Any]:
    array = parse_array(values, where, dtype=np.dtype(object))  # keeps the original values
    flat = array.ravel()
    for i, value in enumerate(flat.tolist()):
        if not isinstance(value, str):
            msg = f"{where}: BYTES values must be strings, got {brief(value)}; send text"
            raise InvalidArgumentError(msg, field=where)
        flat[i] = value.encode()
    return flat.reshape(array.shape)


def _outputs(value: Any) -> list[RequestedOutput]:
    if value is None:
        return []
    if not isinstance(value, list):
        msg = f'"outputs" must be a list of {{"name", "parameters"}} objects, got {_kind(value)}'
        raise InvalidArgumentError(msg, field="outputs")
    outputs = []
    for i, doc in enumerate(value):
        where = f"outputs[{i}]"
        if not isinstance(doc, dict):
            msg = f"{where} must be an object with a name, got {_kind(doc)}"
            raise InvalidArgumentError(msg, field=where)
        parameters = _parameters(doc.get("parameters"), f"{where}.parameters")
        _check_output_parameters(parameters, f"{where}.parameters")
        outputs.append(RequestedOutput(_required_str(doc, "name", where), parameters))
    _check_unique([o.name for o in outputs], "outputs")
    return outputs


def _check_output_parameters(parameters: dict[str, Any], where: str) -> None:
    if not isinstance(parameters.get("binary_data", False), bool):
        msg = f"{where}.binary_data must be true or false, got {brief(parameters['binary_data'])}"
        raise InvalidArgumentError(msg, field=f"{where}.binary_data")
    if parameters.get("classification"):
        msg = f"{where}.classification: the classification extension is not supported"
        raise InvalidArgumentError(msg, field=f"{where}.classification")


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = f"{where} must be an object, got {_kind(value)}"
        raise InvalidArgumentError(msg, field=where)
    for key in _UNSUPPORTED:
        if key in value:
            msg = f"{where}.{key}: the shared-memory extension is not supported; send the data"
            raise InvalidArgumentError(msg, field=f"{where}.{key}")
    if "binary_data_output" in value and not isinstance(value["binary_data_output"], bool):
        msg = f"{where}.binary_data_output must be true or false"
        raise InvalidArgumentError(msg, field=f"{where}.binary_data_output")
    return dict(value)


def _required_str(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        msg = f"{where}.{key} is required and must be a non-empty string, got {brief(value)}"
        raise InvalidArgumentError(msg, field=f"{where}.{key}")
    return value


def _optional_str(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    msg = f"{where} must be a string, got {_kind(value)}"
    raise InvalidArgumentError(msg, field=where)


def _check_unique(names: list[str], where: str) -> None:
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        msg = f"{where}: the name {twice!r} appears more than once; names must be unique"
        raise InvalidArgumentError(msg, field=where)


def _kind(value: Any) -> str:
    if isinstance(value, dict | list | str):
        return {dict: "an object", list: "a list"}.get(type(value), "a string")
    return brief(value)


class _BinaryReader:
    """Hands out consecutive slices of the binary part, and checks that all of it is used."""

    def __init__(self, view: memoryview | None) -> None:
        self._view = view
        self._pos = 0

    def take(self, size: Any, where: str) -> memoryview:
        if self._view is None:
            msg = f"{where} is set but the {HEADER_LENGTH} header is missing; send it"
            raise InvalidArgumentError(msg, field=HEADER_LENGTH)
        if type(size) is not int or size < 0:
            msg = f"{where} must be a whole number of bytes >= 0, got {brief(size)}"
            raise InvalidArgumentError(msg, field=where)
        end = self._pos + size
        if end > len(self._view):
            left = len(self._view) - self._pos
            msg = f"{where} is {size} but only {left} bytes of binary data are left in the body"
            raise InvalidArgumentError(msg, field=where)
        chunk = self._view[self._pos : end]
        self._pos = end
        return chunk

    def finish(self) -> None:
        if self._view is not None and self._pos != len(self._view):
            extra = len(self._view) - self._pos
            msg = (
                f"{extra} bytes follow the JSON header that no input claims; the inputs' "
                f"binary_data_size values must add up to the body length minus {HEADER_LENGTH}"
            )
            raise InvalidArgumentError(msg, field=HEADER_LENGTH)
