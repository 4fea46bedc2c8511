"""Signals that need whole rows, computed on a window's uniform sample against the reference's.

* ``domain_classifier_auc``: a classifier told to separate reference rows from the window's
  (numeric features); 0.5 means it cannot, so nothing moved jointly.
* ``pca_reconstruction_error``: the window's mean PCA reconstruction error, with the PCA and its
  band fitted on the reference sample (NannyML's data reconstruction drift).
* ``embedding_mmd`` / ``embedding_mmd_p_value`` per vector column: squared MMD with an RBF
  kernel and its permutation p-value.
* ``estimated_mae`` / ``estimated_rmse`` for regressors: DLE, a nanny model trained on the
  reference sample's features and predictions to predict the model's error.

Fitted models are cached per monitor for the evaluation; scikit-learn runs single-threaded here
because the monitor loop shares the machine with serving.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.window_signals import Signals

MIN_ROWS = 50  # per side; fewer rows make every estimate noise
PCA_CHUNK = 100


class SampleSignals:
    """Row-level signals for one monitor (models fitted once, lazily)."""

    def __init__(
        self, profile: ReferenceProfile, reference: pd.DataFrame | None, vectors: list[str]
    ) -> None:
        self._profile = profile
        self._reference = reference
        self._vectors = vectors
        self._numeric = [
            name
            for name, column in profile.columns.items()
            if column.role == "feature" and column.kind == "numeric"
        ]
        self._pca: Any = None
        self._dle: Any = None

    @property
    def pca_upper_threshold(self) -> float | None:
        """The reconstruction-error band's upper end learned on the reference (once fitted)."""
        return None if self._pca is None else float(self._pca.upper_threshold_)

    def _matrix(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray[Any, Any]:
        values = frame.reindex(columns=columns).apply(pd.to_numeric, errors="coerce")
        finite = values.replace([np.inf, -np.inf], np.nan).dropna()
        matrix: np.ndarray[Any, Any] = finite.to_numpy(dtype=np.float64)
        return matrix

    def signals(self, sample: pd.DataFrame) -> Signals:
        """Return the row-level signals of a window's sample (empty when too small)."""
        out: Signals = {}
        if self._reference is None or len(sample) < MIN_ROWS:
            return out
        with threadpool_limits(1):
            self._multivariate(sample, out)
            self._embeddings(sample, out)
            self._regression(sample, out)
        return out

    def _multivariate(self, sample: pd.DataFrame, out: Signals) -> None:
        from conveyor.monitoring.multivariate import PCAReconstructionDrift, domain_classifier_auc

        assert self._reference is not None  # noqa: S101 - checked by signals()
        if len(self._numeric) < 2:
            return
        ref = self._matrix(self._reference, self._numeric)
        cur = self._matrix(sample, self._numeric)
        if min(len(ref), len(cur)) < MIN_ROWS:
            return
        out["domain_classifier_auc"] = {"": domain_classifier_auc(ref, cur, max_rows=2_000).auc}
        if self._pca is None and len(ref) >= 2 * PCA_CHUNK:
            self._pca = PCAReconstructionDrift(chunk_size=PCA_CHUNK).fit(ref)
        if self._pca is not None:
            usable = len(cur) // PCA_CHUNK * PCA_CHUNK
            if usable:
                errors = [r.error for r in self._pca.evaluate(cur[:usable])]
                out["pca_reconstruction_error"] = {"": float(np.mean(errors))}

    def _embeddings(self, sample: pd.DataFrame, out: Signals) -> None:
        from conveyor.monitoring.embedding import mmd_test

        assert self._reference is not None  # noqa: S101
        for name in self._vectors:
            if name not in sample.columns or name not in self._reference.columns:
                continue
            try:
                ref = np.stack(self._reference[name].dropna().map(np.asarray).to_list())
                cur = np.stack(sample[name].dropna().map(np.asarray).to_list())
                result = mmd_test(ref, cur, max_rows=300, permutations=100)
            except (ValueError, InvalidArgumentError):
                continue  # ragged vectors or too few rows: no value, "no data" for alerts
            out.setdefault("embedding_mmd", {})[name] = result.mmd2
            out.setdefault("embedding_mmd_p_value", {})[name] = result.p_value

    def _regression(self, sample: pd.DataFrame, out: Signals) -> None:
        from conveyor.monitoring.performance import DLE

        profile, ref = self._profile, self._reference
        assert ref is not None  # noqa: S101
        if profile.task != "regression" or not profile.prediction or not profile.target:
            return
        features = [*self._numeric, profile.prediction]
        if self._dle is None:
            data = ref.reindex(columns=[*features, profile.target]).dropna()
            if len(data) < 2 * MIN_ROWS:
                return
            self._dle = DLE().fit(
                features=data[self._numeric].to_numpy(dtype=np.float64),
                y_pred=data[profile.prediction].to_numpy(dtype=np.float64),
                y_true=data[profile.target].to_numpy(dtype=np.float64),
            )
        current = sample.reindex(columns=features).apply(pd.to_numeric, errors="coerce").dropna()
        if len(current) < MIN_ROWS:
            return
        for record in self._dle.estimate(
            features=current[self._numeric].to_numpy(dtype=np.float64),
            y_pred=current[profile.prediction].to_numpy(dtype=np.float64),
        ):
            if record.value is not None:
                out[f"estimated_{record.metric}"] = {"": record.value}
