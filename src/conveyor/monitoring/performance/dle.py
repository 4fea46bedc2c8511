"""DLE: estimate a regressor's MAE and RMSE on unlabeled data with a nanny model."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingRegressor

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import sampling_error
from conveyor.monitoring.performance._inputs import (
    FloatArray,
    as_float_matrix,
    as_float_vector,
    check_same_length,
)
from conveyor.monitoring.performance.estimates import (
    Chunk,
    EstimatedMetric,
    Thresholds,
    estimated,
    split_chunks,
)

# Gradient boosting needs a handful of rows per leaf (min_samples_leaf=20) to learn anything.
MIN_REFERENCE_ROWS = 40


@dataclass(frozen=True)
class _RegressionMetric:
    """A loss learned per row by the nanny model, and how rows aggregate into the metric."""

    loss: Callable[[FloatArray, FloatArray], FloatArray]
    aggregate: Callable[[FloatArray], float]
    sampling_error: Callable[[FloatArray, FloatArray], sampling_error.SamplingError]


def _root_mean(values: FloatArray) -> float:
    return math.sqrt(float(values.mean()))


REGRESSION_METRICS: dict[str, _RegressionMetric] = {
    "mae": _RegressionMetric(
        loss=lambda t, p: np.abs(t - p),
        aggregate=lambda v: float(v.mean()),
        sampling_error=sampling_error.mean_absolute_error,
    ),
    "rmse": _RegressionMetric(
        loss=lambda t, p: np.square(t - p),
        aggregate=_root_mean,
        sampling_error=sampling_error.root_mean_squared_error,
    ),
}


class DLE:
    """Direct Loss Estimation for regressors (NannyML's method).

    ``fit`` trains one nanny model per metric on the labeled reference: a gradient-boosted
    regressor from the features plus the model's prediction to the row's loss (absolute error
    for MAE, squared error for RMSE). ``estimate`` predicts the loss of every unlabeled row,
    clips it at 0 and aggregates per chunk (MAE = mean, RMSE = root of the mean), with NannyML's
    sampling-error band and alert thresholds from the reference chunks' realized values.

    NannyML's nanny model is LightGBM's ``LGBMRegressor`` with default parameters; here it is
    scikit-learn's ``HistGradientBoostingRegressor`` with the matching defaults (100 trees,
    learning rate 0.1, 31 leaves, 20 rows per leaf, no early stopping), so the two estimate
    the same quantity with different, similarly regularised learners.

    Args:
        metrics: ``"mae"`` and/or ``"rmse"``.
        chunk_size: rows per chunk; None estimates each data set as one chunk.
        random_state: seed of the nanny models.
        nanny_params: extra ``HistGradientBoostingRegressor`` parameters.

    References:
        NannyML, "Direct Loss Estimation (DLE)", https://nannyml.readthedocs.io/en/stable/
        how_it_works/performance_estimation.html; source
        ``nannyml/performance_estimation/direct_loss_estimation`` (v0.13).
    """

    def __init__(
        self,
        *,
        metrics: Sequence[str] = ("mae", "rmse"),
        chunk_size: int | None = None,
        random_state: int = 0,
        nanny_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.metrics = tuple(metrics)
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.nanny_params = dict(nanny_params or {})

    def get_params(self) -> dict[str, Any]:
        """Return the configuration given to ``__init__``."""
        return {
            "metrics": self.metrics,
            "chunk_size": self.chunk_size,
            "random_state": self.random_state,
            "nanny_params": self.nanny_params,
        }

    def _nanny(self) -> HistGradientBoostingRegressor:
        params: dict[str, Any] = {
            "max_iter": 100,
            "learning_rate": 0.1,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 20,
            "early_stopping": False,
            "random_state": self.random_state,
        }
        return HistGradientBoostingRegressor(**(params | self.nanny_params))

    def fit(self, *, features: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike) -> Self:
        """Train the nanny models and learn sampling errors and thresholds on the reference.

        Args:
            features: the model's numeric input features, rows x columns.
            y_pred: the model's predictions on the reference.
            y_true: the reference targets.

        Returns:
            The fitted estimator.

        Raises:
            InvalidArgumentError: a field is malformed, NaN/inf, of another length, or the
                reference has fewer than 40 rows.
        """
        for name in self.metrics:
            if name not in REGRESSION_METRICS:
                msg = f"metrics: unknown metric {name!r}; choose from mae, rmse"
                raise InvalidArgumentError(msg, field="metrics")
        split_chunks(0, self.chunk_size)
        inputs, pred = _read(features, y_pred, MIN_REFERENCE_ROWS)
        truth = as_float_vector(y_true, field="y_true", min_rows=MIN_REFERENCE_ROWS)
        check_same_length({"y_pred": pred, "y_true": truth})
        self.n_features_ = inputs.shape[1] - 1
        self.nannies_: dict[str, HistGradientBoostingRegressor] = {}
        self.sampling_errors_: dict[str, sampling_error.SamplingError] = {}
        self.thresholds_: dict[str, Thresholds] = {}
        for name in dict.fromkeys(self.metrics):
            metric = REGRESSION_METRICS[name]
            self.nannies_[name] = self._nanny().fit(inputs, metric.loss(truth, pred))
            self.sampling_errors_[name] = metric.sampling_error(truth, pred)
            realized = [
                metric.aggregate(metric.loss(truth[c.start : c.stop], pred[c.start : c.stop]))
                for c in split_chunks(len(truth), self.chunk_size)
            ]
            self.thresholds_[name] = Thresholds.from_reference(
                realized, lower_limit=0.0, upper_limit=None
            )
        return self

    def estimate(
        self, *, features: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None = None
    ) -> list[EstimatedMetric]:
        """Estimate every metric on every chunk, in chunk then metric order.

        Args:
            features: the model's numeric input features, same columns as the reference.
            y_pred: the model's predictions.
            y_true: targets, when some have arrived: each record then carries the realized value.

        Returns:
            One record per chunk and metric.

        Raises:
            InvalidArgumentError: a field is empty, malformed, NaN/inf or of another length, or
                the features have another number of columns than the reference.
            ConflictError: the estimator is not fitted.
        """
        if not hasattr(self, "nannies_"):
            msg = "DLE is not fitted; call fit(features=..., y_pred=..., y_true=...) first"
            raise ConflictError(msg)
        inputs, pred = _read(features, y_pred, 1)
        if inputs.shape[1] - 1 != self.n_features_:
            msg = (
                f"features: has {inputs.shape[1] - 1} columns, the reference had "
                f"{self.n_features_}; pass the same feature columns in the same order"
            )
            raise InvalidArgumentError(msg, field="features")
        truth = None
        if y_true is not None:
            truth = as_float_vector(y_true, field="y_true")
            check_same_length({"y_pred": pred, "y_true": truth})
        losses = {
            name: np.maximum(nanny.predict(inputs), 0.0) for name, nanny in self.nannies_.items()
        }
        chunks = split_chunks(len(pred), self.chunk_size)
        return [
            self._record(chunk, name, losses[name], pred, truth)
            for chunk in chunks
            for name in self.nannies_
        ]

    def _record(
        self,
        chunk: Chunk,
        name: str,
        losses: FloatArray,
        pred: FloatArray,
        truth: FloatArray | None,
    ) -> EstimatedMetric:
        metric = REGRESSION_METRICS[name]
        rows = slice(chunk.start, chunk.stop)
        value = metric.aggregate(losses[rows])
        realized = None if truth is None else metric.aggregate(metric.loss(truth[rows], pred[rows]))
        return estimated(
            chunk,
            name,
            value,
            self.sampling_errors_[name].standard_error(chunk.size),
            self.thresholds_[name],
            limits=(0.0, None),
            realized=realized,
        )


def _read(features: ArrayLike, y_pred: ArrayLike, min_rows: int) -> tuple[FloatArray, FloatArray]:
    """Return the nanny model's input (features then prediction) and the predictions."""
    matrix = as_float_matrix(features, field="features", min_rows=min_rows)
    pred = as_float_vector(y_pred, field="y_pred", min_rows=min_rows)
    check_same_length({"features": matrix, "y_pred": pred})
    return np.column_stack([matrix, pred]), pred
