"""The fluent API (``conveyor.start_run`` / ``log_metric`` / ...) over a local ``.conveyor``."""

from __future__ import annotations

import math
import platform
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conveyor
from conveyor.errors import ConflictError, InvalidArgumentError, LimitExceededError, NotFoundError
from conveyor.settings import get_settings
from conveyor.tracking import Client, RunStatus, environment, fluent
from conveyor.tracking.client import open_client
from conveyor.tracking.runs import PARENT_RUN_TAG
from conveyor.tracking.service import LocalClient

SYSTEM_KEYS = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/process_memory_rss_megabytes",
}


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Set ``CONVEYOR_<NAME>`` variables and make the settings re-read them."""
    for name, value in values.items():
        monkeypatch.setenv(f"CONVEYOR_{name.upper()}", value)
    get_settings.cache_clear()


@pytest.fixture
def no_capture(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``home`` without system metrics and environment capture."""
    set_env(monkeypatch, capture_system="false")
    return home


@pytest.fixture
def fresh_git_state() -> Iterator[None]:
    """Forget the cached git state of the working directory, before and after the test."""
    environment.git_state.cache_clear()
    yield
    environment.git_state.cache_clear()


def history(client: Client, run_id: str, key: str) -> list[tuple[int, float, int]]:
    return [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key)]


