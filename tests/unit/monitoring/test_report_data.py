"""The report dicts built from data and from a monitor render and carry the right numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.monitoring.report import render_html, validate_report
from conveyor.monitoring.report_data import compare_data, monitor_data
from conveyor.monitoring.service import Monitors
from conveyor.tracking import Workspace


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    x = rng.normal(shift, 1, (n, 3))
    embedding = rng.normal(shift, 1, (n, 8))
    return pd.DataFrame(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "plan": rng.choice(["x", "y"], n),
            "embedding": list(embedding),
        }
    )


@pytest.mark.parametrize(("shift", "drifted"), [(0.0, False), (1.0, True)])
def test_compare_adds_multivariate_and_embedding_drift(shift: float, drifted: bool) -> None:
    rng = np.random.default_rng(0)
    data = compare_data(_frame(rng, 600, 0.0), _frame(rng, 600, shift))
    validate_report(data)
    summary = data["summary"]
    assert [c["name"] for c in data["columns"]] == ["a", "b", "c", "plan"]
    assert (summary["domain_classifier_auc"] > 0.7) is drifted
    assert (summary["mmd_p_value (embedding)"] < 0.05) is drifted
    assert (summary["drifted_columns"] == 3) is drifted
    assert "<svg" in render_html(data)


def test_monitor_report_validates_and_renders(sqlite_workspace: Workspace) -> None:
    monitors = Monitors(sqlite_workspace.engine, sqlite_workspace.blobs)
    rng = np.random.default_rng(1)
    reference = _frame(rng, 500, 0.0).drop(columns=["embedding"])
    monitors.create("m", reference, window_s=60, rules=["psi(a) > 0.25"])
    for minute in range(3):
        live = _frame(rng, 200, 2.0 * (minute == 2)).drop(columns=["embedding"])
        monitors.log("m", live, at_ms=minute * 60_000 + 1)
    monitors.evaluate("m", until_ms=180_000)
    data = monitor_data(monitors, "m", start_ms=0, end_ms=180_000)
    validate_report(data)
    assert data["summary"]["current_rows"] == 600
    assert [a["state"] for a in data["alerts"]] == ["firing"]
    assert len(data["timeline"]["psi"]["a"]) == 3
    html = render_html(data)
    assert "firing" in html
