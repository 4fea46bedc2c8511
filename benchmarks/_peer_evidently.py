"""Evidently 0.7 workloads, run with ``benchmarks/.venvs/evidently/bin/python``.

``python _peer_evidently.py WORKLOAD JSON_PARAMS`` (protocol of ``_common.py``):

* ``drift``: ``Report([DataDriftPreset()])`` over the benchmark data set; times
  ``Dataset.from_pandas`` for both sides plus ``report.run`` and reports peak RSS;
* ``decisions``: the same preset over each crosscheck data set, returning every column's
  method, score, threshold and drift decision.
"""

from __future__ import annotations

import resource
from typing import Any

from _common import clock, run_main
from drift import load_frames

# Evidently's decision rule per test display name (legacy stattests: ks uses p <= t, chisquare
# and z use p < t, the distances d >= t).
_RULES = {
    "K-S p_value": lambda s, t: s <= t,
    "chi-square p_value": lambda s, t: s < t,
    "Z-test p_value": lambda s, t: s < t,
}


def _run_preset(reference: Any, current: Any, numeric: list[str], categorical: list[str]) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    return Report([DataDriftPreset()]).run(cur, ref)


def _decisions(snapshot: Any) -> tuple[dict[str, Any], int]:
    columns: dict[str, Any] = {}
    drifted_count = -1
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            drifted_count = int(metric["value"]["count"])
            continue
        method, threshold, score = config["method"], config["threshold"], metric["value"]
        rule = _RULES.get(method, lambda s, t: s >= t)
        columns[config["column"]] = {
            "method": method,
            "score": score,
            "threshold": threshold,
            "drifted": bool(rule(score, threshold)),
        }
    return columns, drifted_count


def drift(params: dict[str, Any]) -> dict[str, Any]:
    """Time the data-drift preset on the benchmark data set."""
    reference, current, numeric, categorical = load_frames(params["data_dir"])
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with clock() as timer:
        snapshot = _run_preset(reference, current, numeric, categorical)
        columns, drifted_count = _decisions(snapshot)
    return {
        "seconds": timer.seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_load_mb": baseline_mb,
        "drifted": sorted(name for name, c in columns.items() if c["drifted"]),
        "drifted_count_reported": drifted_count,
    }


def decisions(params: dict[str, Any]) -> dict[str, Any]:
    """Per-column decisions of the preset on each crosscheck data set."""
    out: dict[str, Any] = {}
    for case in params["cases"]:
        reference, current, numeric, categorical = load_frames(case["data_dir"])
        columns, drifted_count = _decisions(_run_preset(reference, current, numeric, categorical))
        derived = sum(1 for c in columns.values() if c["drifted"])
        out[case["name"]] = {"columns": columns, "count_matches": derived == drifted_count}
    return out


if __name__ == "__main__":
    run_main({"drift": drift, "decisions": decisions})