def test_with_block_logs_everything_and_finishes_the_run(no_capture: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.txt"
    model.write_text("weights")
    logged = [(step, 1.0 / (step + 1), 1_700_000_000_000 + step) for step in range(1000)]
    before = int(time.time() * 1000)
    with conveyor.start_run(experiment="churn", run_name="baseline") as run:
        assert conveyor.active_run() is run
        conveyor.log_params({"C": 1.0, "penalty": "l2"})
        conveyor.log_param("solver", "lbfgs")
        conveyor.set_tag("team", "risk")
        for step, value, ts in logged:
            conveyor.log_metric("loss", value, step=step, timestamp=ts)
        conveyor.log_metrics({"acc": 0.9, "f1": 0.8}, step=7)
        conveyor.log_artifact(model, "model")
    assert conveyor.active_run() is None

    client = conveyor.get_client()
    stored = client.get_run(run.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.info.end_time is not None
    assert before <= stored.info.start_time <= stored.info.end_time <= int(time.time() * 1000)
    assert stored.info.run_name == "baseline"
    assert client.get_experiment(stored.info.experiment_id).name == "churn"
    assert stored.params == {"C": "1.0", "penalty": "l2", "solver": "lbfgs"}
    assert stored.tags["team"] == "risk"
    assert history(client, run.run_id, "loss") == logged
    assert [(m.step, m.value) for m in client.get_metric_history(run.run_id, "acc")] == [(7, 0.9)]
    assert set(stored.metrics) == {"loss", "acc", "f1"}
    assert stored.metrics["loss"].step == 999
    assert [f.path for f in client.list_artifacts(run.run_id, "model")] == ["model/model.txt"]
    out = client.download_artifact(run.run_id, "model/model.txt", tmp_path / "out")
    assert out.read_text() == "weights"


def test_exception_inside_the_with_block_fails_the_run(no_capture: Path) -> None:
    started: list[conveyor.ActiveRun] = []

    def train() -> None:
        with conveyor.start_run() as active:
            started.append(active)
            conveyor.log_metric("loss", math.inf, step=0)
            msg = "loss diverged"
            raise ValueError(msg)

    with pytest.raises(ValueError, match="diverged"):
        train()
    [run] = started
    assert conveyor.active_run() is None
    client = conveyor.get_client()
    info = client.get_run(run.run_id).info
    assert info.status == RunStatus.FAILED
    assert info.end_time is not None
    assert history(client, run.run_id, "loss")[0][:2] == (0, math.inf)  # points kept on failure


def test_keyboard_interrupt_kills_the_run(no_capture: Path) -> None:
    with pytest.raises(KeyboardInterrupt), conveyor.start_run() as run:
        raise KeyboardInterrupt
    assert conveyor.get_client().get_run(run.run_id).info.status == RunStatus.KILLED


def test_end_run_with_a_status(no_capture: Path) -> None:
    run = conveyor.start_run()
    conveyor.log_metric("loss", 0.5)
    conveyor.end_run("KILLED")
    assert conveyor.active_run() is None
    conveyor.end_run()  # nothing active: a no-op
    client = conveyor.get_client()
    assert client.get_run(run.run_id).info.status == RunStatus.KILLED
    assert len(client.get_metric_history(run.run_id, "loss")) == 1


def test_nested_runs(no_capture: Path) -> None:
    with conveyor.start_run(experiment="nest", run_name="parent") as parent:
        with pytest.raises(ConflictError, match=r"already active.*nested=True"):
            conveyor.start_run(experiment="nest")
        with conveyor.start_run(run_name="child", nested=True) as child:
            assert conveyor.active_run() is child
            conveyor.log_metric("loss", 0.1)
            with conveyor.start_run(run_name="grandchild", nested=True) as grandchild:
                assert conveyor.active_run() is grandchild
            assert conveyor.active_run() is child
        assert conveyor.active_run() is parent
        conveyor.log_metric("loss", 0.2)
    assert conveyor.active_run() is None

    client = conveyor.get_client()
    assert PARENT_RUN_TAG not in client.get_run(parent.run_id).tags
    assert client.get_run(child.run_id).tags[PARENT_RUN_TAG] == parent.run_id
    assert client.get_run(grandchild.run_id).tags[PARENT_RUN_TAG] == child.run_id
    assert [m.value for m in client.get_metric_history(child.run_id, "loss")] == [0.1]
    assert [m.value for m in client.get_metric_history(parent.run_id, "loss")] == [0.2]
    exp = client.get_experiment_by_name("nest")
    assert exp is not None
    page = client.search_runs([exp.experiment_id])
    assert {r.run_id for r in page.runs} == {parent.run_id}  # the refused start created nothing
    for run in (parent, child, grandchild):
        assert client.get_run(run.run_id).info.status == RunStatus.FINISHED


@pytest.mark.parametrize(
    "call",
    [
        lambda: conveyor.log_metric("loss", 1.0),
        lambda: conveyor.log_metrics({"loss": 1.0}),
        lambda: conveyor.log_param("C", 1),
        lambda: conveyor.log_params({"C": 1}),
        lambda: conveyor.set_tag("k", "v"),
        lambda: conveyor.set_tags({"k": "v"}),
    ],
    ids=["log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags"],
)
def test_logging_without_an_active_run_is_refused(no_capture: Path, call: Any) -> None:
    with pytest.raises(ConflictError, match=r"no active run; call conveyor\.start_run\(\)"):
        call()
    with conveyor.start_run():
        pass
    with pytest.raises(ConflictError, match="no active run"):  # nor after the run ended
        call()


def test_log_artifact_without_an_active_run_or_file(no_capture: Path, tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with pytest.raises(ConflictError, match="no active run"):
        conveyor.log_artifact(file)
    with conveyor.start_run():
        with pytest.raises(InvalidArgumentError, match="log_artifact needs a file"):
            conveyor.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(InvalidArgumentError, match="log_artifacts needs a directory"):
            conveyor.log_artifacts(file)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": ""}, InvalidArgumentError, "key must be a non-empty string"),
        ({"key": "a/../b"}, InvalidArgumentError, "invalid key 'a/../b'"),
        ({"key": "/abs"}, InvalidArgumentError, "must not start with '/'"),
        ({"key": "bad!key"}, InvalidArgumentError, "invalid key 'bad!key'"),
        ({"key": "k" * 251}, LimitExceededError, "the limit is 250"),
        ({"value": "abc"}, InvalidArgumentError, "metric 'loss' must be a number, got 'abc'"),
        ({"value": None}, InvalidArgumentError, "must be a number, got None"),
        ({"value": True}, InvalidArgumentError, "must be a number, got True"),
        ({"value": b"1"}, InvalidArgumentError, "must be a number"),
        ({"step": "x"}, InvalidArgumentError, "step must be an integer, got 'x'"),
        ({"step": 1.5}, InvalidArgumentError, "step must be an integer, got 1.5"),
        ({"step": 2**63}, InvalidArgumentError, "step .* does not fit in 64 bits"),
        ({"timestamp": "now"}, InvalidArgumentError, "timestamp must be an integer"),
        ({"timestamp": 1.7e12 + 0.5}, InvalidArgumentError, "timestamp must be an integer"),
        ({"timestamp": -(2**64)}, InvalidArgumentError, "timestamp .* does not fit in 64 bits"),
    ],
)
def test_log_metric_rejects_bad_points_at_once(
    no_capture: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    point: dict[str, Any] = {"key": "loss", "value": 0.5, "step": 3, **kwargs}
    with conveyor.start_run() as run:
        conveyor.log_metric("loss", 0.25, step=1, timestamp=1_000)
        with pytest.raises(error, match=match):
            conveyor.log_metric(**point)
        conveyor.log_metric("loss", 0.125, step=2, timestamp=2_000)
    client = conveyor.get_client()
    # The bad point is not stored, and the good points around it are not lost with it.
    assert history(client, run.run_id, "loss") == [(1, 0.25, 1_000), (2, 0.125, 2_000)]
    assert set(client.get_run(run.run_id).metrics) == {"loss"}
    assert client.get_run(run.run_id).info.status == RunStatus.FINISHED


def test_log_metric_converts_numbers(no_capture: Path) -> None:
    with conveyor.start_run() as run:
        conveyor.log_metric("ints", 3, step=0)
        conveyor.log_metric("ints", 4, step="1", timestamp=5.0)  # type: ignore[arg-type]
        conveyor.log_metric("nan", math.nan)
    points = conveyor.get_client().get_metric_history(run.run_id, "ints")
    assert [(m.step, m.value) for m in points] == [(0, 3.0), (1, 4.0)]
    assert points[1].timestamp == 5
    [nan] = conveyor.get_client().get_metric_history(run.run_id, "nan")
    assert math.isnan(nan.value)


def test_flush_makes_points_durable_mid_run(
    no_capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, flush_interval_s="3600")  # only flush() can ship these
    client = conveyor.get_client()
    with conveyor.start_run() as run:
        for step in range(500):
            conveyor.log_metric("loss", float(step), step=step)
        assert client.get_metric_history(run.run_id, "loss") == []
        conveyor.flush()
        # Durable: another client over the same workspace reads them while the run is live.
        other = open_client()
        try:
            points = other.get_metric_history(run.run_id, "loss")
        finally:
            other.close()
        assert [(m.step, m.value) for m in points] == [(s, float(s)) for s in range(500)]
        assert other.__class__.__name__ == "LocalClient"
        assert client.get_run(run.run_id).info.status == RunStatus.RUNNING
        conveyor.log_metric("loss", 500.0, step=500)
    assert len(client.get_metric_history(run.run_id, "loss")) == 501


def test_flush_without_an_active_run_is_a_no_op(no_capture: Path) -> None:
    conveyor.flush()


def test_set_experiment(no_capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fluent, "_experiment_name", None)
    client = conveyor.get_client()
    with conveyor.start_run() as default_run:
        pass
    assert default_run.info.experiment_id == "0"

    conveyor.set_experiment("fraud")
    with conveyor.start_run() as run:
        pass
    fraud = client.get_experiment_by_name("fraud")
    assert fraud is not None
    assert run.info.experiment_id == fraud.experiment_id
    with conveyor.start_run() as again:  # the same experiment, not a second one
        pass
    assert again.info.experiment_id == fraud.experiment_id
    with conveyor.start_run(experiment="other") as explicit:
        pass
    assert explicit.info.experiment_id != fraud.experiment_id
    with conveyor.start_run(experiment_id="0") as by_id:
        pass
    assert by_id.info.experiment_id == "0"
    with pytest.raises(InvalidArgumentError, match="experiment must be a non-empty string"):
        conveyor.set_experiment("  ")


def test_resume_a_run(no_capture: Path) -> None:
    with conveyor.start_run(run_name="long") as first:
        conveyor.log_param("C", 1)
        conveyor.log_metric("loss", 1.0, step=0)
    client = conveyor.get_client()
    assert client.get_run(first.run_id).info.status == RunStatus.FINISHED

    with conveyor.start_run(run_id=first.run_id) as resumed:
        assert resumed.run_id == first.run_id
        assert client.get_run(first.run_id).info.status == RunStatus.RUNNING
        conveyor.log_metric("loss", 0.5, step=1)
        conveyor.log_param("C", 1)  # the same value again is fine
    run = client.get_run(first.run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.run_name == "long"
    assert [(m.step, m.value) for m in client.get_metric_history(run.run_id, "loss")] == [
        (0, 1.0),
        (1, 0.5),
    ]
    exp_runs = client.search_runs([run.info.experiment_id]).runs
    assert [r.run_id for r in exp_runs] == [first.run_id]  # no new run was created

    with pytest.raises(NotFoundError, match="no run with id"):
        conveyor.start_run(run_id="f" * 32)
    assert conveyor.active_run() is None


def test_capture_off_records_no_system_metrics_or_environment(no_capture: Path) -> None:
    with conveyor.start_run() as run:
        conveyor.log_metric("loss", 0.5)
    client = conveyor.get_client()
    stored = client.get_run(run.run_id)
    assert set(stored.metrics) == {"loss"}
    assert not [k for k in stored.tags if k.startswith(("conveyor.", "mlflow.source"))]
    assert client.list_artifacts(run.run_id) == []


def test_capture_on_records_environment_and_system_metrics(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_git_state: None
) -> None:
    monkeypatch.chdir(tmp_path)  # not a git repository
    assert get_settings().capture_system  # the default
    with conveyor.start_run() as run:
        conveyor.log_metric("loss", 0.5)
    client = conveyor.get_client()
    stored = client.get_run(run.run_id)
    assert stored.tags["conveyor.python.version"] == platform.python_version()
    assert stored.tags["mlflow.source.type"] == "LOCAL"
    assert stored.tags["conveyor.platform"]
    assert "mlflow.source.git.commit" not in stored.tags

    assert [f.path for f in client.list_artifacts(run.run_id, "environment")] == [
        "environment/packages.txt"
    ]
    packages = client.download_artifact(run.run_id, "environment/packages.txt", tmp_path)
    lines = packages.read_text().splitlines()
    assert any(line.startswith("conveyor-mlops==") for line in lines)
    assert any(line.startswith("pytest==") for line in lines)

    # The system monitor samples every 10 s; the final sample is taken when the run ends.
    assert set(stored.metrics) >= SYSTEM_KEYS
    assert {k for k in stored.metrics if k != "loss"} == {
        k for k in stored.metrics if k.startswith("system/")
    }
    for key in SYSTEM_KEYS:
        [point] = client.get_metric_history(run.run_id, key)
        assert point.value >= 0


def test_system_metrics_are_sampled_during_the_run(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, system_metrics_interval_s="0.02")
    client = conveyor.get_client()
    key = "system/process_memory_rss_megabytes"
    with conveyor.start_run() as run:
        deadline = time.monotonic() + 20
        while True:
            conveyor.flush()
            if len(client.get_metric_history(run.run_id, key)) >= 2:
                break
            assert time.monotonic() < deadline, "no system metric samples within 20 s"
            time.sleep(0.02)
    steps = [m.step for m in client.get_metric_history(run.run_id, key)]
    assert steps == list(range(len(steps)))  # one step per sample, the final one included
    assert len(steps) >= 3


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.strip()


def test_capture_records_the_git_commit(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_git_state: None
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "initial")
    commit = _git(repo, "rev-parse", "HEAD")
    monkeypatch.chdir(repo)

    with conveyor.start_run() as run:
        pass
    tags = conveyor.get_client().get_run(run.run_id).tags
    assert tags["mlflow.source.git.commit"] == commit
    assert len(commit) == 40
    assert tags["conveyor.git.dirty"] == "false"

    (repo / "train.py").write_text("print('changed')\n")
    environment.git_state.cache_clear()
    with conveyor.start_run() as dirty_run:
        pass
    tags = conveyor.get_client().get_run(dirty_run.run_id).tags
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["conveyor.git.dirty"] == "true"


def test_log_metric_does_not_touch_the_database(
    no_capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, flush_interval_s="3600")  # ships on end_run, or at 20,000 points
    client = conveyor.get_client()
    assert isinstance(client, LocalClient)
    calls: list[tuple[str, int]] = []
    runs = client.workspace.runs
    real_log_batch = runs.log_batch

    def counting_log_batch(run_id: str, **kwargs: Any) -> bool:
        calls.append((threading.current_thread().name, len(kwargs.get("metrics", ()))))
        return real_log_batch(run_id, **kwargs)

    monkeypatch.setattr(runs, "log_batch", counting_log_batch)
    with conveyor.start_run() as run:
        for step in range(10_000):
            conveyor.log_metric("loss", 0.5, step=step)
        assert calls == []  # 10,000 calls, no database work yet
    # One write, sent by end_run, that also ends the run.
    assert calls == [("MainThread", 10_000)]
    assert client.get_run(run.run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(run.run_id, "loss")) == 10_000


def test_background_flush_ships_in_a_handful_of_batches(
    no_capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, flush_max_points="1000")
    client = conveyor.get_client()
    assert isinstance(client, LocalClient)
    calls: list[tuple[str, int]] = []
    runs = client.workspace.runs
    real_log_batch = runs.log_batch

    def counting_log_batch(run_id: str, **kwargs: Any) -> bool:
        calls.append((threading.current_thread().name, len(kwargs.get("metrics", ()))))
        return real_log_batch(run_id, **kwargs)

    monkeypatch.setattr(runs, "log_batch", counting_log_batch)
    with conveyor.start_run() as run:
        for step in range(10_000):
            conveyor.log_metric("loss", 0.5, step=step)
        logging_calls = list(calls)
    assert all(name == "conveyor-flusher" for name, _ in logging_calls)
    assert sum(n for _, n in calls) == 10_000
    assert len(calls) <= 50  # batches, not one call per point
    assert len(client.get_metric_history(run.run_id, "loss")) == 10_000
