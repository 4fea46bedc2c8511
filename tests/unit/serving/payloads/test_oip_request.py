"""OIP v2 REST request decoding: JSON data, the binary extension, and every malformed field."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads import HEADER_LENGTH, decode_infer_request
from conveyor.serving.tensors import serialize_raw


def _body(*inputs: Any, **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


def _input(data: Any = None, **fields: Any) -> dict[str, Any]:
    doc = {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": data, **fields}
    return {k: v for k, v in doc.items() if v is not None}


def test_decodes_nested_and_flat_json_data_alike() -> None:
    nested = decode_infer_request(_body(_input([[1, 2], [3, 4.5]])))
    flat = decode_infer_request(_body(_input([1, 2, 3, 4.5])))
    for request in (nested, flat):
        (tensor,) = request.inputs
        assert tensor.shape == (2, 2)
        assert tensor.data.dtype == np.float32
        np.testing.assert_array_equal(tensor.data, [[1, 2], [3, 4.5]])


def test_keeps_id_parameters_and_requested_outputs() -> None:
    body = _body(
        _input([1, 2, 3, 4], parameters={"content_type": "np"}),
        id="req-1",
        parameters={"binary_data_output": True, "priority": 1},
        outputs=[{"name": "y", "parameters": {"binary_data": False}}, {"name": "z"}],
    )
    request = decode_infer_request(body)
    assert request.id == "req-1"
    assert request.parameters == {"binary_data_output": True, "priority": 1}
    assert [(o.name, o.parameters) for o in request.outputs] == [
        ("y", {"binary_data": False}),
        ("z", {}),
    ]
    assert request.inputs[0].parameters == {"content_type": "np"}


@pytest.mark.parametrize(
    ("datatype", "data", "expected"),
    [
        ("BOOL", [True, False], np.array([True, False])),
        ("UINT8", [0, 255], np.array([0, 255], dtype=np.uint8)),
        ("INT8", [-128, 127], np.array([-128, 127], dtype=np.int8)),
        ("INT64", [-(2**63), 2**63 - 1], np.array([-(2**63), 2**63 - 1])),
        ("UINT64", [0, 2**64 - 1], np.array([0, 2**64 - 1], dtype=np.uint64)),
        ("FP16", [0.5, -2], np.array([0.5, -2], dtype=np.float16)),
        ("FP64", [1, 0.1], np.array([1, 0.1])),
        ("BYTES", ["a", "héllo"], np.array([b"a", "héllo".encode()], dtype=object)),
    ],
)
def test_decodes_every_datatype_from_json(datatype: str, data: Any, expected: Any) -> None:
    body = _body({"name": "x", "shape": [2], "datatype": datatype, "data": data})
    (tensor,) = decode_infer_request(body).inputs
    assert tensor.data.dtype == expected.dtype
    assert tensor.data.tolist() == expected.tolist()


def test_decodes_scalars_and_empty_tensors() -> None:
    scalar = decode_infer_request(_body(_input(7, shape=[], datatype="INT32"))).inputs[0]
    assert scalar.data.shape == ()
    assert scalar.data.item() == 7
    empty = decode_infer_request(_body(_input([], shape=[0, 3]))).inputs[0]
    assert empty.data.shape == (0, 3)
    empty_bytes = decode_infer_request(_body(_input([], shape=[0], datatype="BYTES"))).inputs[0]
    assert empty_bytes.data.shape == (0,)


def test_decodes_binary_inputs_after_the_json_header() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    words = np.array([b"ab", b"", b"\xff\x00"], dtype=object)
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 3],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 24},
                },
                {"name": "j", "shape": [2], "datatype": "INT64", "data": [5, 6]},
                {
                    "name": "w",
                    "shape": [3],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": 4 * 3 + 4},
                },
            ]
        }
    )
    body = head + x.tobytes() + serialize_raw(words)
    x_out, j_out, w_out = decode_infer_request(body, str(len(head))).inputs
    np.testing.assert_array_equal(x_out.data, x)
    assert x_out.data.flags.writeable  # a copy, not a view of the read-only body
    assert j_out.data.tolist() == [5, 6]
    assert w_out.data.tolist() == [b"ab", b"", b"\xff\x00"]
    assert x_out.parameters == {}  # the transport's binary_data_size is not kept


def test_decodes_what_tritonclient_sends() -> None:
    x = np.random.default_rng(0).random((3, 4))
    words = np.array([["a", "bc"], ["", "d"]], dtype=object)
    flags = np.array([True, False])
    inputs = [
        triton.InferInput("x", [3, 4], "FP64").set_data_from_numpy(x, binary_data=True),
        triton.InferInput("w", [2, 2], "BYTES").set_data_from_numpy(words, binary_data=False),
        triton.InferInput("f", [2], "BOOL").set_data_from_numpy(flags, binary_data=True),
    ]
    outputs = [triton.InferRequestedOutput("y", binary_data=False)]
    body, header_length = triton.InferenceServerClient.generate_request_body(
        inputs, outputs=outputs, request_id="abc", parameters={"temperature": 0.5}
    )
    request = decode_infer_request(body, header_length)
    assert request.id == "abc"
    assert request.parameters == {"temperature": 0.5}
    assert request.outputs[0].name == "y"
    assert request.outputs[0].parameters == {"binary_data": False}
    got = {t.name: t.data for t in request.inputs}
    np.testing.assert_array_equal(got["x"], x)
    assert got["w"].tolist() == [[b"a", b"bc"], [b"", b"d"]]
    assert got["f"].tolist() == [True, False]


def test_a_tritonclient_request_without_outputs_asks_for_binary_outputs() -> None:
    x = triton.InferInput("x", [1], "FP32").set_data_from_numpy(np.ones(1, np.float32))
    body, header_length = triton.InferenceServerClient.generate_request_body([x])
    assert decode_infer_request(body, header_length).parameters == {"binary_data_output": True}


BAD_JSON_BODIES = [
    (b"{", "body", "not valid JSON"),
    (b"[1]", "body", "must be a JSON object"),
    (b"\xff\xfe", "body", "not valid JSON"),
    (b"{}", "inputs", "non-empty list"),
    (_body(), "inputs", "non-empty list"),
    (orjson.dumps({"inputs": {"name": "x"}}), "inputs", "non-empty list"),
    (_body(5), "inputs[0]", "must be an object"),
    (_body(_input([1, 2, 3, 4], name="")), "inputs[0].name", "non-empty string"),
    (_body({"shape": [1], "datatype": "FP32", "data": [1]}), "inputs[0].name", "required"),
    (_body(_input([1, 2, 3, 4], datatype="FP8")), "inputs[0].datatype", "unknown datatype"),
    (_body({"name": "x", "shape": [1], "data": [1]}), "inputs[0].datatype", "is required"),
    (_body({"name": "x", "datatype": "FP32", "data": [1]}), "inputs[0].shape", "list of whole"),
    (_body(_input([1, 2, 3, 4], shape="2,2")), "inputs[0].shape", "list of whole"),
    (_body(_input([1, 2, 3, 4], shape=[2.0, 2])), "inputs[0].shape", "list of whole"),
    (_body(_input([1, 2, 3, 4], shape=[True, 4])), "inputs[0].shape", "list of whole"),
    (_body(_input([1, 2], shape=[-1, 2])), "inputs[0].shape", "negative dimension"),
    (_body({"name": "x", "shape": [1], "datatype": "FP32"}), "inputs[0].data", "has no data"),
    (_body(_input([1, 2, 3])), "inputs[0].data", "holds 3 values"),
    (_body(_input([[1, 2, 3, 4]])), "inputs[0].data", r"shaped \[1, 4\]"),
    (_body(_input([[1, 2], [3]])), "inputs[0].data", "same length"),
    (_body(_input([1, 2, "3", 4])), "inputs[0].data", r"'3' is not a number \(float32\)"),
    (_body(_input([1, 2, None, 4])), "inputs[0].data", r"null is not a number \(float32\)"),
    (_body(_input([1, 2, {"a": 1}, 4])), "inputs[0].data", r"\{'a': 1\} is not a number"),
    (_body(_input([1, 2, 3, 1e300])), "inputs[0].data", "out of range for float32"),
    (_body(_input([1, 2, 3, 4.5], datatype="INT32")), "inputs[0].data", "whole numbers"),
    (_body(_input([1, 2, 3, 300], datatype="INT8")), "inputs[0].data", "out of range"),
    (_body(_input([1, 2, 3, -1], datatype="UINT16")), "inputs[0].data", "out of range"),
    (_body(_input([1, 0, 2, 1], datatype="BOOL")), "inputs[0].data", "true or false"),
    (_body(_input([1, 2, 3, 4], datatype="BYTES")), "inputs[0].data", "must be strings"),
    (_body(_input([1, 2, 3, 4], parameters=[1])), "inputs[0].parameters", "must be an object"),
    (
        _body(_input([1, 2, 3, 4], parameters={"shared_memory_region": "r"})),
        "inputs[0].parameters.shared_memory_region",
        "not supported",
    ),
    (_body(_input([1, 2, 3, 4]), _input([1, 2, 3, 4])), "inputs", "more than once"),
    (_body(_input([1, 2, 3, 4]), id=5), "id", "must be a string"),
    (_body(_input([1, 2, 3, 4]), parameters=[]), "parameters", "must be an object"),
    (
        _body(_input([1, 2, 3, 4]), parameters={"binary_data_output": "yes"}),
        "parameters.binary_data_output",
        "true or false",
    ),
    (_body(_input([1, 2, 3, 4]), outputs={"name": "y"}), "outputs", "must be a list"),
    (_body(_input([1, 2, 3, 4]), outputs=["y"]), "outputs[0]", "must be an object"),
    (_body(_input([1, 2, 3, 4]), outputs=[{}]), "outputs[0].name", "required"),
    (
        _body(_input([1, 2, 3, 4]), outputs=[{"name": "y"}, {"name": "y"}]),
        "outputs",
        "more than once",
    ),
    (
        _body(_input([1, 2, 3, 4]), outputs=[{"name": "y", "parameters": {"binary_data": 1}}]),
        "outputs[0].parameters.binary_data",
        "true or false",
    ),
    (
        _body(_input([1, 2, 3, 4]), outputs=[{"name": "y", "parameters": {"classification": 3}}]),
        "outputs[0].parameters.classification",
        "not supported",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_JSON_BODIES)
def test_malformed_json_requests_name_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        decode_infer_request(body)
    assert caught.value.field == field


def _binary_body(size: Any, payload: bytes, datatype: str = "FP32", shape: Any = None) -> bytes:
    shape = [2] if shape is None else shape
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": shape,
                    "datatype": datatype,
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    )
    return head + payload


@pytest.mark.parametrize(
    ("body", "header_length", "field", "message"),
    [
        (_binary_body(8, b""), None, HEADER_LENGTH, "header is missing"),
        (_binary_body(8, bytes(8)), None, "body", f"needs the {HEADER_LENGTH} header"),
        (_binary_body(8, bytes(8)), "x", HEADER_LENGTH, "JSON part's length"),
        (_binary_body(8, bytes(8)), -1, HEADER_LENGTH, "JSON part's length"),
        (_binary_body(8, bytes(8)), 10_000, HEADER_LENGTH, "JSON part's length"),
        (_binary_body(8, bytes(4)), "json", "inputs[0].parameters.binary_data_size", "only 4"),
        (_binary_body(4, bytes(4)), "json", "inputs[0].parameters", "takes 8 bytes"),
        (_binary_body(8, bytes(12)), "json", HEADER_LENGTH, "4 bytes follow"),
        (_binary_body(-8, bytes(8)), "json", "inputs[0].parameters.binary_data_size", ">= 0"),
        (_binary_body("8", bytes(8)), "json", "inputs[0].parameters.binary_data_size", ">= 0"),
        (
            _binary_body(6, b"\x05\x00\x00\x00ab", "BYTES", [1]),
            "json",
            "inputs[0].parameters",
            "runs past the end",
        ),
        (
            _binary_body(6, b"\x01\x00\x00\x00ab", "BYTES", [1]),
            "json",
            "inputs[0].parameters",
            "length prefix",
        ),
        (
            _binary_body(5, b"\x01\x00\x00\x00a", "BYTES", [2]),
            "json",
            "inputs[0].parameters",
            "holds 1 elements, the shape needs 2",
        ),
    ],
)
def test_malformed_binary_requests_name_the_field(
    body: bytes, header_length: Any, field: str, message: str
) -> None:
    if header_length == "json":
        header_length = body.index(b"}]}") + 3
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        decode_infer_request(body, header_length)
    assert caught.value.field == field


def test_an_input_may_not_carry_both_data_and_binary_data() -> None:
    head = _body(_input([1, 2, 3, 4], parameters={"binary_data_size": 16}))
    with pytest.raises(InvalidArgumentError, match="both data and binary_data_size"):
        decode_infer_request(head + bytes(16), len(head))
