"""NannyML side of the CBPE/DLE cross-check; runs inside ``benchmarks/.venvs/nannyml``.

Usage: ``python _peer_nannyml.py {cbpe|cbpe_multiclass|dle} JSON_PARAMS``, where the params
name an ``.npz`` file written by ``crosscheck_nannyml.py`` (the same arrays Conveyor is given)
and the chunk size. Prints one ``BENCH_RESULT`` line: per metric and chunk, NannyML's
estimate, sampling error, confidence band, alert thresholds and realized value, plus the
fit + estimate time.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no analytics calls from a benchmark

import numpy as np
import pandas as pd
from _common import Result, clock, run_main

COLUMNS = (
    "value",
    "sampling_error",
    "lower_confidence_boundary",
    "upper_confidence_boundary",
    "lower_threshold",
    "upper_threshold",
    "realized",
    "alert",
)


def _float(value: Any) -> float | bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    number = float(value)
    return None if np.isnan(number) else number


def _records(frame: pd.DataFrame, metrics: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for metric in metrics:
        rows = []
        for _, row in frame.iterrows():
            record = {col: _float(row[(metric, col)]) for col in COLUMNS if (metric, col) in row}
            record["chunk"] = int(row[("chunk", "chunk_index")])
            rows.append(record)
        out[metric] = rows
    return out


def _frames(data: Any, prefix: str, columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: data[f"{prefix}_{key}"] for name, key in columns.items()})


def cbpe(params: dict[str, Any]) -> Result:
    """Fit NannyML's CBPE on the reference arrays and estimate on the analysis arrays."""
    import nannyml as nml

    data = np.load(params["data"])
    columns = {"y_true": "y_true", "y_pred_proba": "y_pred_proba", "y_pred": "y_pred"}
    reference = _frames(data, "reference", columns)
    analysis = _frames(data, "analysis", columns)
    metrics = list(params["metrics"])
    estimator = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_binary",
        metrics=metrics,
        chunk_size=params["chunk_size"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with clock() as timer:
            estimator.fit(reference)
            result = estimator.estimate(analysis)
    frame = result.filter(period="analysis").to_df()
    return {
        "seconds": timer.seconds,
        "needs_calibration": bool(estimator.needs_calibration),
        "metrics": _records(frame, metrics),
        "nannyml": nml.__version__,
    }


def cbpe_multiclass(params: dict[str, Any]) -> Result:
    """Fit NannyML's multiclass CBPE (one probability column per class) and estimate."""
    import nannyml as nml

    data = np.load(params["data"])
    frames = {}
    for prefix in ("reference", "analysis"):
        proba = data[f"{prefix}_y_pred_proba"]
        frame = pd.DataFrame(proba, columns=[f"p{c}" for c in range(proba.shape[1])])
        frame["y_pred"] = data[f"{prefix}_y_pred"]
        frame["y_true"] = data[f"{prefix}_y_true"]
        frames[prefix] = frame
    n_classes = data["reference_y_pred_proba"].shape[1]
    metrics = list(params["metrics"])
    estimator = nml.CBPE(
        y_pred_proba={c: f"p{c}" for c in range(n_classes)},
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_multiclass",
        metrics=metrics,
        chunk_size=params["chunk_size"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with clock() as timer:
            estimator.fit(frames["reference"])
            result = estimator.estimate(frames["analysis"])
    frame = result.filter(period="analysis").to_df()
    return {
        "seconds": timer.seconds,
        "metrics": _records(frame, metrics),
        "nannyml": nml.__version__,
    }


def dle(params: dict[str, Any]) -> Result:
    """Fit NannyML's DLE (LightGBM nanny model) and estimate on the analysis arrays."""
    import nannyml as nml

    data = np.load(params["data"])
    frames = {}
    for prefix in ("reference", "analysis"):
        features = data[f"{prefix}_features"]
        frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
        frame["y_pred"] = data[f"{prefix}_y_pred"]
        frame["y_true"] = data[f"{prefix}_y_true"]
        frames[prefix] = frame
    metrics = list(params["metrics"])
    estimator = nml.DLE(
        feature_column_names=[c for c in frames["reference"].columns if c.startswith("f")],
        y_pred="y_pred",
        y_true="y_true",
        metrics=metrics,
        chunk_size=params["chunk_size"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with clock() as timer:
            estimator.fit(frames["reference"])
            result = estimator.estimate(frames["analysis"])
    frame = result.filter(period="analysis").to_df()
    return {
        "seconds": timer.seconds,
        "metrics": _records(frame, metrics),
        "nannyml": nml.__version__,
    }


if __name__ == "__main__":
    run_main({"cbpe": cbpe, "cbpe_multiclass": cbpe_multiclass, "dle": dle})
