"""Replicas feed monitors: one vectorised log per monitor and flush, columns named by the plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.monitoring.records import Monitor
from conveyor.monitoring.service import Monitors
from conveyor.monitoring.sketches.numeric import NumericSketch
from conveyor.serving.monitor_feed import MonitorSink
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.routes import ResolvedRoute, RouteTable
from conveyor.serving.served_rows import per_row, row_ids, served_rows
from conveyor.serving.windows import SHADOW
from conveyor.tracking import Workspace

HOUR_MS = 3_600_000
AT = 1_000.0  # seconds: every record of these tests is in the window starting at 0


class CountingMonitors(Monitors):
    """Monitors that count the queries and logs the sink makes."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lists = 0
        self.logs: list[tuple[str, int]] = []

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        self.lists += 1
        return super().list_monitors(deployment=deployment)

    def log(self, name: str, batch: Any, **kwargs: Any) -> int:
        self.logs.append((name, len(batch)))
        return super().log(name, batch, **kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _table(deployment: str = "svc") -> RouteTable:
    return RouteTable(deployment, "m", 1, (ResolvedRoute("primary", 1, 100.0, "1"),))


def _columns(_table: RouteTable, _version: int) -> Sequence[str]:
    return ("a", "b")


def _served(
    request_id: str, inputs: Any, predictions: Any, *, route: str = "primary", table: Any = None
) -> Served:
    rows = len(inputs) if inputs is not None else 0
    return Served(
        table or _table(), 1, route, request_id, True, 0.002, rows, AT, inputs, predictions
    )


@pytest.fixture
def monitors(workspace: Workspace) -> CountingMonitors:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"a": rng.normal(0, 1, 500), "b": rng.normal(100, 5, 500), "pred": rng.integers(0, 2, 500)}
    )
    m = CountingMonitors(workspace.engine, workspace.blobs)
    m.create("watch", reference, deployment="svc", prediction="pred", task="classification")
    return m


def _sink(monitors: Monitors, clock: Clock | None = None) -> MonitorSink:
    return MonitorSink(monitors, _columns, clock=clock or Clock())


def _flush(sink: MonitorSink, records: list[Served], replica: str = "r1") -> None:
    sink.flush(Flush(int(AT * 1000), int(AT * 1000) + 10_000, replica, records))


def test_matrix_inputs_are_named_by_the_plan_and_logged_once_per_flush(
    monitors: CountingMonitors,
) -> None:
    rng = np.random.default_rng(1)
    records = [
        _served(f"r{i}", np.column_stack([rng.normal(0, 1, 1), rng.normal(100, 5, 1)]), [i % 2])
        for i in range(50)
    ]
    _flush(_sink(monitors), records)
    assert monitors.logs == [("watch", 50)]
    sketch = monitors.window("watch", 0, HOUR_MS)
    assert sketch is not None
    assert sketch.rows == 50
    a, b = sketch.columns["a"], sketch.columns["b"]
    assert isinstance(a, NumericSketch)
    assert isinstance(b, NumericSketch)
    assert (a.absent, b.absent) == (0, 0)
    expected = np.concatenate([r.inputs for r in records])
    assert a.moments.mean == pytest.approx(expected[:, 0].mean())
    assert b.moments.mean == pytest.approx(expected[:, 1].mean())


def test_multi_row_requests_get_one_id_per_row_and_labels_join(
    monitors: CountingMonitors,
) -> None:
    records = [
        _served("one", np.array([[0.1, 99.0]]), np.array([1])),
        _served("many", np.array([[0.2, 98.0], [0.3, 97.0], [0.4, 96.0]]), np.array([0, 1, 0])),
    ]
    _flush(_sink(monitors), records)
    joined = monitors.log_labels("watch", ["one", "many:0", "many:2", "many"], [1, 0, 0, 1])
    assert joined == {"matched": 3, "unknown": 1}


def test_shadow_copies_and_failed_requests_are_not_fed(monitors: CountingMonitors) -> None:
    x = np.array([[0.0, 100.0]])
    records = [
        _served("a", x, [1]),
        _served("a", None, [0], route=SHADOW),
        _served("b", None, None),  # refused before the model ran
        _served("c", x, [0], route="canary"),  # a live route: the caller got this answer
    ]
    _flush(_sink(monitors), records)
    assert monitors.logs == [("watch", 2)]


