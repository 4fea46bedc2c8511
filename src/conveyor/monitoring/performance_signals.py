"""Performance signals of a window from its logged predictions.

* Realized, from the rows whose delayed label has arrived: ``accuracy``, ``f1`` and
  ``roc_auc`` (when scores were logged) for classifiers, ``mae`` and ``rmse`` for regressors.
* Estimated, without labels, for binary classifiers whose monitor kept the reference's labels
  and scores: CBPE's ``estimated_accuracy``, ``estimated_f1`` and ``estimated_roc_auc`` over
  every scored row of the window. (DLE, for regressors, needs the features of each request,
  which the prediction log does not keep; run it offline with ``performance.DLE``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.performance import (
    CBPE,
    F1,
    Accuracy,
    MeanAbsoluteError,
    RocAuc,
    RootMeanSquaredError,
)
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sketches.values import bin_slots, fold_open_ended
from conveyor.monitoring.stats import jensen_shannon_from_counts, psi_from_counts
from conveyor.monitoring.window_signals import Signals, reference_counts

_ESTIMATED = ("accuracy", "f1", "roc_auc")


def _category_text(value: object) -> str:
    """Labels are stored as text; integral numbers match the reference's category keys."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _as_codes(values: pd.Series) -> np.ndarray[Any, Any]:
    """Labels as integers when every one is integral text ("0", "1"), else as text."""
    try:
        return values.astype(np.int64).to_numpy()
    except (ValueError, TypeError):
        return values.astype(str).to_numpy()


class PerformanceSignals:
    """Computes performance signals for a monitor's windows (CBPE fitted once, lazily)."""

    def __init__(
        self, profile: ReferenceProfile, reference_scores: dict[str, np.ndarray[Any, Any]] | None
    ) -> None:
        self._task = profile.task
        self._target = profile.columns.get(profile.target) if profile.target else None
        self._reference = reference_scores
        self._cbpe: CBPE | None = None

    def _estimator(self) -> CBPE | None:
        if self._cbpe is None and self._reference is not None:
            ref = self._reference
            try:
                self._cbpe = CBPE(metrics=_ESTIMATED).fit(
                    y_true=ref["y_true"].astype(np.int64),
                    y_pred_proba=ref["score"],
                    y_pred=ref["y_pred"].astype(np.int64),
                )
            except (InvalidArgumentError, ValueError, TypeError):
                self._reference = None  # not a binary 0/1 classifier: no estimates
        return self._cbpe

    def signals(self, predictions: pd.DataFrame) -> Signals:
        """Return the window's performance signals (empty when nothing applies)."""
        signals: Signals = {}
        if predictions.empty or self._task is None:
            return signals
        labeled = predictions[predictions["label"].notna()]
        if not labeled.empty:
            self._target_drift(labeled["label"], signals)
        if self._task == "regression":
            if not labeled.empty:
                truth = labeled["label"].astype(float).to_numpy()
                pred = labeled["prediction"].astype(float).to_numpy()
                for name, metric in (
                    ("mae", MeanAbsoluteError()),
                    ("rmse", RootMeanSquaredError()),
                ):
                    value = metric.update(truth, pred).value()
                    if value is not None:
                        signals[name] = {"": value}
            return signals
        if not labeled.empty:
            self._realized(labeled, signals)
        self._estimated(predictions, signals)
        return signals

    def _target_drift(self, labels: pd.Series, signals: Signals) -> None:
        """Drift of the arrived labels against the reference target's bins or categories."""
        target = self._target
        if target is None:
            return
        if target.kind == "numeric":
            values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
            values = values[~np.isnan(values)]
            if values.size == 0 or len(target.edges) < 2:
                return
            edges = np.asarray(target.edges, dtype=np.float64)
            slots = bin_slots(edges, values)
            current = fold_open_ended(np.bincount(slots, minlength=len(edges) + 1))
        else:
            index = {c: i for i, c in enumerate(target.categories)}
            current = np.zeros(len(target.categories) + 1, dtype=np.int64)
            for key in labels.map(_category_text):
                current[index.get(key, len(target.categories))] += 1
        reference = reference_counts(target)
        if int(reference.sum()) == 0:
            return
        signals["target_psi"] = {"": psi_from_counts(reference, current)}
        signals["target_js"] = {"": jensen_shannon_from_counts(reference, current)}

    def _realized(self, labeled: pd.DataFrame, signals: Signals) -> None:
        truth = _as_codes(labeled["label"])
        pred = _as_codes(labeled["prediction"])
        if truth.dtype != pred.dtype:
            truth, pred = truth.astype(str), pred.astype(str)
        accuracy = Accuracy().update(truth, pred).value()
        if accuracy is not None:
            signals["accuracy"] = {"": accuracy}
        binary = truth.dtype.kind == "i" and set(np.unique(np.concatenate([truth, pred]))) <= {
            0,
            1,
        }
        f1 = F1(average="binary" if binary else "macro").update(truth, pred).value()
        if f1 is not None:
            signals["f1"] = {"": f1}
        scored = labeled["score"].notna().to_numpy()
        if binary and scored.any():
            auc = RocAuc().update(truth[scored], labeled["score"].to_numpy()[scored]).value()
            if auc is not None:
                signals["roc_auc"] = {"": auc}

    def _estimated(self, predictions: pd.DataFrame, signals: Signals) -> None:
        scored = predictions[predictions["score"].notna()]
        if scored.empty:
            return
        estimator = self._estimator()
        if estimator is None:
            return
        try:
            records = estimator.estimate(
                y_pred_proba=scored["score"].to_numpy(dtype=np.float64),
                y_pred=_as_codes(scored["prediction"]).astype(np.int64),
            )
        except (InvalidArgumentError, ValueError, TypeError):
            return  # predictions are not 0/1 codes: nothing to estimate
        for record in records:
            if record.value is not None:
                signals[f"estimated_{record.metric}"] = {"": record.value}
                # The confidence band (estimate +- 3 standard errors), for reports.
                if record.lower is not None and record.upper is not None:
                    signals[f"estimated_{record.metric}_lower"] = {"": record.lower}
                    signals[f"estimated_{record.metric}_upper"] = {"": record.upper}
