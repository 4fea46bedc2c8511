"""Signatures: inference, MLflow's JSON, and enforcement on predict input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.models.signature import ModelSignature as MlflowSignature

from conveyor.errors import InvalidArgumentError
from conveyor.models.enforcement import enforce
from conveyor.models.signature import ColSpec, Schema, Signature, TensorSpec, infer_signature


def test_frame_columns_use_mlflow_type_names() -> None:
    frame = pd.DataFrame(
        {"d": [1.0], "f": np.array([1.0], dtype=np.float32), "l": [1], "s": ["x"], "b": [True]}
    )
    sig = infer_signature(frame, np.array([0]))
    assert [(s.name, s.type) for s in sig.inputs.specs] == [  # type: ignore[union-attr]
        ("d", "double"),
        ("f", "float"),
        ("l", "long"),
        ("s", "string"),
        ("b", "boolean"),
    ]
    assert sig.outputs == Schema((ColSpec("long"),))


def test_arrays_and_dicts_become_tensors() -> None:
    sig = infer_signature(np.zeros((3, 4), dtype=np.float32), np.zeros(3))
    assert sig.inputs.specs == (TensorSpec("float32", (-1, 4)),)
    assert sig.outputs is not None
    assert sig.outputs.specs == (TensorSpec("float64", (-1,)),)
    named = infer_signature({"x": np.zeros((2, 3)), "y": np.zeros(2, dtype=np.int64)})
    assert named.inputs.specs == (
        TensorSpec("float64", (-1, 3), "x"),
        TensorSpec("int64", (-1,), "y"),
    )


def test_json_is_read_by_mlflow_and_back() -> None:
    frame = pd.DataFrame({"a": [1.0], "b": [2]})
    ours = infer_signature(frame, np.array([1]))
    theirs = MlflowSignature.from_dict(ours.to_dict())
    assert theirs.inputs.input_names() == ["a", "b"]
    assert Signature.from_dict(theirs.to_dict()) == ours
    tensor = infer_signature(np.zeros((2, 3)))
    assert Signature.from_dict(MlflowSignature.from_dict(tensor.to_dict()).to_dict()) == tensor


COLUMNS = Schema((ColSpec("double", "a"), ColSpec("long", "b")))


@pytest.mark.parametrize(
    "data",
    [
        pd.DataFrame({"b": [1, 2], "a": [0.5, 1.5], "extra": ["x", "y"]}),
        {"a": [0.5, 1.5], "b": [1, 2]},
        [{"a": 0.5, "b": 1}, {"a": 1.5, "b": 2}],
    ],
    ids=["frame-extra-column", "dict", "records"],
)
def test_columns_are_matched_by_name_and_extras_dropped(data: Any) -> None:
    out = enforce(data, COLUMNS)
    assert list(out.columns) == ["a", "b"]
    assert out["b"].dtype == np.int64


def test_array_fills_named_columns_in_order() -> None:
    doubles = Schema((ColSpec("double", "a"), ColSpec("double", "b")))
    out = enforce(np.array([[0.5, 1.0]]), doubles)
    assert out.to_dict("records") == [{"a": 0.5, "b": 1.0}]
    with pytest.raises(InvalidArgumentError, match="column 'b'"):
        enforce(np.array([[0.5, 1.0]]), COLUMNS)  # a float array cannot fill a long column


def test_missing_column_is_named() -> None:
    with pytest.raises(InvalidArgumentError, match="missing column 'b'") as info:
        enforce(pd.DataFrame({"a": [1.0]}), COLUMNS)
    assert info.value.field == "b"


def test_lossy_dtype_is_refused_with_both_dtypes() -> None:
    bad = pd.DataFrame({"a": [1.0], "b": [1.5]})
    with pytest.raises(InvalidArgumentError, match=r"'b' has dtype float64.*expects long") as info:
        enforce(bad, COLUMNS)
    assert info.value.field == "b"


def test_safe_conversion_is_applied() -> None:
    out = enforce(pd.DataFrame({"a": np.array([1, 2], dtype=np.int32), "b": [1, 2]}), COLUMNS)
    assert out["a"].dtype == np.float64


def test_tensor_dtype_and_shape_are_checked() -> None:
    schema = Schema((TensorSpec("float64", (-1, 2)),))
    assert enforce(np.ones((3, 2), dtype=np.float32), schema).dtype == np.float64
    with pytest.raises(InvalidArgumentError, match="shape"):
        enforce(np.ones((3, 3)), schema)
    with pytest.raises(InvalidArgumentError, match="dtype <U1"):
        enforce(np.array([["a", "b"]]), schema)


def test_named_tensor_missing_is_named() -> None:
    schema = Schema((TensorSpec("float64", (-1,), "x"), TensorSpec("float64", (-1,), "y")))
    with pytest.raises(InvalidArgumentError, match="tensor 'y'") as info:
        enforce({"x": np.ones(2)}, schema)
    assert info.value.field == "y"
