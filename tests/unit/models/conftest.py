"""Small fitted models and examples shared by the model tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=40), "b": rng.integers(0, 5, size=40)})


@pytest.fixture(scope="session")
def labels(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    return (frame["a"] + frame["b"] > 2).to_numpy().astype(np.int64)


@pytest.fixture(scope="session")
def classifier(frame: pd.DataFrame, labels: np.ndarray[Any, Any]) -> LogisticRegression:
    return LogisticRegression().fit(frame, labels)


@pytest.fixture(scope="session")
def array_regressor() -> tuple[LinearRegression, np.ndarray[Any, Any]]:
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    return LinearRegression().fit(x, x.sum(axis=1)), x


class Doubler:
    """A plain Python model: anything with ``predict``."""

    def predict(self, data: Any) -> Any:
        return np.asarray(data["a"]) * 2
