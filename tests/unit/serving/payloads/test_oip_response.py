"""OIP v2 REST response encoding, read back by tritonclient.http's own parser."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.http import _utils as triton_utils

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads import (
    HEADER_LENGTH,
    decode_infer_request,
    encode_error,
    encode_infer_response,
    predictions_to_tensors,
)
from conveyor.serving.tensors import InferRequest, InferResponse, RequestedOutput, Tensor

OUTPUTS = {
    "probs": np.array([[0.25, 0.75], [np.nan, 1.0]], dtype=np.float32),
    "label": np.array([1, 0], dtype=np.int64),
    "flag": np.array([True, False]),
    "half": np.array([0.5, -1.5], dtype=np.float16),
    "small": np.array([[200, 3]], dtype=np.uint8),
    "text": np.array([b"yes", "né".encode()], dtype=object),
}


def _response() -> InferResponse:
    return InferResponse(
        model_name="churn",
        model_version="3",
        id="req-7",
        outputs=predictions_to_tensors(OUTPUTS),
    )


def _client_request(outputs: list[Any] | None) -> InferRequest:
    x = triton.InferInput("x", [1], "FP32").set_data_from_numpy(np.ones(1, np.float32))
    body, header_length = triton.InferenceServerClient.generate_request_body([x], outputs=outputs)
    return decode_infer_request(body, header_length)


def _parse(body: bytes, headers: dict[str, str]) -> Any:
    header_length = headers.get(HEADER_LENGTH)
    return triton.InferenceServerClient.parse_response_body(
        body, header_length=None if header_length is None else int(header_length)
    )


def _assert_same(got: Any, expected: Any) -> None:
    assert expected.dtype in {got.dtype, np.dtype(object)}
    assert got.shape == expected.shape
    if expected.dtype.kind == "f":
        np.testing.assert_array_equal(got, expected)  # NaN compares equal here
    else:
        assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_reads_every_output_as_requested(binary: bool) -> None:
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in OUTPUTS]
    body, headers = encode_infer_response(_response(), _client_request(outputs))
    assert (HEADER_LENGTH in headers) is binary
    result = _parse(body, headers)
    assert result.get_response()["model_name"] == "churn"
    assert result.get_response()["model_version"] == "3"
    assert result.get_response()["id"] == "req-7"
    for name, sent in OUTPUTS.items():
        expected = sent
        if name == "text" and not binary:
            expected = np.array(["yes", "né"], dtype=object)  # JSON BYTES come back as text
        _assert_same(result.as_numpy(name), expected)


def test_without_requested_outputs_tritonclient_gets_all_of_them_binary() -> None:
    body, headers = encode_infer_response(_response(), _client_request(None))
    assert int(headers[HEADER_LENGTH]) < len(body)
    result = _parse(body, headers)
    for name, expected in OUTPUTS.items():
        _assert_same(result.as_numpy(name), expected)


def test_requested_outputs_are_returned_in_request_order_mixing_binary_and_json() -> None:
    outputs = [
        triton.InferRequestedOutput("label", binary_data=False),
        triton.InferRequestedOutput("probs", binary_data=True),
    ]
    body, headers = encode_infer_response(_response(), _client_request(outputs))
    result = _parse(body, headers)
    document = result.get_response()
    assert [o["name"] for o in document["outputs"]] == ["label", "probs"]
    assert document["outputs"][0]["data"] == [1, 0]
    assert document["outputs"][1]["parameters"] == {"binary_data_size": 16}
    _assert_same(result.as_numpy("probs"), OUTPUTS["probs"])


def test_json_only_responses_have_no_extra_header_and_flat_data_with_nulls() -> None:
    body, headers = encode_infer_response(_response())
    assert headers == {}
    document = orjson.loads(body)
    probs = next(o for o in document["outputs"] if o["name"] == "probs")
    assert probs == {
        "name": "probs",
        "datatype": "FP32",
        "shape": [2, 2],
        "data": [0.25, 0.75, None, 1.0],
    }


def test_bytes_that_are_not_text_go_binary_even_when_json_was_asked() -> None:
    response = InferResponse("m", [Tensor("raw", "BYTES", (1,), np.array([b"\xff"], object))])
    request = InferRequest(inputs=[], outputs=[RequestedOutput("raw", {"binary_data": False})])
    body, headers = encode_infer_response(response, request)
    assert _parse(body, headers).as_numpy("raw").tolist() == [b"\xff"]


def test_request_level_binary_data_output_is_the_default_for_unmarked_outputs() -> None:
    request = InferRequest(
        inputs=[],
        parameters={"binary_data_output": True},
        outputs=[RequestedOutput("label"), RequestedOutput("flag", {"binary_data": False})],
    )
    body, headers = encode_infer_response(_response(), request)
    document = orjson.loads(body[: int(headers[HEADER_LENGTH])])
    assert document["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert document["outputs"][1]["data"] == [True, False]


def test_output_data_follows_the_declared_datatype() -> None:
    response = InferResponse("m", [Tensor("y", "FP32", (2,), np.array([1.5, 2.5]))])
    request = InferRequest(inputs=[], parameters={"binary_data_output": True})
    body, headers = encode_infer_response(response, request)
    assert _parse(body, headers).as_numpy("y").tolist() == [1.5, 2.5]


def test_asking_for_an_unknown_output_names_it() -> None:
    request = InferRequest(inputs=[], outputs=[RequestedOutput("nope")])
    with pytest.raises(InvalidArgumentError, match="no output 'nope'") as caught:
        encode_infer_response(_response(), request)
    assert caught.value.field == "outputs[0].name"


class _ErrorResponse:
    status_code = 400

    def __init__(self, body: bytes) -> None:
        self._body = body

    def read(self) -> bytes:
        return self._body


def test_error_body_is_what_tritonclient_reads() -> None:
    body = encode_error("model 'x' not found")
    assert orjson.loads(body) == {"error": "model 'x' not found"}
    error = triton_utils._get_error(_ErrorResponse(body))
    assert error.message() == "model 'x' not found"
    assert error.status() == "400"
