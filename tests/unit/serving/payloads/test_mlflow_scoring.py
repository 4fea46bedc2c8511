"""MLflow ``/invocations`` payloads: what MLflow's own client code sends, and every bad body."""

from __future__ import annotations

import warnings

import numpy as np
import orjson
import pandas as pd
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import ColSpec, Schema, Signature
from conveyor.serving.payloads import (
    Columns,
    Frame,
    InputPlan,
    Records,
    Rows,
    UnsupportedMediaTypeError,
    decode_invocations,
)

with warnings.catch_warnings():  # mlflow warns about its own type hints on import
    warnings.simplefilter("ignore")
    from mlflow.models.utils import convert_input_example_to_serving_input
    from mlflow.utils.proto_json_utils import dump_input_data

JSON = "application/json"
SIGNATURE = Signature(Schema((ColSpec("double", "a"), ColSpec("long", "b"))))
FRAME = pd.DataFrame({"a": [1.5, 2.0], "b": [1, 2]})


@pytest.mark.parametrize(
    "body",
    [
        dump_input_data(FRAME),
        convert_input_example_to_serving_input(FRAME),
        dump_input_data(FRAME.to_numpy()),
        orjson.dumps({"dataframe_records": FRAME.to_dict(orient="records")}).decode(),
        orjson.dumps({"instances": FRAME.to_dict(orient="records")}).decode(),
        orjson.dumps({"inputs": FRAME.to_dict(orient="list")}).decode(),
    ],
    ids=["dump_input_data", "serving_input_example", "ndarray", "records", "instances", "inputs"],
)
def test_payloads_mlflow_builds_give_the_same_model_input(body: str) -> None:
    request = decode_invocations(body.encode(), JSON)
    assert request.params is None
    planned = InputPlan(SIGNATURE, "sklearn").build(request.data)
    np.testing.assert_array_equal(planned.data, [[1.5, 1], [2.0, 2]])


def test_each_format_decodes_to_its_form() -> None:
    split = decode_invocations(
        b'{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [7]}}', JSON
    ).data
    assert split == Rows([[1]], ["a"], [7], field="dataframe_split.data")
    records = decode_invocations(b'{"dataframe_records": [{"a": 1}]}', JSON).data
    assert records == Records([{"a": 1}], field="dataframe_records")
    assert decode_invocations(b'{"instances": [[1]]}', JSON).data == Rows([[1]], field="instances")
    assert decode_invocations(b'{"instances": [{"a": 1}]}', JSON).data == Records(
        [{"a": 1}], field="instances"
    )
    assert decode_invocations(b'{"inputs": {"a": [1]}}', JSON).data == Columns(
        {"a": [1]}, field="inputs"
    )


def test_params_are_passed_on() -> None:
    body = b'{"inputs": [[1]], "params": {"top_k": 3}}'
    assert decode_invocations(body, JSON).params == {"top_k": 3}


def test_integer_column_names_become_strings() -> None:
    body = dump_input_data(pd.DataFrame(np.eye(2)))
    assert decode_invocations(body.encode(), JSON).data.columns == ["0", "1"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content_type", [JSON, "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
def test_json_content_types(content_type: str) -> None:
    assert decode_invocations(b'{"inputs": [1]}', content_type).data == Rows([1], field="inputs")


def test_csv_bodies_become_frames() -> None:
    body = FRAME.to_csv(index=False).encode()
    data = decode_invocations(body, "text/csv").data
    assert isinstance(data, Frame)
    pd.testing.assert_frame_equal(data.frame, FRAME)


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/json; charset=latin-1", "text/csv; header=present"],
)
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="Content-Type") as caught:
        decode_invocations(b"{}", content_type)
    assert caught.value.status_code == 415
    assert caught.value.field == "Content-Type"


ACCEPTED = (
    r"exactly one of the input fields \{'dataframe_split', 'dataframe_records', 'instances', "
    r"'inputs'\}"
)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"{not json", "body", "valid JSON"),
        (b"\xff", "body", "valid JSON"),
        (b"[1, 2]", "body", f"{ACCEPTED}. Received a list"),
        (b'"x"', "body", f"{ACCEPTED}. Received a str"),
        (b"{}", "body", f"{ACCEPTED}.*Received dictionary with input fields: \\[\\]"),
        (b'{"data": [[1]]}', "data", f"{ACCEPTED}.*input fields: \\['data'\\]"),
        (b'{"inputs": [1], "extra": 1}', "extra", ACCEPTED),
        (b'{"inputs": [1], "instances": [1]}', "body", ACCEPTED),
        (b'{"params": {}}', "body", ACCEPTED),
        (b'{"inputs": [1], "params": [1]}', "params", "'params' must be a JSON object"),
        (b'{"dataframe_split": [[1]]}', "dataframe_split", "must be a dictionary. Got list"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "dataframe_split", "must have 'data'"),
        (b'{"dataframe_split": {"data": [], "x": 1}}', "dataframe_split", "must have 'data'"),
        (b'{"dataframe_split": {"data": {"a": 1}}}', "dataframe_split.data", "list of rows"),
        (
            b'{"dataframe_split": {"data": [[1]], "columns": "a"}}',
            "dataframe_split.columns",
            "list of column names",
        ),
        (
            b'{"dataframe_split": {"data": [[1]], "columns": [1.5]}}',
            "dataframe_split.columns",
            "list of column names",
        ),
        (
            b'{"dataframe_split": {"data": [[1, 2]], "columns": ["a", "a"]}}',
            "dataframe_split.columns",
            "more than once",
        ),
        (
            b'{"dataframe_split": {"data": [[1]], "index": [1, 2]}}',
            "dataframe_split.index",
            "one label per row",
        ),
        (
            b'{"dataframe_records": {"a": [1]}}',
            "dataframe_records",
            "list of records.*Got dictionary",
        ),
        (b'{"dataframe_records": [{"a": 1}, 2]}', "dataframe_records[1]", "must be a JSON object"),
        (b'{"instances": 5}', "instances", "list of rows, got type int"),
        (b'{"inputs": "text"}', "inputs", "list of rows, got string"),
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        decode_invocations(body, JSON)
    assert caught.value.field == field


@pytest.mark.parametrize("body", [b"", b"a,b\n1\n2,3,4,5\n", b"\xff\xfe,\n"])
def test_malformed_csv_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidArgumentError, match="valid CSV") as caught:
        decode_invocations(body, "text/csv")
    assert caught.value.field == "body"