def test_a_repeated_request_id_keeps_its_first_prediction_and_the_window_counts_both(
    monitors: CountingMonitors,
) -> None:
    sink = _sink(monitors)
    x = np.array([[0.0, 100.0]])
    _flush(sink, [_served("dup", x, [1]), _served("dup", x, [0])])
    _flush(sink, [_served("dup", x, [0])])
    sketch = monitors.window("watch", 0, HOUR_MS)
    assert sketch is not None
    assert sketch.rows == 3
    assert monitors.log_labels("watch", ["dup"], [1]) == {"matched": 1, "unknown": 0}


def test_deployments_without_monitors_cost_one_cached_query(monitors: CountingMonitors) -> None:
    clock = Clock()
    sink = _sink(monitors, clock)
    x = np.array([[0.0, 100.0]])
    for _ in range(5):
        _flush(sink, [_served("q", x, [1], table=_table("unwatched"))])
    assert (monitors.lists, monitors.logs) == (1, [])
    clock.now += 31  # the list is read again after refresh_s
    _flush(sink, [_served("q", x, [1], table=_table("unwatched"))])
    assert monitors.lists == 2


def test_a_new_monitor_is_fed_after_the_refresh(workspace: Workspace) -> None:
    monitors = CountingMonitors(workspace.engine, workspace.blobs)
    clock = Clock()
    sink = _sink(monitors, clock)
    x = np.array([[0.0, 100.0]])
    _flush(sink, [_served("early", x, [1])])
    reference = pd.DataFrame({"a": [0.0, 1.0], "b": [100.0, 101.0], "pred": [0, 1]})
    monitors.create("late", reference, deployment="svc", prediction="pred")
    _flush(sink, [_served("cached", x, [1])])
    clock.now += 31
    _flush(sink, [_served("fresh", x, [1])])
    assert monitors.logs == [("late", 1)]


def test_a_deleted_monitor_is_dropped_and_the_others_still_fed(
    monitors: CountingMonitors,
) -> None:
    reference = pd.DataFrame({"a": [0.0, 1.0], "b": [100.0, 101.0], "pred": [0, 1]})
    monitors.create("second", reference, deployment="svc", prediction="pred")
    sink = _sink(monitors)
    x = np.array([[0.0, 100.0]])
    _flush(sink, [_served("1", x, [1])])
    monitors.delete("second")
    _flush(sink, [_served("2", x, [1])])
    assert [name for name, _ in monitors.logs] == ["second", "watch", "second", "watch"]
    _flush(sink, [_served("3", x, [1])])  # the list was read again: "second" is gone
    assert monitors.logs[-1] == ("watch", 1)
    assert monitors.lists == 2


def test_rows_stay_aligned_across_frames_matrices_and_unnamed_inputs() -> None:
    frame = pd.DataFrame({"a": [5.0, 6.0], "b": [7.0, 8.0]})
    records = [
        _served("m1", np.array([[1.0, 2.0]]), np.array([10])),
        _served("f", frame, np.array([50, 60])),
        _served("m2", np.array([[3.0, 4.0], [3.5, 4.5]]), np.array([[30, 0], [35, 0]])),
        _served("bad", np.array([1.0, 2.0]), np.array([1, 2])),  # a 1-D tensor: no columns
    ]
    rows = served_rows(records, _columns)
    by_id = dict(zip(rows.request_ids, rows.inputs["a"].tolist(), strict=True))
    assert by_id == {"m1": 1.0, "m2:0": 3.0, "m2:1": 3.5, "f:0": 5.0, "f:1": 6.0}
    preds = dict(zip(rows.request_ids, rows.predictions.tolist(), strict=True))
    assert preds == {"m1": 10, "m2:0": 30, "m2:1": 35, "f:0": 50, "f:1": 60}
    assert rows.counts.sum() == len(rows) == 5
    unnamed = served_rows(records[:1])  # no plan names: a matrix cannot be matched to columns
    assert len(unnamed) == 0


def test_per_row_and_row_ids() -> None:
    assert row_ids("x", 2) == ["x:0", "x:1"]
    assert per_row(pd.DataFrame({"p": [1, 2]}), 2).tolist() == [1, 2]  # type: ignore[union-attr]
    assert per_row({"out": np.array([3, 4])}, 2).tolist() == [3, 4]  # type: ignore[union-attr]
    assert per_row({}, 2) is None
    both = per_row(np.array([[0.1, 0.9], [0.8, 0.2]]), 2, all_outputs=True)
    assert both is not None
    assert both.tolist() == [[0.1, 0.9], [0.8, 0.2]]
