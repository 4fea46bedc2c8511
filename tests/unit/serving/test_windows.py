"""Per-window traffic summaries: fixed size, exact counts, mergeable across replicas."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.registry.service import Registry
from conveyor.rollout import analyze_step
from conveyor.serving.deployments import Deployments
from conveyor.serving.recorder import Flush, Served, TrafficRecorder, WindowSink
from conveyor.serving.routes import ResolvedRoute, RouteTable
from conveyor.serving.windows import (
    LATENCY_BOUNDS_S,
    MAX_CLASSES,
    OTHER,
    SAMPLE_SIZE,
    SHADOW,
    TrafficWindow,
    read_traffic,
    rollout_windows,
    write_windows,
)
from conveyor.tracking import Workspace

RNG = np.random.default_rng(0)


def test_counts_latency_and_classes_are_exact() -> None:
    w = TrafficWindow(3, "primary")
    for seconds, ok in [(0.0004, True), (0.003, True), (0.2, False), (30.0, True)]:
        w.observe(ok, seconds, rows=2)
    w.observe_predictions(np.array(["a", "b", "a"]), RNG)
    assert (w.requests, w.errors, w.rows) == (4, 1, 8)
    assert sum(w.latency_counts) == 4
    assert w.latency_counts[0] == 1  # <= 0.5 ms
    assert w.latency_counts[-1] == 1  # above every finite bound
    assert w.classes == {"a": 2, "b": 1}
    assert w.latency is not None
    assert w.latency.upper_bounds_s[-1] == math.inf


def test_vectorised_latencies_match_one_by_one() -> None:
    seconds = RNG.exponential(0.01, 500)
    one, many = TrafficWindow(1, "p"), TrafficWindow(1, "p")
    for s in seconds:
        one.observe(True, float(s))
    many.observe_latencies(seconds)
    assert one.latency_counts == many.latency_counts


def test_size_is_bounded_whatever_the_traffic() -> None:
    w = TrafficWindow(1, "primary")
    for _ in range(20):
        w.observe_predictions(RNG.normal(size=10_000), RNG)
    assert len(w.sample) == SAMPLE_SIZE
    assert w.seen == 200_000
    c = TrafficWindow(1, "primary")
    c.observe_predictions(np.arange(1_000).astype(str), RNG)
    assert len(c.classes) == MAX_CLASSES + 1
    assert c.classes[OTHER] == 1_000 - MAX_CLASSES
    assert len(w.to_json()) < 20_000


def test_a_matrix_of_outputs_is_summarised_by_its_first_column() -> None:
    w = TrafficWindow(1, "primary")
    w.observe_predictions(np.array([[0.1, 0.9], [0.7, 0.3]]), RNG)
    assert sorted(w.sample) == [0.1, 0.7]
    w.observe_predictions(np.array([np.nan, np.inf]), RNG)
    assert w.seen == 2  # non-finite values are not predictions to compare


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 20), st.integers(0, 5)), max_size=30),
    st.lists(st.tuples(st.booleans(), st.floats(0, 20), st.integers(0, 5)), max_size=30),
)
def test_merge_equals_observing_everything_in_one(
    a: list[tuple[bool, float, int]], b: list[tuple[bool, float, int]]
) -> None:
    left, right, whole = (TrafficWindow(1, "r") for _ in range(3))
    for window, part in ((left, a), (right, b), (whole, a + b)):
        for ok, seconds, rows in part:
            window.observe(ok, seconds, rows)
    merged = left.merge(right, RNG)
    assert (merged.requests, merged.errors, merged.rows) == (
        whole.requests,
        whole.errors,
        whole.rows,
    )
    assert merged.latency_counts == whole.latency_counts
    back = TrafficWindow.from_row(1, "r", merged.requests, merged.errors, merged.to_json())
    assert back == merged


def test_merged_reservoir_stays_uniform() -> None:
    """Two replicas that saw 9,000 and 1,000 values: the merge weighs them 9:1."""
    big, small = TrafficWindow(1, "r"), TrafficWindow(1, "r")
    big.observe_predictions(np.zeros(9_000), RNG)
    small.observe_predictions(np.ones(1_000), RNG)
    merged = big.merge(small, np.random.default_rng(1))
    assert merged.seen == 10_000
    assert len(merged.sample) == SAMPLE_SIZE
    assert 0.05 < float(np.mean(merged.sample)) < 0.15


def test_rollout_windows_share_bins_and_feed_the_analysis() -> None:
    primary, candidate = TrafficWindow(1, "primary"), TrafficWindow(2, "canary")
    for w, shift in ((primary, 0.0), (candidate, 0.0)):
        for _ in range(200):
            w.observe(True, 0.004, 1)
        w.observe_predictions(np.random.default_rng(7).normal(shift, 1, 5_000), RNG)
    cand, prim = rollout_windows(candidate, primary)
    assert len(cand.prediction_counts) == len(prim.prediction_counts) == 10
    assert analyze_step(cand, prim).verdict == "pass"
    shifted = TrafficWindow(2, "canary")
    for _ in range(200):
        shifted.observe(True, 0.004, 1)
    shifted.observe_predictions(np.random.default_rng(8).normal(3, 1, 5_000), RNG)
    analysis = analyze_step(*rollout_windows(shifted, primary))
    assert analysis.verdict == "fail"
    assert "prediction PSI" in analysis.reason


def test_rollout_windows_count_classes_over_the_union() -> None:
    a, b = TrafficWindow(1, "p"), TrafficWindow(2, "c")
    a.observe_predictions(np.array(["x", "y"]), RNG)
    b.observe_predictions(np.array(["y", "z", "z"]), RNG)
    cand, prim = rollout_windows(b, a)
    assert list(cand.prediction_counts) == [0, 1, 2]
    assert list(prim.prediction_counts) == [1, 1, 0]


@pytest.fixture
def deployment_id(workspace: Workspace) -> int:
    reg = Registry(workspace.engine)
    for _ in range(2):
        reg.create_version("m", "/models/m", create_model=True)
    Deployments(workspace.engine).create("d", "models:/m/1")
    from sqlalchemy import select

    from conveyor.store import read, schema

    with read(workspace.engine) as conn:
        return int(conn.execute(select(schema.deployments.c.deployment_id)).scalar_one())


def test_store_round_trip_merges_replicas_and_repeat_flushes(
    workspace: Workspace, deployment_id: int
) -> None:
    engine = workspace.engine

    def window(version: int, route: str, n: int) -> TrafficWindow:
        w = TrafficWindow(version, route)
        for _ in range(n):
            w.observe(True, 0.002, 1)
        return w

    write_windows(engine, deployment_id, "r1", 0, 10_000, [window(1, "primary", 5)])
    write_windows(engine, deployment_id, "r1", 0, 10_000, [window(1, "primary", 2)])  # again
    write_windows(engine, deployment_id, "r2", 0, 10_000, [window(1, "primary", 3)])
    write_windows(engine, deployment_id, "r2", 10_000, 20_000, [window(2, "canary", 4)])
    write_windows(engine, deployment_id, "r2", 10_000, 20_000, [window(2, SHADOW, 6)])
    traffic = read_traffic(engine, deployment_id, 0)
    assert traffic[(1, "primary")].requests == 10
    assert traffic[(2, "canary")].requests == 4
    assert traffic[(2, SHADOW)].requests == 6
    assert read_traffic(engine, deployment_id, 10_000)[(2, "canary")].requests == 4
    assert (1, "primary") not in read_traffic(engine, deployment_id, 10_000)
    merged = read_traffic(engine, deployment_id, 0, by_route=False)
    assert merged[(2, "*")].requests == 4
    assert merged[(2, SHADOW)].requests == 6
    assert read_traffic(engine, deployment_id, 0, 10_000)[(1, "primary")].requests == 10
    Deployments(engine).delete("d")  # the deployment's windows go with it
    assert read_traffic(engine, deployment_id, 0) == {}


def _table(deployment: str = "d", revision: int = 1) -> RouteTable:
    return RouteTable(deployment, "m", revision, (ResolvedRoute("primary", 1, 100.0, "1"),))


def test_window_sink_groups_and_counts_shadow_agreement(
    workspace: Workspace, deployment_id: int
) -> None:
    table = _table()
    at = 1_000_000.0
    records = [
        Served(table, 1, "primary", f"r{i}", i != 0, 0.003, 1, at, None, np.array([i % 2]))
        for i in range(10)
    ]
    records += [
        Served(table, 2, SHADOW, f"r{i}", True, 0.01, 1, at, None, np.array([0]), np.array([i % 2]))
        for i in range(10)
    ]
    records.append(Served(_table("bare", revision=0), 1, "primary", "x", True, 0.1, 1, at))
    WindowSink(workspace.engine).flush(Flush(1_000_000_000, 1_000_010_000, "r1", records))
    traffic = read_traffic(workspace.engine, deployment_id, 0)
    primary, shadow = traffic[(1, "primary")], traffic[(2, SHADOW)]
    assert (primary.requests, primary.errors) == (10, 1)
    assert primary.classes == {"0": 5, "1": 5}
    assert (shadow.pairs, shadow.agree) == (10, 5)
    assert len(traffic) == 2  # a model served without a deployment row is not written


def test_recorder_flushes_by_window_and_survives_a_failing_sink() -> None:
    seen: list[Flush] = []

    class Broken:
        def flush(self, batch: Flush) -> None:
            raise RuntimeError("boom")

    class Keep:
        def flush(self, batch: Flush) -> None:
            seen.append(batch)

    recorder = TrafficRecorder("rep", [Broken(), Keep()], window_s=10)
    table = _table()
    for at in (100.0, 105.0, 112.0):
        recorder.record(Served(table, 1, "primary", "id", True, 0.001, 1, at))
    asyncio.run(recorder.flush())
    assert [(f.start_ms, len(f.records)) for f in seen] == [(100_000, 2), (110_000, 1)]
    assert all(f.end_ms - f.start_ms == 10_000 and f.replica_id == "rep" for f in seen)
    asyncio.run(recorder.flush())  # nothing pending: no empty flushes
    assert len(seen) == 2
    assert len(LATENCY_BOUNDS_S) == 15
