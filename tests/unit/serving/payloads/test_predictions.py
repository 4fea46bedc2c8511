"""Encoding predictions: OIP tensors, MLflow's ``{"predictions": ...}``, and ``/predict``."""

from __future__ import annotations

import io
import json
import math
import warnings
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from conveyor.errors import ConveyorError
from conveyor.serving.payloads import (
    encode_mlflow_predictions,
    encode_predict_response,
    predictions_to_tensors,
)

with warnings.catch_warnings():  # mlflow warns about its own type hints on import
    warnings.simplefilter("ignore")
    from mlflow.pyfunc.scoring_server import predictions_to_json

PREDICTIONS = {
    "int array": np.array([1, 0, 1]),
    "float32 matrix": np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32),
    "float with nan": np.array([0.5, np.nan]),
    "strided": np.arange(6.0).reshape(2, 3)[:, ::2],
    "strings": np.array(["yes", "no"]),
    "objects": np.array(["a", 1], dtype=object),
    "frame": pd.DataFrame({"label": [1, 0], "score": [0.9, np.nan], "name": ["a", "b"]}),
    "series": pd.Series([0.1, 0.2], name="p"),
    "unnamed series": pd.Series([1, 2]),
    "dict": {"label": np.array([1, 0]), "proba": np.array([[0.1, 0.9], [0.8, 0.2]])},
    "list": [1, 2],
    "nested list": [[1.5, 2.5]],
}


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("predictions", PREDICTIONS.values(), ids=PREDICTIONS.keys())
def test_mlflow_body_is_what_mlflows_scoring_server_writes_with_nan_as_null(
    predictions: Any,
) -> None:
    theirs = io.StringIO()
    predictions_to_json(predictions, theirs)  # type: ignore[no-untyped-call]
    expected = _nan_to_none(json.loads(theirs.getvalue()))
    ours = encode_mlflow_predictions(predictions)
    assert orjson.loads(ours) == expected
    assert b"NaN" not in ours


def test_datetimes_are_iso_text_and_nat_is_null() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(pd.Series(["2024-05-01 10:00", None]))})
    document = orjson.loads(encode_mlflow_predictions(frame))
    assert document == {"predictions": [{"when": "2024-05-01T10:00:00.000000"}, {"when": None}]}
    array = np.array(["2024-05-01", "NaT"], dtype="datetime64[s]")
    assert orjson.loads(encode_mlflow_predictions(array)) == {
        "predictions": ["2024-05-01T00:00:00", None]
    }


@pytest.mark.parametrize(
    ("predictions", "expected"),
    [
        (np.array([1, 0]), [1, 0]),
        (np.array([[0.5, 0.5]]), [[0.5, 0.5]]),
        (pd.Series([0.5, np.nan]), [0.5, None]),
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]),
        (
            {"label": np.array([1, 0]), "p": [0.9, 0.1]},
            [{"label": 1, "p": 0.9}, {"label": 0, "p": 0.1}],
        ),
        (["a", "b"], ["a", "b"]),
    ],
)
def test_predict_body_has_one_entry_per_row(predictions: Any, expected: Any) -> None:
    assert orjson.loads(encode_predict_response(predictions)) == {"predictions": expected}


def test_arrays_are_one_output_named_predict() -> None:
    (tensor,) = predictions_to_tensors(np.array([[0.1, 0.9]], dtype=np.float32))
    assert (tensor.name, tensor.datatype, tensor.shape) == ("predict", "FP32", (1, 2))


def test_frames_and_dicts_are_one_output_per_column_or_key() -> None:
    frame = pd.DataFrame({"label": [1, 0], "name": ["a", "b"], "ok": [True, False]})
    tensors = {t.name: t for t in predictions_to_tensors(frame)}
    assert {n: t.datatype for n, t in tensors.items()} == {
        "label": "INT64",
        "name": "BYTES",
        "ok": "BOOL",
    }
    assert tensors["name"].data.tolist() == [b"a", b"b"]
    by_key = predictions_to_tensors({"a": [1.5], "b": np.array(["x"])})
    assert [(t.name, t.datatype, t.shape) for t in by_key] == [
        ("a", "FP64", (1,)),
        ("b", "BYTES", (1,)),
    ]


def test_series_lists_and_records_become_tensors() -> None:
    (series,) = predictions_to_tensors(pd.Series([1, 2], dtype="Int64"))
    assert (series.name, series.datatype, series.data.tolist()) == ("predict", "INT64", [1, 2])
    (nullable,) = predictions_to_tensors(pd.Series([1, None], dtype="Int64"))
    assert nullable.datatype == "FP64"
    assert np.isnan(nullable.data[1])
    (mixed,) = predictions_to_tensors([1, 2.5])
    assert mixed.datatype == "FP64"
    records = predictions_to_tensors([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert [(t.name, t.datatype) for t in records] == [("a", "INT64"), ("b", "BYTES")]


def test_odd_predictions() -> None:
    (numbers,) = predictions_to_tensors(np.array([1, 2.5], dtype=object))
    assert numbers.datatype == "FP64"
    with pytest.raises(ConveyorError, match="ragged predictions") as caught:
        predictions_to_tensors([[1, 2], [3]])
    assert caught.value.status_code == 500
    dates = {"when": np.array(["2024-05-01", "NaT"], dtype="datetime64[D]")}
    assert orjson.loads(encode_predict_response(dates)) == {
        "predictions": [{"when": "2024-05-01"}, {"when": None}]
    }
