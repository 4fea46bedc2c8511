"""Build the JSON-ready report dict (what ``report.render_html`` draws) from data or a monitor.

* ``compare_data``: two data sets, offline: every column tested with Evidently's automatic
  choice of test (``drift.detect_drift``), distributions on the reference's bins, data quality.
* ``monitor_data``: a monitor over a time range: the range's windows merged, drift on the
  reference bins, signals over time, realized and estimated performance, alerts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pandas as pd

from conveyor._time import now_ms
from conveyor.monitoring import samples
from conveyor.monitoring.drift import detect_drift
from conveyor.monitoring.quality import QualityIssue, check_quality
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sample_signals import SampleSignals
from conveyor.monitoring.sketches import CategoricalSketch, NumericSketch, WindowSketch
from conveyor.monitoring.window_signals import DRIFT_JS_THRESHOLD, window_signals

THRESHOLDS = {"psi": 0.25, "js": DRIFT_JS_THRESHOLD, "drift_share": 0.5}
_PERFORMANCE = ("accuracy", "f1", "roc_auc", "mae", "rmse")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _distribution(profile: ReferenceProfile, window: WindowSketch, name: str) -> dict[str, Any]:
    column = profile.columns[name]
    sketch = window.columns[name]
    if isinstance(sketch, NumericSketch):
        return {
            "bins": list(column.edges),
            "reference_counts": list(column.bin_counts),
            "current_counts": sketch.bin_counts().tolist(),
        }
    assert isinstance(sketch, CategoricalSketch)  # noqa: S101 - the profile decides the kind
    return {
        "categories": [*column.categories, "(other)"],
        "reference_counts": [*column.category_counts, column.other_count],
        "current_counts": sketch.counts.tolist(),
    }


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _quality(issues: list[QualityIssue]) -> list[dict[str, Any]]:
    return [
        {
            "column": i.column,
            "kind": i.kind,
            "message": i.message,
            "value": _finite(i.value),
            "reference": _finite(i.reference),
        }
        for i in issues
    ]


def _row_level_summary(
    profile: ReferenceProfile, reference: pd.DataFrame, current: pd.DataFrame, vectors: list[str]
) -> dict[str, Any]:
    """The monitor's row-level signals (``sample_signals``) of the whole current data set."""
    row_level = SampleSignals(profile, reference, vectors)
    signals = row_level.signals(current)
    out: dict[str, Any] = {
        name: signals[name][""]
        for name in ("domain_classifier_auc", "pca_reconstruction_error")
        if name in signals
    }
    if row_level.pca_upper_threshold is not None:
        out["pca_reconstruction_upper"] = row_level.pca_upper_threshold
    for column, p_value in signals.get("embedding_mmd_p_value", {}).items():
        out[f"mmd_p_value ({column})"] = p_value
    return out


def compare_data(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str = "Drift report",
    categorical: list[str] | None = None,
) -> dict[str, Any]:
    """Return the report dict comparing two data sets.

    Vector columns (arrays in each cell, e.g. embeddings) get an MMD test instead of the
    per-column tests; numeric columns together get the domain-classifier AUC and the PCA
    reconstruction error.
    """
    vectors = [c for c in reference.columns if samples.is_vector_column(reference[c])]
    full_reference, full_current = reference, current
    reference = reference.drop(columns=vectors)
    current = current.drop(columns=[c for c in vectors if c in current.columns])
    profile = ReferenceProfile.from_frame(reference, categorical=categorical)
    extra = _row_level_summary(profile, full_reference, full_current, vectors)
    window = WindowSketch.for_profile(profile, 0, 1).update(current)
    drift = detect_drift(reference, current, categorical=categorical)
    signals = window_signals(profile, window)
    columns = []
    for result in drift.columns:
        name = result.column
        entry: dict[str, Any] = {
            "name": name,
            "kind": profile.columns[name].kind,
            "role": profile.columns[name].role,
            "stattest": result.stattest,
            "statistic": _finite(result.statistic),
            "p_value": _finite(result.p_value),
            "threshold": result.threshold,
            "drifted": result.drifted,
            "psi": _finite(signals.get("psi", {}).get(name)),
            "js": _finite(signals.get("js", {}).get(name)),
        }
        if result.reason:
            entry["reason"] = result.reason
        if name in window.columns:
            entry.update(_distribution(profile, window, name))
        columns.append(entry)
    return {
        "title": title,
        "subtitle": f"dataset drift: {_yes_no(drift.dataset_drift)} "
        f"(when {drift.drift_share:.0%} or more of the tested columns drift)",
        "generated_at_ms": now_ms(),
        "summary": {
            "reference_rows": len(reference),
            "current_rows": len(current),
            "drift_share": drift.share_of_drifted_columns,
            "drifted_columns": drift.number_of_drifted_columns,
            "columns": len(drift.columns),
            "alerts": 0,
            **extra,
        },
        "columns": columns,
        "thresholds": THRESHOLDS,
        "quality": _quality(check_quality(profile, window)),
    }


