"""Conveyor ⇄ MLflow: each reads the other's saved models."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from conveyor.models import load_model, save_model
from tests.unit.models.conftest import Doubler

with warnings.catch_warnings():  # mlflow warns about its own type hints on import
    warnings.simplefilter("ignore")
    import mlflow.onnx
    import mlflow.pyfunc
    import mlflow.sklearn


@pytest.fixture
def floats(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(np.float64)  # MLflow warns on integer columns in inferred schemas


@pytest.mark.parametrize("serialization", ["skops", "pickle", "cloudpickle"])
def test_conveyor_sklearn_loads_in_mlflow(
    classifier: LogisticRegression, frame: pd.DataFrame, tmp_path: Path, serialization: str
) -> None:
    save_model(classifier, tmp_path / "m", input_example=frame.head(3), serialization=serialization)
    expected = classifier.predict(frame)
    assert (mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(frame) == expected).all()
    assert (mlflow.sklearn.load_model(str(tmp_path / "m")).predict(frame) == expected).all()


def test_conveyor_onnx_loads_in_mlflow(
    array_regressor: tuple[LinearRegression, Any], tmp_path: Path
) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model, x = array_regressor
    proto = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 2]))])
    save_model(proto, tmp_path / "m", input_example=x[:2].astype(np.float32))
    out = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(x.astype(np.float32))
    assert np.allclose(next(iter(out.values())).ravel(), model.predict(x), atol=1e-4)


def test_conveyor_python_function_loads_in_mlflow(frame: pd.DataFrame, tmp_path: Path) -> None:
    save_model(Doubler(), tmp_path / "m", input_example=frame.head(3))
    out = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(frame)
    assert np.allclose(out, frame["a"] * 2)


@pytest.mark.parametrize("fmt", ["skops", "pickle"])
def test_mlflow_sklearn_loads_in_conveyor(
    floats: pd.DataFrame, labels: Any, tmp_path: Path, fmt: str
) -> None:
    model = LogisticRegression().fit(floats, labels)
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "m"),
        input_example=floats.head(3),
        serialization_format=fmt,
        pip_requirements=["scikit-learn"],  # skips MLflow's slow requirement inference
    )
    loaded = load_model(tmp_path / "m", trust_pickle=fmt == "pickle")
    assert (loaded.predict(floats) == model.predict(floats)).all()


@pytest.mark.filterwarnings("ignore::UserWarning")  # MLflow on PythonModel type hints
def test_mlflow_python_model_loads_in_conveyor(floats: pd.DataFrame, tmp_path: Path) -> None:
    class Tripler(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input["a"] * 3

    mlflow.pyfunc.save_model(
        str(tmp_path / "m"),
        python_model=Tripler(),
        input_example=floats,
        pip_requirements=["pandas"],
    )
    loaded = load_model(tmp_path / "m", trust_pickle=True)
    assert np.allclose(loaded.predict(floats), floats["a"] * 3)


def test_mlflow_onnx_loads_in_conveyor(
    array_regressor: tuple[LinearRegression, Any], tmp_path: Path
) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model, x = array_regressor
    proto = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 2]))])
    mlflow.onnx.save_model(proto, str(tmp_path / "m"), pip_requirements=["onnx"])
    loaded = load_model(tmp_path / "m")
    assert np.allclose(loaded.predict(x.astype(np.float32)).ravel(), model.predict(x), atol=1e-4)
