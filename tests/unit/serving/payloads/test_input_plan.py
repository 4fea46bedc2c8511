"""InputPlan: every decoded form becomes checked model input, on each of the four paths."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.models.enforcement import enforce
from conveyor.models.signature import ColSpec, Schema, Signature, TensorSpec
from conveyor.serving.payloads import (
    Columns,
    InputPlan,
    Payload,
    Records,
    Rows,
    decode_invocations,
    decode_predict,
)
from conveyor.serving.tensors import DATATYPES, InferRequest, Tensor


def _signature(*specs: ColSpec | TensorSpec) -> Signature:
    return Signature(Schema(specs))


NUMERIC = _signature(ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("double", "c"))


def _mlflow(document: dict[str, Any]) -> Payload:
    return decode_invocations(orjson.dumps(document), "application/json").data


def _oip(*tensors: tuple[str, str, Any]) -> InferRequest:
    inputs = []
    for name, datatype, values in tensors:
        array = np.asarray(values, dtype=DATATYPES[datatype])
        inputs.append(Tensor(name, datatype, tuple(array.shape), array))
    return InferRequest(inputs=inputs)


# --- the matrix path ---------------------------------------------------------------------------


MATRIX_PAYLOADS = {
    "dataframe_split": _mlflow(
        {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1.5, 2, 3], [4, 5, 6.25]]}}
    ),
    "dataframe_split, other order and an extra column": _mlflow(
        {
            "dataframe_split": {
                "columns": ["x", "c", "a", "b"],
                "data": [["?", 3, 1.5, 2], [None, 6.25, 4, 5]],
            }
        }
    ),
    "dataframe_records": _mlflow(
        {"dataframe_records": [{"b": 2, "a": 1.5, "c": 3}, {"c": 6.25, "a": 4, "b": 5, "z": 0}]}
    ),
    "instances rows": _mlflow({"instances": [[1.5, 2, 3], [4, 5, 6.25]]}),
    "instances records": _mlflow(
        {"instances": [{"a": 1.5, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6.25}]}
    ),
    "inputs columns": _mlflow({"inputs": {"c": [3, 6.25], "b": [2, 5], "a": [1.5, 4]}}),
    "/predict rows": decode_predict(b'{"data": [[1.5, 2, 3], [4, 5, 6.25]]}'),
    "/predict named rows": decode_predict(
        b'{"columns": ["b", "a", "c"], "data": [[2, 1.5, 3], [5, 4, 6.25]]}'
    ),
    "csv": decode_invocations(b"b,a,c\n2,1.5,3\n5,4,6.25\n", "text/csv").data,
    "oip matrix": _oip(("input-0", "FP64", [[1.5, 2, 3], [4, 5, 6.25]])),
    "oip columns": _oip(
        ("a", "FP32", [1.5, 4]), ("b", "INT64", [[2], [5]]), ("c", "FP64", [3, 6.25])
    ),
}


@pytest.mark.parametrize("payload", MATRIX_PAYLOADS.values(), ids=MATRIX_PAYLOADS.keys())
def test_numeric_signatures_get_a_float_matrix_in_signature_order(payload: Payload) -> None:
    plan = InputPlan(NUMERIC, "sklearn")
    assert plan.path == "matrix"
    assert plan.columns == ("a", "b", "c")
    planned = plan.build(payload)
    assert planned.is_matrix
    assert planned.n_rows == 2
    assert planned.data.dtype == np.float64
    assert planned.data.flags.c_contiguous
    np.testing.assert_array_equal(planned.data, [[1.5, 2, 3], [4, 5, 6.25]])


@pytest.mark.parametrize(
    ("types", "dtype"),
    [
        (("float", "float"), np.float32),
        (("integer", "long"), np.int64),
        (("integer", "boolean"), np.int32),
        (("boolean", "boolean"), np.bool_),
        (("float", "long"), np.float64),
    ],
)
def test_the_matrix_takes_the_columns_common_dtype(types: tuple[str, str], dtype: Any) -> None:
    signature = _signature(*(ColSpec(t, f"c{i}") for i, t in enumerate(types)))
    planned = InputPlan(signature).build(Rows([[1, 0], [0, 1]]))
    assert planned.data.dtype == dtype
    assert planned.data.tolist() == [[1, 0], [0, 1]]


def test_a_single_column_may_come_as_a_list_of_values() -> None:
    planned = InputPlan(_signature(ColSpec("double", "x"))).build(_mlflow({"instances": [1, 2]}))
    assert planned.data.tolist() == [[1.0], [2.0]]


def test_null_is_nan_in_float_columns() -> None:
    payload = _mlflow({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[None, 1, 2]]}})
    planned = InputPlan(NUMERIC).build(payload)
    assert np.isnan(planned.data[0, 0])
    assert planned.data[0, 1:].tolist() == [1, 2]


def test_records_without_a_float_column_in_some_rows_get_nan() -> None:
    payload = _mlflow({"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"b": 5, "c": 6}]})
    planned = InputPlan(NUMERIC).build(payload)
    assert planned.data[0].tolist() == [1, 2, 3]
    assert np.isnan(planned.data[1, 0])


MATRIX_ERRORS = [
    ({"dataframe_split": {"columns": ["a", "c"], "data": [[1, 2]]}}, "b", "missing column 'b'"),
    ({"dataframe_records": [{"a": 1, "c": 2}]}, "b", "missing column 'b'"),
    ({"inputs": {"a": [1], "c": [2]}}, "b", "missing column 'b'"),
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, "2", 3]]}}, "b", "'2' is not"),
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, None, 3]]}}, "b", "null"),
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2.5, 3]]}}, "b", "whole"),
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2**63, 3]]}}, "b", "range"),
    (
        {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2]]}},
        "dataframe_split.data",
        "2 values",
    ),
    (
        {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4]]}},
        "dataframe_split.data[1]",
        "1 values",
    ),
    ({"dataframe_records": [{"a": "x", "b": 1, "c": 2}]}, "a", r"'x' is not a number \(float64\)"),
    ({"dataframe_records": [{"a": 1, "b": 1.5, "c": 2}]}, "b", "whole numbers"),
    ({"instances": [[1, 2]]}, "instances", "expects 3 columns"),
    ({"instances": [1, 2, 3]}, "instances[0]", "is 1; each row must be a list of 3"),
    ({"inputs": {"a": [1, 2], "b": [1], "c": [1, 2]}}, "b", "one value per row"),
    ({"inputs": {"a": ["x"], "b": [1], "c": [2]}}, "a", "'x' is not"),
    ({"instances": []}, "data", "no rows"),
    ({"dataframe_split": {"columns": ["a", "b", "c"], "data": []}}, "data", "no rows"),
]


@pytest.mark.parametrize(("document", "field", "message"), MATRIX_ERRORS)
def test_matrix_errors_name_the_column(document: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        InputPlan(NUMERIC).build(_mlflow(document))
    assert caught.value.field == field


def test_missing_column_message_lists_the_expected_columns() -> None:
    payload = _mlflow({"dataframe_records": [{"a": 1}]})
    expected = r"expected columns: \['a', 'b', 'c'\]"
    with pytest.raises(InvalidArgumentError, match=expected):
        InputPlan(NUMERIC).build(payload)


def test_csv_columns_are_checked_too() -> None:
    payload = decode_invocations(b"a,b,c\n1,x,3\n", "text/csv").data
    with pytest.raises(InvalidArgumentError, match="column 'b'") as caught:
        InputPlan(NUMERIC).build(payload)
    assert caught.value.field == "b"


OIP_ERRORS = [
    (_oip(("x", "FP64", [[1, 2]])), "x", r"expects \[rows, 3\]"),
    (_oip(("x", "FP64", [[1, 2.5, 3]])), "b", "column 'b': int64 values must be whole"),
    (_oip(("x", "BYTES", [[b"1", b"2", b"3"]])), "a", "BYTES cannot be converted"),
    (_oip(("a", "FP64", [1]), ("b", "INT64", [1])), "c", "missing column 'c'"),
    (_oip(("a", "FP64", [1]), ("b", "INT64", [1, 2]), ("c", "FP64", [1])), "b", r"\[1\] or"),
    (_oip(("a", "FP64", [1]), ("b", "FP32", [1]), ("c", "FP64", [1])), "b", "FP32 cannot"),
    (_oip(("x", "FP64", [1, 2, 3])), "x", "one tensor per column"),
]


@pytest.mark.parametrize(("request_", "field", "message"), OIP_ERRORS)
def test_oip_matrix_errors_name_the_input_or_column(
    request_: InferRequest, field: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        InputPlan(NUMERIC).build(request_)
    assert caught.value.field == field


def test_custom_python_models_and_opted_out_models_get_dataframes() -> None:
    payload = MATRIX_PAYLOADS["dataframe_split"]
    for plan in (InputPlan(NUMERIC, "python_function"), InputPlan(NUMERIC, accepts_matrix=False)):
        assert plan.path == "frame"
        planned = plan.build(payload)
        assert not planned.is_matrix
        assert list(planned.data.columns) == ["a", "b", "c"]
        assert planned.data["b"].dtype == np.int64


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.integers(-(2**53), 2**53),
            st.integers(-(2**31), 2**31 - 1),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_matrix_holds_what_enforce_makes_of_the_same_frame(rows: list[Any]) -> None:
    signature = _signature(ColSpec("float", "f"), ColSpec("long", "l"), ColSpec("integer", "i"))
    payload = _mlflow(
        {"dataframe_split": {"columns": ["i", "f", "l"], "data": [[i, f, n] for f, n, i in rows]}}
    )
    matrix = InputPlan(signature).build(payload).data
    frame = pd.DataFrame(
        {
            "f": np.array([r[0] for r in rows], dtype=np.float32),
            "l": np.array([r[1] for r in rows], dtype=np.int64),
            "i": np.array([r[2] for r in rows], dtype=np.int32),
        }
    )
    np.testing.assert_array_equal(matrix, enforce(frame, signature.inputs).to_numpy())


# --- the frame path ----------------------------------------------------------------------------

MIXED = _signature(
    ColSpec("float", "f"),
    ColSpec("integer", "i"),
    ColSpec("string", "s"),
    ColSpec("boolean", "b"),
    ColSpec("binary", "raw"),
    ColSpec("datetime", "when"),
    ColSpec("double", "opt", required=False),
)
ROW = [0.5, 3, "x", True, base64.b64encode(b"\x00\xff").decode(), "2024-05-01T10:00:00"]
COLUMNS = ["f", "i", "s", "b", "raw", "when"]


@pytest.mark.parametrize(
    "payload",
    [
        _mlflow({"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}),
        _mlflow({"dataframe_records": [dict(zip(COLUMNS, ROW, strict=True))]}),
        _mlflow({"inputs": {c: [v] for c, v in zip(COLUMNS, ROW, strict=True)}}),
        decode_predict(orjson.dumps({"data": [ROW]})),
    ],
    ids=["split", "records", "inputs", "predict-positional"],
)
def test_json_columns_are_converted_to_their_signature_types(payload: Payload) -> None:
    plan = InputPlan(MIXED, "sklearn")
    assert plan.path == "frame"
    planned = plan.build(payload)
    frame = planned.data
    assert planned.n_rows == 1
    assert not planned.is_matrix
    assert frame["f"].dtype == np.float32
    assert frame["i"].dtype == np.int32
    assert frame["b"].dtype == np.bool_
    assert frame["raw"].tolist() == [b"\x00\xff"]
    assert frame["when"].dtype.kind == "M"
    assert frame["s"].tolist() == ["x"]


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        (
            {"dataframe_records": [{"f": 1, "i": 2, "b": True, "raw": "", "when": "2024-01-01"}]},
            "s",
            "missing column 's'",
        ),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [[0.5, 3.5, *ROW[2:]]]}},
            "i",
            "whole numbers",
        ),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [[0.5, 3, 7, *ROW[3:]]]}},
            "s",
            "column 's'",
        ),
        ({"dataframe_split": {"columns": COLUMNS, "data": [["x", *ROW[1:]]]}}, "f", "column 'f'"),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [[*ROW[:4], "!!", ROW[5]]]}},
            "raw",
            "base64",
        ),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [[*ROW[:5], "someday"]]}},
            "when",
            "date-times",
        ),
        ({"instances": [ROW[:3]]}, "instances[0]", "3 values where 7 columns"),
    ],
)
def test_frame_errors_name_the_column(document: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        InputPlan(MIXED).build(_mlflow(document))
    assert caught.value.field == field


def test_oip_columns_become_frame_columns_with_text_decoded() -> None:
    signature = _signature(ColSpec("string", "s"), ColSpec("double", "x"))
    planned = InputPlan(signature).build(
        _oip(("s", "BYTES", [b"a", b"b"]), ("x", "FP64", [[1], [2]]))
    )
    assert planned.data.to_dict(orient="list") == {"s": ["a", "b"], "x": [1.0, 2.0]}


def test_oip_rows_with_different_lengths_are_refused() -> None:
    signature = _signature(ColSpec("string", "s"), ColSpec("double", "x"))
    with pytest.raises(InvalidArgumentError, match="different numbers of rows"):
        InputPlan(signature).build(_oip(("s", "BYTES", [b"a"]), ("x", "FP64", [1, 2])))


def test_unnamed_column_signatures_take_columns_by_position() -> None:
    signature = _signature(ColSpec("float"), ColSpec("string"))
    planned = InputPlan(signature).build(_mlflow({"dataframe_split": {"data": [[1, "a"]]}}))
    assert planned.data.iloc[0].tolist() == [1.0, "a"]
    assert planned.data.dtypes.iloc[0] == np.float32


# --- the tensor path ---------------------------------------------------------------------------

UNNAMED = _signature(TensorSpec("float32", (-1, 2)))
NAMED = _signature(TensorSpec("int64", (-1,), "ids"), TensorSpec("float32", (-1, 2), "x"))


@pytest.mark.parametrize(
    "payload",
    [
        _mlflow({"instances": [[1, 2], [3, 4.5]]}),
        _mlflow({"inputs": [[1, 2], [3, 4.5]]}),
        _mlflow({"inputs": {"anything": [[1, 2], [3, 4.5]]}}),
        decode_predict(b'{"data": [[1, 2], [3, 4.5]]}'),
        _oip(("x", "FP32", np.array([[1, 2], [3, 4.5]], dtype=np.float32))),
        _oip(("x", "INT16", np.array([[1, 2], [3, 4]], dtype=np.int16))),
    ],
)
def test_an_unnamed_tensor_signature_gets_one_array(payload: Payload) -> None:
    plan = InputPlan(UNNAMED, "onnx")
    assert plan.path == "tensors"
    planned = plan.build(payload)
    assert planned.data.dtype == np.float32
    assert planned.data.shape == (2, 2)
    assert planned.n_rows == 2
    assert planned.is_batchable
    assert not planned.is_matrix


@pytest.mark.parametrize(
    "payload",
    [
        _mlflow({"inputs": {"ids": [1, 2], "x": [[1, 2], [3, 4]]}}),
        _mlflow({"instances": [{"ids": 1, "x": [1, 2]}, {"ids": 2, "x": [3, 4]}]}),
        _oip(
            ("ids", "INT32", np.array([1, 2], dtype=np.int32)),
            ("x", "FP32", np.ones((2, 2), np.float32)),
        ),
    ],
)
def test_named_tensor_signatures_get_a_dict(payload: Payload) -> None:
    planned = InputPlan(NAMED, "onnx").build(payload)
    assert set(planned.data) == {"ids", "x"}
    assert planned.data["ids"].dtype == np.int64
    assert planned.data["x"].dtype == np.float32
    assert planned.n_rows == 2


@pytest.mark.parametrize(
    ("signature", "payload", "field", "message"),
    [
        (UNNAMED, _mlflow({"instances": [[1, 2, 3]]}), "input", r"shape \(1, 3\)"),
        (UNNAMED, _mlflow({"instances": [["a", "b"]]}), "instances", r"not a number \(float32\)"),
        (UNNAMED, _oip(("x", "FP64", [[1.0, 2.0]])), "input", "cannot be converted"),
        (
            UNNAMED,
            _oip(
                ("x", "FP32", np.ones((1, 2), np.float32)),
                ("y", "FP32", np.ones((1, 2), np.float32)),
            ),
            "inputs",
            "one unnamed tensor",
        ),
        (
            UNNAMED,
            _mlflow({"dataframe_records": [{"a": 1}]}),
            "dataframe_records",
            "one unnamed tensor",
        ),
        (NAMED, _mlflow({"inputs": {"x": [[1, 2]]}}), "ids", "missing tensor 'ids'"),
        (NAMED, _mlflow({"inputs": {"ids": [1.5], "x": [[1, 2]]}}), "inputs.ids", "whole numbers"),
        (NAMED, _mlflow({"instances": [[1, 2]]}), "instances", "named tensors"),
    ],
)
def test_tensor_errors_name_the_tensor(
    signature: Signature, payload: Payload, field: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        InputPlan(signature).build(payload)
    assert caught.value.field == field


def test_a_fixed_first_dimension_is_not_batchable() -> None:
    plan = InputPlan(_signature(TensorSpec("float64", (1, 3))))
    planned = plan.build(Rows([[1, 2, 3]]))
    assert planned.n_rows == 1
    assert not planned.is_batchable


# --- no signature ------------------------------------------------------------------------------


def test_without_a_signature_numeric_rows_are_a_matrix() -> None:
    planned = InputPlan(None, "sklearn").build(_mlflow({"instances": [[1, 2], [3, 4]]}))
    assert planned.is_matrix
    assert planned.data.tolist() == [[1, 2], [3, 4]]
    one_d = InputPlan(None).build(Rows([1.0, 2.0]))
    assert not one_d.is_matrix
    assert one_d.n_rows == 2


@pytest.mark.parametrize(
    "payload",
    [
        _mlflow({"instances": [[1, "a"], [2, "b"]]}),
        _mlflow({"dataframe_split": {"columns": ["n", "s"], "data": [[1, "a"], [2, "b"]]}}),
        _mlflow({"dataframe_records": [{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]}),
        _mlflow({"inputs": {"n": [1, 2], "s": ["a", "b"]}}),
        decode_invocations(b"n,s\n1,a\n2,b\n", "text/csv").data,
    ],
)
def test_without_a_signature_tables_are_dataframes(payload: Payload) -> None:
    planned = InputPlan(None, "sklearn").build(payload)
    assert isinstance(planned.data, pd.DataFrame)
    assert planned.n_rows == 2
    assert planned.data.iloc[:, 1].tolist() == ["a", "b"]


def test_without_a_signature_tensor_flavors_get_dicts() -> None:
    planned = InputPlan(None, "onnx").build(Columns({"x": [[1, 2]], "y": [3]}))
    assert planned.data["x"].tolist() == [[1, 2]]
    assert planned.n_rows == 1
    tensors = _oip(("x", "FP32", np.ones(2, np.float32)), ("y", "INT64", [1, 2]))
    assert set(InputPlan(None, "pytorch").build(tensors).data) == {"x", "y"}


def test_without_a_signature_oip_inputs_become_a_matrix_or_columns() -> None:
    matrix = InputPlan(None, "sklearn").build(_oip(("x", "FP64", [[1, 2]])))
    assert matrix.is_matrix
    columns = InputPlan(None, "sklearn").build(
        _oip(("a", "FP64", [1, 2]), ("b", "INT64", [[3], [4]]))
    )
    assert columns.data.to_dict(orient="list") == {"a": [1.0, 2.0], "b": [3, 4]}
    ragged = InputPlan(None, "sklearn").build(_oip(("a", "FP64", [1, 2]), ("b", "INT64", [3])))
    assert set(ragged.data) == {"a", "b"}
    assert not ragged.is_batchable


def test_records_payload_keeps_its_field_in_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="dataframe_records: column 'b': null"):
        InputPlan(NUMERIC).build(Records([{"a": None, "b": None, "c": 1}, {"a": 1, "b": "x"}]))


def test_csv_columns_take_their_signature_types() -> None:
    signature = _signature(ColSpec("float", "f"), ColSpec("integer", "i"), ColSpec("string", "s"))
    csv = b"s,i,f\nx,3,0.5\ny,4,1.5\n"
    frame = InputPlan(signature).build(decode_invocations(csv, "text/csv").data).data
    assert frame.dtypes.tolist()[:2] == [np.float32, np.int32]
    assert frame.to_dict(orient="list") == {"f": [0.5, 1.5], "i": [3, 4], "s": ["x", "y"]}
    digits = decode_invocations(b"s,i,f\n12,3,0.5\n", "text/csv").data
    assert InputPlan(signature).build(digits).data["s"].tolist() == ["12"]
    empty_cell = decode_invocations(b"s,i,f\nx,,0.5\n", "text/csv").data
    with pytest.raises(InvalidArgumentError, match="column 'i': a missing value") as caught:
        InputPlan(signature).build(empty_cell)
    assert caught.value.field == "i"


def test_one_oip_matrix_for_a_mixed_column_signature_becomes_a_frame() -> None:
    signature = _signature(ColSpec("double", "x"), ColSpec("string", "s"))
    words = np.array([[b"1", b"a"]], dtype=object)
    with pytest.raises(InvalidArgumentError, match="column 'x'"):
        InputPlan(signature).build(_oip(("m", "BYTES", words)))
    with pytest.raises(InvalidArgumentError, match=r"expects \[rows, 2\]") as caught:
        InputPlan(signature).build(_oip(("m", "FP64", [[1.0, 2.0, 3.0]])))
    assert caught.value.field == "m"


def test_oip_text_columns_must_be_utf8() -> None:
    signature = _signature(ColSpec("string", "s"), ColSpec("double", "x"))
    request = _oip(("s", "BYTES", [b"\xff"]), ("x", "FP64", [1.0]))
    with pytest.raises(InvalidArgumentError, match="UTF-8") as caught:
        InputPlan(signature).build(request)
    assert caught.value.field == "s"


def test_a_single_column_record_and_nested_values() -> None:
    plan = InputPlan(_signature(ColSpec("long", "n")))
    assert plan.build(Records([{"n": 1}, {"n": 2}])).data.tolist() == [[1], [2]]
    nested: list[list[dict[str, Any]]] = [[{"n": [1, 2]}, {"n": 3}], [{"n": [1]}, {"n": [3]}]]
    for records in nested:
        with pytest.raises(InvalidArgumentError, match="column 'n'") as caught:
            plan.build(Records(records))
        assert caught.value.field == "n"
    with pytest.raises(InvalidArgumentError, match="one number per row") as caught:
        InputPlan(NUMERIC).build(Rows([[[1], [2], [3]]]))


def test_csv_missing_a_matrix_column_names_it() -> None:
    payload = decode_invocations(b"a,c\n1,2\n", "text/csv").data
    with pytest.raises(InvalidArgumentError, match="missing column 'b'"):
        InputPlan(NUMERIC).build(payload)


def test_tensor_signatures_take_csv_split_columns_and_text() -> None:
    csv = decode_invocations(b"a,b\n1,2\n", "text/csv").data
    assert InputPlan(UNNAMED).build(csv).data.tolist() == [[1.0, 2.0]]
    split = _mlflow({"dataframe_split": {"columns": ["ids", "x"], "data": [[1, [1, 2]]]}})
    planned = InputPlan(NAMED).build(split)
    assert planned.data["x"].tolist() == [[1.0, 2.0]]
    with pytest.raises(InvalidArgumentError, match="one value per named column"):
        InputPlan(NAMED).build(Rows([5], ["ids", "x"], field="dataframe_split.data"))
    text = InputPlan(_signature(TensorSpec("object", (-1,), "t"))).build(Columns({"t": ["a"]}))
    assert text.data["t"].tolist() == ["a"]


def test_without_a_signature_texts_stay_an_array() -> None:
    planned = InputPlan(None, "python_function").build(_mlflow({"inputs": ["a b", "c"]}))
    assert planned.data.tolist() == ["a b", "c"]
    assert not planned.is_matrix