def _window_columns(
    profile: ReferenceProfile, window: WindowSketch, signals: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = []
    for name, column in profile.columns.items():
        if column.role == "target" or name not in window.columns:
            continue
        js = signals.get("js", {}).get(name, signals.get("prediction_js", {}).get(name))
        psi = signals.get("psi", {}).get(name, signals.get("prediction_psi", {}).get(name))
        columns.append(
            {
                "name": name,
                "kind": column.kind,
                "role": column.role,
                "stattest": "jensenshannon (reference bins)",
                "statistic": _finite(js),
                "p_value": None,
                "threshold": DRIFT_JS_THRESHOLD,
                "drifted": None if js is None else js >= DRIFT_JS_THRESHOLD,
                "psi": _finite(psi),
                "js": _finite(js),
                **_distribution(profile, window, name),
            }
        )
    return columns


def _series(
    rows: list[dict[str, Any]], end_ms: int
) -> tuple[dict[str, dict[str, list[list[float]]]], dict[str, list[list[float]]]]:
    """Split stored values into drift/quality timelines and performance series (with bands)."""
    timeline: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    performance: dict[str, list[list[float]]] = defaultdict(list)
    bands: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for row in rows:
        if row["start_ms"] >= end_ms or row["value"] is None:
            continue
        point = [row["start_ms"], row["value"]]
        signal = row["signal"]
        if signal.endswith(("_lower", "_upper")) and signal.startswith("estimated_"):
            metric, side = signal.rsplit("_", 1)
            bands[metric, row["start_ms"]][side] = row["value"]
        elif signal in _PERFORMANCE or signal.startswith("estimated_"):
            performance[signal].append(point)
        else:
            timeline[signal][row["label"]].append(point)
    for signal, points in performance.items():  # estimates carry their band: [t, v, lo, hi]
        for point in points:
            band = bands.get((signal, int(point[0])))
            if band and "lower" in band and "upper" in band:
                point += [band["lower"], band["upper"]]
    return {k: dict(v) for k, v in timeline.items()}, dict(performance)


def _alerts(monitors: Any, name: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    from conveyor.store import events

    found = events.list_events(monitors.engine, subject=f"monitors:/{name}", action_prefix="alert.")
    return [
        {
            "at": e.time,
            "rule": e.payload.get("rule"),
            "label": e.payload.get("label"),
            "state": e.payload.get("state"),
            "value": e.payload.get("value"),
            "threshold": e.payload.get("threshold"),
        }
        for e in found
        if "state" in e.payload  # transitions, not silences
        and start_ms <= int(e.payload.get("window_start", e.time)) < end_ms
    ]


def monitor_data(monitors: Any, name: str, *, start_ms: int, end_ms: int) -> dict[str, Any]:
    """Return the report dict of monitor ``name`` over ``[start_ms, end_ms)``."""
    monitor = monitors.get(name)
    profile = monitors.profile_of(monitor.reference_digest)
    window = monitors.window(name, start_ms, end_ms)
    columns: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    signals: dict[str, dict[str, float]] = {}
    if window is not None:
        signals = window_signals(profile, window)
        quality = _quality(check_quality(profile, window))
        columns = _window_columns(profile, window, signals)
    timeline, performance = _series(monitors.values(name, since_ms=start_ms), end_ms)
    alerts = _alerts(monitors, name, start_ms, end_ms)
    drifted = sum(1 for c in columns if c["drifted"])
    features = sum(1 for c in columns if c["role"] == "feature")
    return {
        "title": f"Monitor {name}",
        "subtitle": f"deployment {monitor.deployment}" if monitor.deployment else "",
        "generated_at_ms": now_ms(),
        "summary": {
            "reference_rows": profile.rows,
            "current_rows": 0 if window is None else window.rows,
            "drift_share": signals.get("drift_share", {}).get("", 0.0),
            "drifted_columns": drifted,
            "columns": features,
            "alerts": len(alerts),
        },
        "columns": columns,
        "timeline": timeline,
        "thresholds": THRESHOLDS,
        "performance": performance,
        "quality": quality,
        "alerts": alerts,
    }
