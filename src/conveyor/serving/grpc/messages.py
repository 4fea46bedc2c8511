"""Protobuf messages of the OIP gRPC API to and from Conveyor's transport-neutral types."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np
import orjson
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from conveyor.errors import InvalidArgumentError
from conveyor.serving.grpc import inference_pb2 as pb
from conveyor.serving.grpc.tensor_codec import decode_contents, encode_raw
from conveyor.serving.tensors import (
    InferRequest,
    InferResponse,
    RequestedOutput,
    Tensor,
    deserialize_raw,
)

_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1


def decode_parameters(parameters: Mapping[str, pb.InferParameter]) -> dict[str, Any]:
    """Return the parameter map as plain Python values (parameters with no value are dropped)."""
    values: dict[str, Any] = {}
    for key, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        if choice is not None:
            values[key] = getattr(parameter, choice)
    return values


def encode_parameters(
    values: Mapping[str, Any], target: MutableMapping[str, pb.InferParameter]
) -> None:
    """Write plain Python values into a parameter map; other values travel as JSON strings."""
    for key, raw in values.items():
        value = raw.item() if isinstance(raw, np.generic) else raw
        if value is None:
            continue
        parameter = target[key]
        if isinstance(value, bool):
            parameter.bool_param = value
        elif isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
            parameter.int64_param = value
        elif isinstance(value, int) and 0 <= value <= _UINT64_MAX:
            parameter.uint64_param = value
        elif isinstance(value, float):
            parameter.double_param = value
        elif isinstance(value, str):
            parameter.string_param = value
        else:
            parameter.string_param = orjson.dumps(value, default=str).decode()


def _shape(dims: Any, field: str) -> tuple[int, ...]:
    shape = tuple(int(d) for d in dims)
    if any(d < 0 for d in shape):
        msg = f"{field}: shape {list(shape)} has a negative dimension; give each dimension's size"
        raise InvalidArgumentError(msg, field=f"{field}.shape")
    return shape


def _check_raw_layout(request: pb.ModelInferRequest) -> bool:
    """Whether the request carries raw data, after checking it has one entry per input."""
    raw_count = len(request.raw_input_contents)
    if raw_count == 0:
        return False
    if raw_count != len(request.inputs):
        msg = (
            f"raw_input_contents has {raw_count} entries but the request has "
            f"{len(request.inputs)} inputs; send one entry per input, in the order of inputs"
        )
        raise InvalidArgumentError(msg, field="raw_input_contents")
    for index, tensor in enumerate(request.inputs):
        if tensor.HasField("contents"):
            msg = (
                f"inputs[{index}] ({tensor.name!r}) has contents while the request also carries "
                "raw_input_contents; send every input one way or the other"
            )
            raise InvalidArgumentError(msg, field=f"inputs[{index}].contents")
    return True


def _decode_input(request: pb.ModelInferRequest, index: int, *, raw: bool) -> Tensor:
    tensor = request.inputs[index]
    field = f"inputs[{index}]"
    shape = _shape(tensor.shape, field)
    if raw:
        data = deserialize_raw(
            request.raw_input_contents[index], tensor.datatype, shape, field_name=field
        )
    elif tensor.HasField("contents") or math.prod(shape) == 0:
        data = decode_contents(tensor.contents, tensor.datatype, shape, field=field)
    else:
        msg = f"{field} ({tensor.name!r}) has no data; fill its contents or send raw_input_contents"
        raise InvalidArgumentError(msg, field=field)
    return Tensor(
        name=tensor.name,
        datatype=tensor.datatype,
        shape=shape,
        data=data,
        parameters=decode_parameters(tensor.parameters),
    )


def _check_names(names: list[str], kind: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        field = f"{kind}[{index}].name"
        if not name:
            msg = f"{field} is empty; name every {kind[:-1]}"
            raise InvalidArgumentError(msg, field=field)
        if name in seen:
            msg = f"{field}: {kind[:-1]} {name!r} appears twice; send each once"
            raise InvalidArgumentError(msg, field=field)
        seen.add(name)


def decode_infer_request(request: pb.ModelInferRequest) -> tuple[str, str | None, InferRequest]:
    """Return ``(model name, version or None, request)`` for a ``ModelInferRequest``."""
    if not request.model_name:
        msg = "model_name is empty; name the model to run"
        raise InvalidArgumentError(msg, field="model_name")
    if not request.inputs:
        msg = "the request has no inputs; send at least one input tensor"
        raise InvalidArgumentError(msg, field="inputs")
    _check_names([tensor.name for tensor in request.inputs], "inputs")
    _check_names([output.name for output in request.outputs], "outputs")
    raw = _check_raw_layout(request)
    inputs = [_decode_input(request, index, raw=raw) for index in range(len(request.inputs))]
    outputs = [
        RequestedOutput(name=output.name, parameters=decode_parameters(output.parameters))
        for output in request.outputs
    ]
    decoded = InferRequest(
        inputs=inputs,
        id=request.id or None,
        parameters=decode_parameters(request.parameters),
        outputs=outputs,
    )
    return request.model_name, request.model_version or None, decoded


def _select_outputs(response: InferResponse, requested: list[RequestedOutput]) -> list[Tensor]:
    if not requested:
        return response.outputs
    by_name = {tensor.name: tensor for tensor in response.outputs}
    selected: list[Tensor] = []
    for index, output in enumerate(requested):
        tensor = by_name.get(output.name)
        if tensor is None:
            msg = (
                f"outputs[{index}]: model {response.model_name!r} has no output "
                f"{output.name!r}; it returns {sorted(by_name)}"
            )
            raise InvalidArgumentError(msg, field=f"outputs[{index}].name")
        selected.append(tensor)
    return selected


def encode_infer_response(
    response: InferResponse, requested: list[RequestedOutput]
) -> pb.ModelInferResponse:
    """Return the ``ModelInferResponse`` for a response, with the requested outputs (all when
    none were requested) as raw_output_contents, which is how Triton answers."""
    message = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version or "",
        id=response.id or "",
    )
    encode_parameters(response.parameters, message.parameters)
    for tensor in _select_outputs(response, requested):
        if math.prod(tensor.shape) != tensor.data.size:
            msg = f"output {tensor.name!r} has shape {tensor.shape} but {tensor.data.size} values"
            raise ValueError(msg)
        output = message.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        encode_parameters(tensor.parameters, output.parameters)
        message.raw_output_contents.append(encode_raw(tensor.data, tensor.datatype))
    return message


def _tensor_metadata(
    specs: list[Mapping[str, Any]],
    target: RepeatedCompositeFieldContainer[pb.ModelMetadataResponse.TensorMetadata],
) -> None:
    for spec in specs:
        target.add(
            name=str(spec["name"]),
            datatype=str(spec["datatype"]),
            shape=[int(d) for d in spec.get("shape", ())],
        )


def encode_model_metadata(metadata: Mapping[str, Any]) -> pb.ModelMetadataResponse:
    """Return the ``ModelMetadataResponse`` for the backend's model metadata dict."""
    message = pb.ModelMetadataResponse(
        name=str(metadata["name"]),
        versions=[str(v) for v in metadata.get("versions", ())],
        platform=str(metadata.get("platform", "")),
    )
    _tensor_metadata(list(metadata.get("inputs", ())), message.inputs)
    _tensor_metadata(list(metadata.get("outputs", ())), message.outputs)
    return message


def encode_server_metadata(metadata: Mapping[str, Any]) -> pb.ServerMetadataResponse:
    """Return the ``ServerMetadataResponse`` for the backend's server metadata dict."""
    return pb.ServerMetadataResponse(
        name=str(metadata["name"]),
        version=str(metadata.get("version", "")),
        extensions=[str(e) for e in metadata.get("extensions", ())],
    )
