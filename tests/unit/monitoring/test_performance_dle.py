"""DLE: the nanny model's MAE/RMSE estimates follow realized errors under covariate shift."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import DLE


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Run gradient boosting on one OpenMP thread: on a shared, busy machine it is ~10x faster."""
    with threadpool_limits(1):
        yield


def _draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    features = rng.normal(size=(n, 3))
    features[:, 0] += shift
    # Heteroscedastic noise: the error grows with |x0|, so a shift of x0 changes the MAE.
    noise = rng.normal(size=n) * (0.2 + np.abs(features[:, 0]))
    return features, features @ np.array([2.0, -1.0, 0.5]) + noise


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    model = LinearRegression().fit(*_draw(rng, 2000))
    out: dict[str, Any] = {"model": model}
    for name, shift in (("reference", 0.0), ("current", 1.5)):
        features, target = _draw(rng, 4000, shift)
        out[name] = {"features": features, "y_pred": model.predict(features), "y_true": target}
    return out


def test_mae_and_rmse_estimates_track_realized_under_shift(problem: dict[str, Any]) -> None:
    dle = DLE(chunk_size=1000).fit(**problem["reference"])
    records = dle.estimate(**problem["current"])
    assert [r.metric for r in records[:2]] == ["mae", "rmse"]
    reference_mae = float(
        np.mean(np.abs(problem["reference"]["y_true"] - problem["reference"]["y_pred"]))
    )
    for record in records:
        assert record.realized is not None
        assert record.value is not None
        assert abs(record.value - record.realized) < 0.1 * record.realized, record
    maes = [r for r in records if r.metric == "mae"]
    assert all(r.realized is not None and r.realized > 1.5 * reference_mae for r in maes)
    assert all(r.is_alert for r in maes)


def test_estimate_without_shift_is_close_and_quiet(problem: dict[str, Any]) -> None:
    dle = DLE(metrics=("mae",), chunk_size=500).fit(**problem["reference"])
    rng = np.random.default_rng(11)
    features, target = _draw(rng, 4000)
    y_pred = problem["model"].predict(features)
    records = dle.estimate(features=features, y_pred=y_pred, y_true=target)
    for record in records:
        assert record.value is not None
        assert record.realized is not None
        assert abs(record.value - record.realized) < 0.1 * record.realized
        assert not record.is_alert
        assert record.lower is not None
        assert record.lower >= 0


def test_bad_input_names_the_field(problem: dict[str, Any]) -> None:
    reference = problem["reference"]
    with pytest.raises(InvalidArgumentError, match="features: has 1 row; at least 40") as info:
        DLE().fit(features=[[1.0, 2.0]], y_pred=[1.0], y_true=[1.0])
    assert info.value.field == "features"
    with pytest.raises(InvalidArgumentError, match="y_pred=4000, y_true=3999"):
        DLE().fit(**{**reference, "y_true": reference["y_true"][1:]})
    with pytest.raises(InvalidArgumentError, match="unknown metric 'mse'"):
        DLE(metrics=("mse",)).fit(**reference)
    dle = DLE(metrics=("mae",)).fit(**reference)
    with pytest.raises(InvalidArgumentError, match="features: has 2 columns, the reference had 3"):
        dle.estimate(features=np.zeros((5, 2)), y_pred=np.zeros(5))
    with pytest.raises(InvalidArgumentError, match="features: 1 NaN"):
        dle.estimate(features=np.array([[np.nan, 0.0, 0.0]]), y_pred=[0.0])
    with pytest.raises(InvalidArgumentError, match="features: is empty"):
        dle.estimate(features=np.zeros((0, 3)), y_pred=[])
    with pytest.raises(ConflictError, match="not fitted"):
        DLE().estimate(features=np.zeros((1, 3)), y_pred=[0.0])
