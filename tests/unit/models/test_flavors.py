"""Every built-in flavor passes the shipped conformance kit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import flavor_for
from conveyor.testing.flavors import check_flavor
from tests.unit.models.conftest import Doubler


@pytest.mark.parametrize("serialization", ["skops", "pickle", "cloudpickle"])
def test_sklearn_frame_model(
    classifier: LogisticRegression, frame: pd.DataFrame, serialization: str
) -> None:
    check_flavor("sklearn", classifier, frame.head(5), serialization=serialization)


def test_sklearn_array_model(array_regressor: tuple[LinearRegression, Any]) -> None:
    model, x = array_regressor
    check_flavor("sklearn", model, x[:3])


def test_onnx_model(array_regressor: tuple[LinearRegression, Any]) -> None:
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    model, x = array_regressor
    proto = skl2onnx.convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 2]))])
    check_flavor("onnx", proto, x[:3].astype(np.float32))


def test_python_function_model(frame: pd.DataFrame) -> None:
    check_flavor("python_function", Doubler(), frame.head(5))


def test_flavor_is_chosen_by_type(classifier: LogisticRegression) -> None:
    assert flavor_for(classifier).name == "sklearn"
    assert flavor_for(Doubler()).name == "python_function"
    with pytest.raises(InvalidArgumentError, match="needs a `predict` method"):
        flavor_for(object())


def test_unknown_serialization_is_refused(classifier: LogisticRegression, tmp_path: Any) -> None:
    from conveyor.models import save_model

    with pytest.raises(InvalidArgumentError, match="serialization 'json'"):
        save_model(classifier, tmp_path / "m", serialization="json")


def test_the_kit_catches_a_flavor_that_predicts_differently(
    classifier: LogisticRegression, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.models.flavors import sklearn as sk

    calls = iter(range(1000))
    monkeypatch.setattr(
        sk.SklearnFlavor, "predict", lambda self, model, data: model.predict(data) + next(calls)
    )
    with pytest.raises(AssertionError, match="predicts differently"):
        check_flavor("sklearn", classifier, frame.head(5))
