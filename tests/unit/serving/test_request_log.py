"""The sampled request log: deterministic sampling, one Parquet file per window, read back."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from conveyor.errors import InvalidArgumentError
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.policy import TrafficPolicy
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.request_log import (
    RequestLogSink,
    is_sampled,
    log_path,
    parquet_bytes,
    read_request_log,
)
from conveyor.serving.routes import ResolvedRoute, RouteTable
from conveyor.serving.windows import SHADOW
from conveyor.store import read, schema
from conveyor.tracking import Workspace

START_MS = 1_700_000_000_000
AT = START_MS / 1000 + 1


def _columns(_table: RouteTable, _version: int) -> Sequence[str]:
    return ("a", "b")


def _table(deployment: str = "svc", revision: int = 1) -> RouteTable:
    return RouteTable(deployment, "m", revision, (ResolvedRoute("primary", 1, 100.0, "1"),))


def _served(
    request_id: str,
    inputs: Any,
    predictions: Any,
    *,
    table: RouteTable | None = None,
    route: str = "primary",
    ok: bool = True,
    at: float = AT,
) -> Served:
    rows = 0 if inputs is None else len(inputs)
    return Served(table or _table(), 1, route, request_id, ok, 0.004, rows, at, inputs, predictions)


def _flush(sink: RequestLogSink, records: list[Served], start_ms: int = START_MS) -> None:
    sink.flush(Flush(start_ms, start_ms + 10_000, "rep-1", records))


@pytest.fixture
def deployed(workspace: Workspace) -> Deployments:
    Registry(workspace.engine).create_version("m", "/models/m", create_model=True)
    service = Deployments(workspace.engine)
    service.create("svc", "models:/m/1")
    return service


def _files(workspace: Workspace) -> int:
    a = schema.artifacts
    with read(workspace.engine) as conn:
        return int(
            conn.execute(select(func.count()).where(a.c.path.like("serving-logs/%"))).scalar_one()
        )


def test_sampling_is_deterministic_nested_and_near_the_share() -> None:
    ids = [f"req-{i}" for i in range(20_000)]
    five = {i for i in ids if is_sampled(i, 0.05)}
    assert five == {i for i in ids if is_sampled(i, 0.05)}  # every replica decides alike
    assert 1_000 - 4 * 31 < len(five) < 1_000 + 4 * 31  # binomial sd is about 31
    assert five <= {i for i in ids if is_sampled(i, 0.1)}  # a larger share keeps the smaller
    assert not any(is_sampled(i, 0.0) for i in ids[:100])


def test_the_policy_carries_log_sample_and_refuses_a_share_outside_0_1() -> None:
    policy = TrafficPolicy().with_log_sample(0.25)
    assert TrafficPolicy.from_dict(policy.to_dict()) == policy
    assert TrafficPolicy.from_dict({}).log_sample == 0.0
    with pytest.raises(
        InvalidArgumentError, match=r"policy\.log_sample must be between 0 and 1"
    ) as err:
        TrafficPolicy.from_dict({"log_sample": 1.5})
    assert err.value.field == "policy.log_sample"
    with pytest.raises(InvalidArgumentError, match="log_sample must be between 0 and 1"):
        TrafficPolicy().with_log_sample(-0.1)
    with pytest.raises(InvalidArgumentError, match="got True"):
        TrafficPolicy.from_dict({"log_sample": True})


def test_a_window_is_one_parquet_file_with_meta_inputs_and_predictions(
    workspace: Workspace, deployed: Deployments
) -> None:
    deployed.set_policy("svc", TrafficPolicy().with_log_sample(1.0))
    records = [
        _served("one", np.array([[1.0, 2.0]]), np.array([[0.4, 0.6]])),
        _served("many", np.array([[3.0, 4.0], [5.0, 6.0]]), np.array([[0.1, 0.9], [0.7, 0.3]])),
        _served("bad", None, None),  # refused before the model ran: one row, no inputs
        _served("one", None, np.array([0]), route=SHADOW),  # never answered to a caller
    ]
    sink = RequestLogSink(workspace.engine, workspace.blobs, columns_of=_columns)
    _flush(sink, records)
    path = log_path("svc", START_MS, "rep-1")
    assert path == "serving-logs/svc/2023-11-14/1700000000000-rep-1.parquet"
    logged = read_request_log(workspace, "svc")
    assert list(logged.columns) == [
        "time",
        "request_id",
        "deployment",
        "version",
        "route",
        "ok",
        "latency_ms",
        "a",
        "b",
        "prediction",
    ]
    assert logged["request_id"].tolist() == ["one", "many:0", "many:1", "bad"]
    assert logged["a"].tolist()[:3] == [1.0, 3.0, 5.0]
    assert np.isnan(logged["a"].iloc[3])
    assert [list(p) for p in logged["prediction"].iloc[:3]] == [[0.4, 0.6], [0.1, 0.9], [0.7, 0.3]]
    assert pd.isna(logged["prediction"].iloc[3])
    assert logged["latency_ms"].tolist() == pytest.approx([4.0] * 4)
    assert set(logged["deployment"]) == {"svc"}
    assert logged["time"].iloc[0] == pd.Timestamp(int(AT * 1000), unit="ms", tz="UTC")
    assert _files(workspace) == 1


def test_nothing_is_written_when_the_share_is_zero(
    workspace: Workspace, deployed: Deployments
) -> None:
    sink = RequestLogSink(workspace.engine, workspace.blobs, columns_of=_columns)
    _flush(sink, [_served("x", np.array([[1.0, 2.0]]), np.array([1]))])
    assert _files(workspace) == 0
    assert read_request_log(workspace, "svc").empty


def test_a_policy_change_is_seen_at_the_next_revision(
    workspace: Workspace, deployed: Deployments
) -> None:
    sink = RequestLogSink(workspace.engine, workspace.blobs, columns_of=_columns)
    x = np.array([[1.0, 2.0]])
    _flush(sink, [_served("before", x, np.array([1]))])
    revision = deployed.set_policy("svc", TrafficPolicy().with_log_sample(1.0)).revision
    _flush(sink, [_served("after", x, np.array([1]), table=_table(revision=revision))])
    assert read_request_log(workspace, "svc")["request_id"].tolist() == ["after"]


def test_uri_serving_uses_the_spec_share_and_a_second_flush_appends(
    workspace: Workspace,
) -> None:
    sink = RequestLogSink(workspace.engine, workspace.blobs, uri_share=1.0)
    bare = _table("bare", revision=0)
    x = np.array([[1.0, 2.0, 3.0]])
    _flush(sink, [_served("a", x, np.array(["yes"]), table=bare)])
    _flush(sink, [_served("b", x, np.array(["no"]), table=bare, at=AT + 2)])
    logged = read_request_log(workspace, "bare")
    assert logged["request_id"].tolist() == ["a", "b"]
    assert [c for c in logged.columns if c.startswith("input_")] == [
        "input_0",
        "input_1",
        "input_2",
    ]
    assert _files(workspace) == 1  # the same window and replica: one file


def test_reading_filters_by_time_and_checks_its_arguments(workspace: Workspace) -> None:
    sink = RequestLogSink(workspace.engine, workspace.blobs, uri_share=1.0)
    bare = _table("bare", revision=0)
    x = np.array([[1.0]])
    _flush(sink, [_served("early", x, np.array([1]), table=bare)])
    later = START_MS + 3_600_000
    _flush(sink, [_served("late", x, np.array([1]), table=bare, at=later / 1000)], later)
    assert read_request_log(workspace, "bare", until_ms=later)["request_id"].tolist() == ["early"]
    assert read_request_log(workspace, "bare", since_ms=later)["request_id"].tolist() == ["late"]
    with pytest.raises(InvalidArgumentError, match="since_ms must be epoch milliseconds"):
        read_request_log(workspace, "bare", since_ms="1h")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="name must be"):
        read_request_log(workspace, "a/b")


def test_mixed_object_values_are_written_as_text() -> None:
    frame = pd.DataFrame({"prediction": [1, "a", None]})
    back = pd.read_parquet(io.BytesIO(parquet_bytes(frame)))
    assert back["prediction"].tolist()[:2] == ["1", "a"]
    assert pd.isna(back["prediction"].iloc[2])


def test_an_input_named_like_a_log_column_is_prefixed(workspace: Workspace) -> None:
    sink = RequestLogSink(workspace.engine, workspace.blobs, uri_share=1.0)
    frame = pd.DataFrame({"time": [1.5], "prediction": [2.5]})
    _flush(sink, [_served("f", frame, np.array([0]), table=_table("bare", revision=0))])
    logged = read_request_log(workspace, "bare")
    assert logged[["input.time", "input.prediction", "prediction"]].iloc[0].tolist() == [
        1.5,
        2.5,
        0,
    ]


def _conveyor(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env |= {"CONVEYOR_DB_URL": ws.db_url, "CONVEYOR_BLOB_URL": ws.blob_url}
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_sets_the_share_and_reads_the_log(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    Registry(ws.engine).create_version("m", "/models/m", create_model=True)
    Deployments(ws.engine).create("svc", "models:/m/1")
    result = _conveyor(ws, "deployments", "log-sample", "svc", "0.5")
    assert result.returncode == 0, result.stderr
    assert "request log: 50.00% of requests" in result.stdout
    assert Deployments(ws.engine).route_table("svc").revision == 2
    refused = _conveyor(ws, "deployments", "log-sample", "svc", "1.5")
    assert refused.returncode != 0
    assert "share must be between 0 and 1" in refused.stdout + refused.stderr
    sink = RequestLogSink(ws.engine, ws.blobs, uri_share=1.0, columns_of=_columns)
    now_s = time.time()
    start = int(now_s * 1000) // 10_000 * 10_000
    bare = _table("svc", revision=0)
    _flush(
        sink,
        [_served(f"r{i}", np.array([[1.0, 2.0]]), [i], table=bare, at=now_s) for i in range(3)],
        start,
    )
    out = tmp_path / "log.parquet"
    result = _conveyor(ws, "deployments", "log", "svc", "--since", "1h", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert pd.read_parquet(out)["request_id"].tolist() == ["r0", "r1", "r2"]
    preview = _conveyor(ws, "deployments", "log", "svc")
    assert "last 20 of 3" in preview.stdout
    assert "input columns: a, b" in preview.stdout
