"""plan_for_model: the matrix fast path only for models that give the same answers on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.models import load_model, save_model
from conveyor.models.signature import ColSpec, Schema, Signature
from conveyor.serving.payloads import Rows
from conveyor.serving.payloads.model_plan import plan_for_model
from tests.unit.models.conftest import Doubler


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=30), "b": rng.integers(0, 5, size=30)})


@pytest.fixture(scope="module")
def labels(frame: pd.DataFrame) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    return (frame["a"] + frame["b"] > 2).to_numpy().astype(np.int64)


def test_a_plain_estimator_gets_the_matrix_path(
    frame: pd.DataFrame, labels: np.ndarray[tuple[int], np.dtype[np.int64]], tmp_path: Path
) -> None:
    save_model(LogisticRegression().fit(frame, labels), tmp_path / "m", input_example=frame[:3])
    plan = plan_for_model(load_model(tmp_path / "m"))
    assert plan.path == "matrix"
    assert plan.build(Rows([[0.5, 2]])).is_matrix


def test_a_pipeline_selecting_columns_by_name_keeps_dataframes(
    frame: pd.DataFrame, labels: np.ndarray[tuple[int], np.dtype[np.int64]], tmp_path: Path
) -> None:
    selects = ColumnTransformer([("scale", StandardScaler(), ["a"])], remainder="passthrough")
    model = make_pipeline(selects, LogisticRegression()).fit(frame, labels)
    save_model(model, tmp_path / "m", input_example=frame[:3])
    loaded = load_model(tmp_path / "m")
    plan = plan_for_model(loaded)
    assert plan.path == "frame"
    planned = plan.build(Rows([[0.5, 2]]))
    assert isinstance(planned.data, pd.DataFrame)
    assert loaded.predict(planned.data).shape == (1,)


def test_without_an_input_example_a_row_of_zeros_is_the_probe(
    frame: pd.DataFrame, labels: np.ndarray[tuple[int], np.dtype[np.int64]], tmp_path: Path
) -> None:
    signature = Signature(Schema((ColSpec("double", "a"), ColSpec("long", "b"))))
    save_model(LogisticRegression().fit(frame, labels), tmp_path / "m", signature=signature)
    assert plan_for_model(load_model(tmp_path / "m")).path == "matrix"


def test_models_off_the_matrix_path_are_not_probed(tmp_path: Path) -> None:
    save_model(Doubler(), tmp_path / "m", input_example=pd.DataFrame({"a": [1.0]}))
    plan = plan_for_model(load_model(tmp_path / "m", trust_pickle=True))
    assert plan.path == "frame"
