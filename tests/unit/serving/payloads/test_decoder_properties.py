"""Properties of the decoders: tensors round-trip through tritonclient, garbage only ever
raises ``InvalidArgumentError``."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import ColSpec, Schema, Signature, TensorSpec
from conveyor.serving.payloads import (
    HEADER_LENGTH,
    InputPlan,
    decode_infer_request,
    decode_invocations,
    decode_predict,
    encode_infer_response,
)
from conveyor.serving.tensors import DATATYPES, InferRequest, InferResponse, Tensor

NUMERIC = [name for name in DATATYPES if name != "BYTES"]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tensors(draw: st.DrawFn) -> tuple[str, np.ndarray[Any, Any]]:
    """A datatype and an array of it, of any small shape (zero-sized dimensions included)."""
    datatype = draw(st.sampled_from([*NUMERIC, "BYTES"]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    if datatype == "BYTES":
        array = draw(hnp.arrays(object, shape, elements=st.binary(max_size=6)))
    else:
        dtype = DATATYPES[datatype]
        finite = hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False)
        elements = finite if dtype.kind == "f" else None  # JSON has no NaN or infinity
        array = draw(hnp.arrays(dtype, shape, elements=elements))
    return datatype, array


def _same(got: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> bool:
    return bool(got.shape == expected.shape and got.tolist() == expected.tolist())


@PROPERTY
@given(st.lists(tensors(), min_size=1, max_size=4), st.data())
def test_tritonclient_requests_decode_to_the_same_tensors(
    drawn: list[tuple[str, np.ndarray[Any, Any]]], data: st.DataObject
) -> None:
    inputs, expected = [], []
    for i, (datatype, drawn_array) in enumerate(drawn):
        is_binary = datatype == "FP16" or data.draw(st.booleans())
        array = drawn_array
        if datatype == "BYTES" and not is_binary:  # JSON carries BYTES as text
            array = np.vectorize(lambda b: b.decode("latin-1").encode(), otypes=[object])(array)
        infer_input = triton.InferInput(f"in{i}", list(array.shape), datatype)
        infer_input.set_data_from_numpy(array, binary_data=is_binary)
        inputs.append(infer_input)
        expected.append(array)
    body, header_length = triton.InferenceServerClient.generate_request_body(inputs)
    request = decode_infer_request(body, header_length)
    for tensor, (datatype, _), array in zip(request.inputs, drawn, expected, strict=True):
        assert tensor.datatype == datatype
        assert tensor.shape == array.shape
        assert tensor.data.dtype == DATATYPES[datatype]
        assert _same(tensor.data, array)


@PROPERTY
@given(st.lists(tensors(), min_size=1, max_size=4), st.booleans())
def test_responses_read_back_with_tritonclient(
    drawn: list[tuple[str, np.ndarray[Any, Any]]], binary: bool
) -> None:
    outputs = [
        Tensor(f"out{i}", datatype, tuple(array.shape), array)
        for i, (datatype, array) in enumerate(drawn)
    ]
    x = triton.InferInput("x", [1], "FP32").set_data_from_numpy(np.ones(1, np.float32))
    requested = [triton.InferRequestedOutput(t.name, binary_data=binary) for t in outputs]
    request_body, length = triton.InferenceServerClient.generate_request_body([x], requested)
    request = decode_infer_request(request_body, length)
    body, headers = encode_infer_response(InferResponse("m", outputs), request)
    header_length = headers.get(HEADER_LENGTH)
    result = triton.InferenceServerClient.parse_response_body(
        body, header_length=None if header_length is None else int(header_length)
    )
    for tensor in outputs:
        got = result.as_numpy(tensor.name)
        if tensor.datatype == "BYTES" and got.size and isinstance(got.flat[0], str):
            got = np.vectorize(str.encode, otypes=[object])(got)  # the UTF-8 ones came as text
        assert _same(got, tensor.data)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = ["name", "shape", "datatype", "data", "parameters"]


@st.composite
def oip_like_bodies(draw: st.DrawFn) -> tuple[bytes, Any]:
    """Request-shaped JSON with random values in every slot, optionally binary data after it."""
    inputs = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.text(max_size=3) | JSON,
                    "shape": st.lists(st.integers(-2, 4), max_size=3) | JSON,
                    "datatype": st.sampled_from([*DATATYPES, "FP8"]) | JSON,
                    "data": JSON,
                    "parameters": st.fixed_dictionaries(
                        {}, optional={"binary_data_size": st.integers(-2, 40) | JSON}
                    )
                    | JSON,
                },
            ),
            max_size=3,
        )
        | JSON
    )
    document = {"inputs": inputs, "outputs": draw(JSON), "parameters": draw(JSON)}
    head = _json(document)
    tail = draw(st.binary(max_size=40))
    header = draw(st.sampled_from([None, len(head), str(len(head)), -1, "x"]))
    return (head if header is None else head + tail), header


def _json(document: Any) -> bytes:
    """Any JSON, including big integers and NaN (which orjson refuses to read)."""
    return json.dumps(document).encode()


def _only_invalid_argument(call: Any) -> None:
    with contextlib.suppress(InvalidArgumentError):
        call()


@PROPERTY
@given(oip_like_bodies())
def test_random_oip_requests_raise_nothing_but_invalid_argument(drawn: tuple[bytes, Any]) -> None:
    body, header_length = drawn
    _only_invalid_argument(lambda: decode_infer_request(body, header_length))


@PROPERTY
@given(st.binary(max_size=64), st.one_of(st.none(), st.integers(-5, 70)))
def test_random_bytes_raise_nothing_but_invalid_argument(body: bytes, header: Any) -> None:
    _only_invalid_argument(lambda: decode_infer_request(body, header))
    _only_invalid_argument(lambda: decode_invocations(body, "application/json"))
    _only_invalid_argument(lambda: decode_invocations(body, "text/csv"))
    _only_invalid_argument(lambda: decode_predict(body))


SIGNATURES = [
    None,
    Signature(Schema((ColSpec("double", "a"), ColSpec("long", "b")))),
    Signature(Schema((ColSpec("float", "a"), ColSpec("string", "s"), ColSpec("boolean", "b")))),
    Signature(Schema((TensorSpec("float32", (-1, 2)),))),
    Signature(Schema((TensorSpec("int64", (-1,), "t"), TensorSpec("float64", (-1, 2), "u")))),
]
MLFLOW_KEYS = ["dataframe_split", "dataframe_records", "instances", "inputs", "params", "other"]
SPLIT = st.fixed_dictionaries(
    {"data": JSON},
    optional={"columns": st.lists(st.sampled_from(["a", "b", "s", "t", "u"]), max_size=3) | JSON},
)


@PROPERTY
@pytest.mark.parametrize("signature", SIGNATURES)
@given(
    st.dictionaries(st.sampled_from(MLFLOW_KEYS), SPLIT | JSON, min_size=1, max_size=2),
    st.sampled_from(["sklearn", "python_function", "onnx"]),
)
def test_random_mlflow_payloads_raise_nothing_but_invalid_argument(
    signature: Signature | None, document: dict[str, Any], flavor: str
) -> None:
    plan = InputPlan(signature, flavor)

    def run() -> None:
        request = decode_invocations(_json(document), "application/json")
        plan.build(request.data)

    _only_invalid_argument(run)


@PROPERTY
@pytest.mark.parametrize("signature", SIGNATURES)
@given(oip_like_bodies())
def test_random_oip_requests_meet_the_plan_with_invalid_argument_only(
    signature: Signature | None, drawn: tuple[bytes, Any]
) -> None:
    plan = InputPlan(signature, "sklearn")
    body, header_length = drawn
    _only_invalid_argument(lambda: plan.build(decode_infer_request(body, header_length)))


@PROPERTY
@pytest.mark.parametrize("signature", SIGNATURES)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "s", "t", "u", "x"]), tensors()),
        min_size=1,
        max_size=3,
        unique_by=lambda item: item[0],
    ),
    st.sampled_from(["sklearn", "python_function", "onnx"]),
)
def test_random_tensors_meet_the_plan_with_invalid_argument_only(
    signature: Signature | None,
    drawn: list[tuple[str, tuple[str, np.ndarray[Any, Any]]]],
    flavor: str,
) -> None:
    request = InferRequest(
        inputs=[Tensor(name, dt, tuple(array.shape), array) for name, (dt, array) in drawn]
    )
    plan = InputPlan(signature, flavor)
    try:
        planned = plan.build(request)
    except InvalidArgumentError:
        return
    assert planned.n_rows >= 1


CELLS = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
    | st.text(max_size=3)
    | st.lists(st.integers(0, 3), max_size=2)
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    """Named columns and rectangular rows of mixed JSON values."""
    columns = draw(st.lists(st.sampled_from(["a", "b", "s", "t", "u"]), unique=True, max_size=4))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(columns), max_size=len(columns)), max_size=3))
    return columns, rows


def _bodies(columns: list[str], rows: list[list[Any]]) -> list[bytes]:
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    by_column = {c: [row[j] for row in rows] for j, c in enumerate(columns)}
    documents = [
        {"dataframe_split": {"columns": columns, "data": rows}},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": rows},
        {"inputs": by_column},
    ]
    return [_json(d) for d in documents]


@PROPERTY
@pytest.mark.parametrize("signature", SIGNATURES)
@given(tables())
def test_random_tables_in_every_format_build_or_raise_invalid_argument(
    signature: Signature | None, table: tuple[list[str], list[list[Any]]]
) -> None:
    columns, rows = table
    for flavor in ("sklearn", "python_function"):
        plan = InputPlan(signature, flavor)
        for body in _bodies(columns, rows):
            try:
                planned = plan.build(decode_invocations(body, "application/json").data)
            except InvalidArgumentError:
                continue
            assert planned.n_rows == len(rows) or plan.path == "tensors"
