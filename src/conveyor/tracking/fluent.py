"""The fluent API: ``start_run``, ``log_metric`` and friends over one active-run stack.

``log_metric`` only validates and appends to the run's buffer (microseconds); the buffer ships
batches in the background and ``end_run`` / ``flush`` / process exit make every point durable.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.exc import OperationalError

from conveyor.errors import (
    BackendUnavailableError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from conveyor.settings import get_settings
from conveyor.tracking import limits
from conveyor.tracking.buffer import MetricBuffer
from conveyor.tracking.client import Client, open_client
from conveyor.tracking.entities import Run, RunStatus
from conveyor.tracking.environment import environment_tags, packages_text
from conveyor.tracking.metric_writes import Point
from conveyor.tracking.runs import PARENT_RUN_TAG
from conveyor.tracking.spool import Spool
from conveyor.tracking.system_metrics import SystemMonitor

END_RUN_FLUSH_TIMEOUT_S = 60.0
PACKAGES_ARTIFACT = "environment/packages.txt"

_lock = threading.RLock()
_stack: list[ActiveRun] = []
_client: Client | None = None
_experiment_name: str | None = None
_valid_keys: set[str] = set()
_experiment_ids: dict[str, str] = {}


def get_client() -> Client:
    """Return the process-wide client (local workspace, or ``CONVEYOR_SERVER``)."""
    global _client  # noqa: PLW0603 - one client per process, like a connection pool
    with _lock:
        if _client is None:
            _client = open_client()
        return _client


def _reset_client() -> None:
    """Forget the process-wide client (after settings changed, in tests)."""
    global _client  # noqa: PLW0603
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
        _experiment_ids.clear()


def _experiment_id(client: Client, name: str) -> str:
    # A loop starting thousands of runs should not look the experiment up each time.
    found = _experiment_ids.get(name)
    if found is None:
        found = _experiment_ids[name] = client.get_or_create_experiment(name).experiment_id
    return found


def set_experiment(name: str) -> None:
    """Make ``name`` the experiment that later ``start_run`` calls use (created if missing)."""
    global _experiment_name  # noqa: PLW0603
    _experiment_name = limits.check_name(name, field="experiment", limit=500)


@contextlib.contextmanager
def _database_unavailable() -> Iterator[None]:
    """Turn a database error (e.g. locked past the busy timeout) into a retryable one."""
    try:
        yield
    except OperationalError as exc:
        msg = f"the metadata database is unavailable: {exc.orig}"
        raise BackendUnavailableError(msg) from exc


def _sender(client: Client) -> Any:
    def send(run_id: str, points: list[Point], batch_id: str) -> None:
        with _database_unavailable():
            client.log_batch(run_id, metrics=points, batch_id=batch_id)

    return send


def _finisher(client: Client, status: RunStatus) -> Any:
    def send(run_id: str, points: list[Point], batch_id: str) -> None:
        with _database_unavailable():
            client.finish_run(
                run_id,
                status=status,
                end_time=int(time.time() * 1000),
                metrics=points,
                batch_id=batch_id if points else None,
            )

    return send


class ActiveRun:
    """A run being logged to; a context manager that ends the run on exit."""

    def __init__(self, client: Client, run: Run) -> None:
        settings = get_settings()
        self.client = client
        self.info = run.info
        self.run_id = run.info.run_id
        self._buffer = MetricBuffer(
            self.run_id,
            _sender(client),
            Spool(settings.home / "spool"),
            interval_s=settings.flush_interval_s,
            max_points=settings.flush_max_points,
        )
        self._monitor = (
            SystemMonitor(self._buffer.extend, interval_s=settings.system_metrics_interval_s)
            if settings.capture_system
            else None
        )

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        if exc_type is KeyboardInterrupt:
            status = RunStatus.KILLED
        end_run(status, run=self)

    def log_point(self, point: Point) -> None:
        """Buffer one metric point (validated by the caller)."""
        self._buffer.add(point)

    def flush(self, *, timeout_s: float = 0.0) -> None:
        """Make every buffered point durable."""
        self._buffer.flush(timeout_s=timeout_s)

    def finish(self, status: RunStatus) -> None:
        """Stop sampling, flush every point, and record the end status."""
        if self._monitor is not None:
            self._monitor.stop()
        # The last points and the end status land in one write.
        self._buffer.close(timeout_s=END_RUN_FLUSH_TIMEOUT_S, last=_finisher(self.client, status))


def start_run(
    run_id: str | None = None,
    *,
    experiment: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    """Start (or resume, with ``run_id``) a run and make it the active one.

    Args:
        run_id: resume this run instead of creating one.
        experiment: experiment name, created when missing (default: ``set_experiment``'s, or
            "Default").
        experiment_id: experiment id, instead of a name.
        run_name: a readable name (generated when omitted).
        nested: start a child of the active run (tagged ``mlflow.parentRunId``).
        tags: tags to set at creation.
    """
    client = get_client()
    with _lock:
        if _stack and not nested:
            msg = (
                f"run {_stack[-1].run_id} is already active; end it with conveyor.end_run(), "
                "or pass nested=True to start a child run"
            )
            raise ConflictError(msg, field="nested")
        all_tags = dict(tags or {})
        if _stack:
            all_tags[PARENT_RUN_TAG] = _stack[-1].run_id
        settings = get_settings()
        if run_id is not None:
            run = client.get_run(run_id)
            client.update_run(run_id, status=RunStatus.RUNNING)
        else:
            if settings.capture_system:
                all_tags = {**environment_tags(), **all_tags}
            name = experiment or _experiment_name or "Default"
            texts = {PACKAGES_ARTIFACT: packages_text()} if settings.capture_system else {}
            try:
                run = client.create_run_with_texts(
                    experiment_id or _experiment_id(client, name),
                    run_name=run_name,
                    tags=all_tags,
                    texts=texts,
                )
            except NotFoundError:  # the cached experiment was removed: look it up again
                _experiment_ids.pop(name, None)
                run = client.create_run_with_texts(
                    experiment_id or _experiment_id(client, name),
                    run_name=run_name,
                    tags=all_tags,
                    texts=texts,
                )
        active = ActiveRun(client, run)
        _stack.append(active)
        return active


def active_run() -> ActiveRun | None:
    """Return the innermost active run, or None."""
    return _stack[-1] if _stack else None


def _require_active() -> ActiveRun:
    if not _stack:
        msg = "no active run; call conveyor.start_run() first (or use `with conveyor.start_run():`)"
        raise ConflictError(msg, field="run")
    return _stack[-1]


def end_run(status: RunStatus | str = RunStatus.FINISHED, *, run: ActiveRun | None = None) -> None:
    """End the active run (or ``run``): flush every point durably, then record the status."""
    with _lock:
        target = run or (_stack[-1] if _stack else None)
        if target is None:
            return
        if target in _stack:
            _stack.remove(target)
    target.finish(RunStatus(status))


def flush() -> None:
    """Make every point logged so far durable, for every active run."""
    for run in _stack:
        run.flush(timeout_s=END_RUN_FLUSH_TIMEOUT_S)


def log_metric(key: str, value: float, step: int = 0, *, timestamp: int | None = None) -> None:
    """Log one metric point to the active run (buffered; returns in microseconds)."""
    run = _require_active()
    if key not in _valid_keys:
        _valid_keys.add(limits.check_key(key, field="key"))
    if type(value) is not float:
        value = limits.check_metric_value(value, key=key)
    # A point the server would refuse must fail here: in a batch it would take others with it.
    if type(step) is not int or not -(2**63) <= step < 2**63:
        step = limits.check_int(step, field="step")
    if timestamp is None:
        timestamp = time.time_ns() // 1_000_000
    elif type(timestamp) is not int or not -(2**63) <= timestamp < 2**63:
        timestamp = limits.check_int(timestamp, field="timestamp")
    run.log_point((key, value, timestamp, step))


def log_metrics(
    metrics: Mapping[str, float], step: int = 0, *, timestamp: int | None = None
) -> None:
    """Log several metrics at the same step."""
    ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    for key, value in metrics.items():
        log_metric(key, value, step, timestamp=ts)


def log_param(key: str, value: object) -> None:
    """Log one param (immutable once set)."""
    run = _require_active()
    run.client.log_batch(run.run_id, params={key: value})


def log_params(params: Mapping[str, object]) -> None:
    """Log several params in one call."""
    run = _require_active()
    run.client.log_batch(run.run_id, params=params)


def set_tag(key: str, value: object) -> None:
    """Set one tag on the active run."""
    run = _require_active()
    run.client.log_batch(run.run_id, tags={key: value})


def set_tags(tags: Mapping[str, object]) -> None:
    """Set several tags on the active run."""
    run = _require_active()
    run.client.log_batch(run.run_id, tags=tags)


def log_artifact(local_path: str | Path, artifact_path: str = "") -> None:
    """Upload a file to the active run's artifacts (under ``artifact_path``)."""
    path = Path(local_path)
    if not path.is_file():
        msg = f"log_artifact needs a file; {str(path)!r} is not one (log_artifacts takes a folder)"
        raise InvalidArgumentError(msg, field="local_path")
    run = _require_active()
    run.client.log_artifact(run.run_id, path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str = "") -> None:
    """Upload a directory's files to the active run's artifacts."""
    path = Path(local_dir)
    if not path.is_dir():
        msg = f"log_artifacts needs a directory; {str(path)!r} is not one"
        raise InvalidArgumentError(msg, field="local_dir")
    run = _require_active()
    for child in sorted(path.iterdir()):
        run.client.log_artifact(run.run_id, child, artifact_path)


@atexit.register
def _end_all_runs() -> None:
    while _stack:
        try:
            end_run()
        except Exception:
            import logging

            logging.getLogger("conveyor.tracking").exception("ending a run at exit failed")
