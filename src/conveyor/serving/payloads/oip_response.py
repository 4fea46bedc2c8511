"""Encode an Open Inference Protocol v2 REST inference response (and error body).

An output goes as binary data after the JSON when the request asks for it: its requested
output has ``"parameters": {"binary_data": true}``, or, for outputs that do not say, the request
has ``"parameters": {"binary_data_output": true}`` (tritonclient sets one or the other). The JSON
is then ``Inference-Header-Content-Length`` bytes long. Other outputs carry flat JSON ``data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads.json_encoding import dumps
from conveyor.serving.payloads.oip_request import HEADER_LENGTH
from conveyor.serving.tensors import (
    InferRequest,
    InferResponse,
    Tensor,
    numpy_dtype,
    serialize_raw,
)


def encode_infer_response(
    response: InferResponse, request: InferRequest | None = None
) -> tuple[bytes, dict[str, str]]:
    """Return the body of an OIP inference response and the headers it needs.

    Args:
        response: what the model answered.
        request: the request it answers; its ``outputs`` choose which outputs are returned (in
            that order) and which go binary, its ``binary_data_output`` parameter the default.

    Returns:
        The body, and ``{"Inference-Header-Content-Length": ...}`` when any output is binary
        (else no headers).

    Raises:
        InvalidArgumentError: the request asks for an output the model does not produce.
    """
    if request is None:
        request = InferRequest(inputs=[])
    default = bool(request.parameters.get("binary_data_output", False))
    binary = {o.name: o.parameters.get("binary_data", default) for o in request.outputs}
    documents, blobs = [], []
    for tensor in select_outputs(response, request):
        document, blob = _output(tensor, is_binary=binary.get(tensor.name, default))
        documents.append(document)
        if blob is not None:
            blobs.append(blob)
    head = dumps(_head(response, documents))
    if not blobs:
        return head, {}
    return b"".join([head, *blobs]), {HEADER_LENGTH: str(len(head))}


def select_outputs(response: InferResponse, request: InferRequest) -> list[Tensor]:
    """Return the outputs the request asks for, in its order (all of them when it names none)."""
    if not request.outputs:
        return response.outputs
    by_name = {t.name: t for t in response.outputs}
    selected = []
    for i, requested in enumerate(request.outputs):
        tensor = by_name.get(requested.name)
        if tensor is None:
            msg = (
                f"the model has no output {requested.name!r}; "
                f"ask for one of {sorted(by_name)} or leave outputs out"
            )
            raise InvalidArgumentError(msg, field=f"outputs[{i}].name")
        selected.append(tensor)
    return selected


def encode_error(message: str) -> bytes:
    """Return the OIP error body ``{"error": message}``.

    Examples:
        >>> encode_error("model 'm' not found")
        b'{"error":"model \\'m\\' not found"}'
    """
    return dumps({"error": message})


def _head(response: InferResponse, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    head: dict[str, Any] = {"model_name": response.model_name}
    if response.model_version is not None:
        head["model_version"] = response.model_version
    if response.id is not None:
        head["id"] = response.id
    if response.parameters:
        head["parameters"] = response.parameters
    head["outputs"] = outputs
    return head


def _output(tensor: Tensor, *, is_binary: bool) -> tuple[dict[str, Any], bytes | None]:
    document: dict[str, Any] = {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(tensor.shape),
    }
    parameters = dict(tensor.parameters)
    array = np.asarray(tensor.data, dtype=numpy_dtype(tensor.datatype))  # as declared
    data = None if is_binary else _json_data(array, tensor.datatype)
    if data is None:  # asked for binary, or BYTES that are not UTF-8 text
        blob = serialize_raw(array)
        parameters["binary_data_size"] = len(blob)
    if parameters:
        document["parameters"] = parameters
    if data is not None:
        document["data"] = data
        return document, None
    return document, blob


def _json_data(array: np.ndarray[Any, Any], datatype: str) -> Any:
    """Return the flat JSON values of a tensor, or None when BYTES are not UTF-8 text."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array).reshape(-1)
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in array.ravel().tolist()]
    except UnicodeDecodeError:
        return None
