"""autolog(): fit logs params, training metrics and the model, once per outer fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import conveyor


@pytest.fixture
def autologged(home: Path) -> Iterator[None]:
    original = LogisticRegression.fit
    conveyor.autolog()
    yield
    conveyor.autolog(disable=True)
    assert LogisticRegression.fit is original


def _runs() -> list[Any]:
    client = conveyor.get_client()
    experiment = client.get_experiment_by_name("Default")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id]).runs


def test_fit_starts_logs_and_ends_a_run(autologged: None, frame: pd.DataFrame, labels: Any) -> None:
    model = LogisticRegression(C=0.5).fit(frame, labels)
    assert conveyor.active_run() is None
    (run,) = _runs()
    assert run.params["C"] == "0.5"
    assert run.metrics["training_accuracy_score"].value > 0.5
    assert "training_f1_score" in run.metrics
    loaded = conveyor.load_model(f"runs:/{run.info.run_id}/model")
    assert (loaded.predict(frame) == model.predict(frame)).all()
    assert loaded.signature is not None


def test_regressor_metrics_inside_an_active_run(autologged: None, frame: pd.DataFrame) -> None:
    with conveyor.start_run() as active:
        LinearRegression().fit(frame, frame["a"] * 2)
        assert conveyor.active_run() is active
    (run,) = _runs()
    assert run.metrics["training_r2_score"].value == pytest.approx(1.0)
    assert "training_mean_squared_error" in run.metrics


def test_pipeline_logs_once(autologged: None, frame: pd.DataFrame, labels: Any) -> None:
    make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)
    (run,) = _runs()
    assert "steps" in run.params


def test_disable_stops_logging(home: Path, frame: pd.DataFrame, labels: Any) -> None:
    conveyor.autolog()
    conveyor.autolog(disable=True)
    LogisticRegression().fit(frame, labels)
    assert _runs() == []
