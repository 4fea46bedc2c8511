"""Runs: create, update, log params/metrics/tags in batches, read histories, search."""

from __future__ import annotations

import functools
import getpass
import hashlib
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from conveyor._ids import new_id
from conveyor._time import now_ms
from conveyor.errors import ConflictError, InvalidArgumentError, LimitExceededError, NotFoundError
from conveyor.store import StatisticsKeeper, events, read, schema, write
from conveyor.tracking import limits
from conveyor.tracking.artifacts import clean_path, root_of
from conveyor.tracking.entities import (
    LifecycleStage,
    Metric,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
    check_status,
)
from conveyor.tracking.experiments import parse_experiment_id
from conveyor.tracking.filters import parse_filter, parse_order_by
from conveyor.tracking.metric_writes import Point, RunKey, write_points
from conveyor.tracking.rows import metric_value, run_info, runs_with_data
from conveyor.tracking.search import (
    build_search,
    decode_page_token,
    encode_page_token,
    needs_segments,
)

RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"

_UPSERT_TAG = text(
    "INSERT INTO tags (run_uuid, key, value) VALUES (:run_uuid, :key, :value) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value"
)


# Statements of the per-run hot path, built once: SQLAlchemy then reuses their cache keys and
# compiled forms instead of constructing and keying a new statement on every call (~50 us each,
# a quarter of a short run's cost).
_r, _p = schema.runs, schema.params
_EXPERIMENT_STAGE = select(
    schema.experiments.c.lifecycle_stage, schema.experiments.c.project
).where(schema.experiments.c.experiment_id == bindparam("experiment_id"))
_INSERT_RUN = insert(_r)
_INSERT_TAGS = insert(schema.tags)
_INSERT_ARTIFACTS = insert(schema.artifacts)
_INSERT_PARAMS = insert(_p)
_INSERT_BATCH_ID = insert(schema.ingested_batches)
_RUN_ROW = select(_r).where(_r.c.run_uuid == bindparam("run_id"))
_LOG_TARGET = (
    select(_r.c.run_pk, _r.c.experiment_id, _r.c.lifecycle_stage, schema.experiments.c.project)
    .join(schema.experiments, schema.experiments.c.experiment_id == _r.c.experiment_id)
    .where(_r.c.run_uuid == bindparam("run_id"))
)
_EXISTING_PARAMS = select(_p.c.key, _p.c.value).where(
    _p.c.run_uuid == bindparam("run_id"), _p.c.key.in_(bindparam("keys", expanding=True))
)
_PROJECT_OF_EXPERIMENT = select(schema.experiments.c.project).where(
    schema.experiments.c.experiment_id == bindparam("experiment_id")
)
_PROJECT_OF_RUN = (
    select(schema.experiments.c.project)
    .join(_r, _r.c.experiment_id == schema.experiments.c.experiment_id)
    .where(_r.c.run_uuid == bindparam("run_id"))
)
_END_RUN = (
    update(_r)
    .where(_r.c.run_pk == bindparam("pk"))
    .values(status=bindparam("status"), end_time=bindparam("end_time"))
)


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it has the shape of a run id."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 32 or not run_id.isalnum():
        msg = f"run_id must be the 32-character id of a run, got {run_id!r}"
        raise InvalidArgumentError(msg, field="run_id")
    return run_id


def _as_tuple(m: Any) -> Point:
    if isinstance(m, tuple):
        if len(m) != 4:
            msg = f"a metric point is (key, value, timestamp_ms, step), got {m!r}"
            raise InvalidArgumentError(msg, field="metrics")
        return m
    return (m.key, m.value, m.timestamp, m.step)


_INT64 = (-(2**63), 2**63 - 1)
_KEY, _VALUE, _STAMP, _STEP = (operator.itemgetter(i) for i in range(4))


def _check_points(metrics: Sequence[Any]) -> list[Point]:
    if set(map(type, metrics)) == {tuple} and set(map(len, metrics)) == {4}:
        points: list[Point] = list(metrics)
    else:
        points = [m if type(m) is tuple and len(m) == 4 else _as_tuple(m) for m in metrics]
    if not points:
        return points
    # Every check below runs in C (map, set, min, max over itemgetter), not in a Python loop per
    # point, and allocates no per-point container (which would wake the garbage collector).
    for key in set(map(_KEY, points)):
        limits.check_key(key, field="metrics.key")
    if (
        set(map(type, map(_VALUE, points))) == {float}
        and set(map(type, map(_STAMP, points))) == {int} == set(map(type, map(_STEP, points)))
        and _INT64[0] <= min(map(_STAMP, points))
        and max(map(_STAMP, points)) <= _INT64[1]
        and _INT64[0] <= min(map(_STEP, points))
        and max(map(_STEP, points)) <= _INT64[1]
    ):
        return points
    return [
        (
            k,
            limits.check_metric_value(v, key=k),
            limits.check_int(ts, field="metrics.timestamp"),
            limits.check_int(s, field="metrics.step"),
        )
        for k, v, ts, s in points
    ]


def _check_pairs(pairs: Mapping[str, object], *, kind: str, limit: int) -> dict[str, str]:
    return {
        limits.check_key(k, field=f"{kind}.key"): limits.check_value(
            v, field=f"{kind}[{k!r}]", limit=limit
        )
        for k, v in pairs.items()
    }


class Runs:
    """Run operations over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statistics = StatisticsKeeper(engine)

    def create(
        self,
        experiment_id: object,
        *,
        run_name: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        user_id: str | None = None,
        files: Mapping[str, tuple[str, int]] | None = None,
    ) -> Run:
        """Start a new run in an active experiment (one transaction, no read-back).

        ``files`` links already stored blobs as artifacts (relative path -> (digest, size)) in
        the same transaction: the environment snapshot of every fluent run costs no extra write.
        """
        exp_id = parse_experiment_id(experiment_id)
        all_tags = _check_pairs(dict(tags or {}), kind="tags", limit=limits.MAX_TAG_VALUE_LENGTH)
        run_id = new_id()
        name = run_name or all_tags.get(RUN_NAME_TAG) or f"run-{run_id[:8]}"
        name = limits.check_name(name, field="run_name", limit=limits.MAX_RUN_NAME_LENGTH)
        all_tags[RUN_NAME_TAG] = name
        artifact_uri = f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
        row = {
            "run_uuid": run_id,
            "experiment_id": exp_id,
            "name": name,
            "user_id": user_id or _default_user(),
            "status": RunStatus.RUNNING.value,
            "start_time": now_ms() if start_time is None else start_time,
            "end_time": None,
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
            "artifact_uri": artifact_uri,
        }
        with write(self._engine) as conn:
            found = conn.execute(_EXPERIMENT_STAGE, {"experiment_id": exp_id}).first()
            stage = None if found is None else found.lifecycle_stage
            if found is None:
                msg = f"no experiment with id {experiment_id!r}; see `conveyor experiments list`"
                raise NotFoundError(msg, field="experiment_id")
            if stage != LifecycleStage.ACTIVE.value:
                msg = f"experiment {experiment_id} is deleted; restore it before adding runs"
                raise ConflictError(msg, field="experiment_id")
            conn.execute(_INSERT_RUN, row)
            tag_rows = [{"run_uuid": run_id, "key": k, "value": v} for k, v in all_tags.items()]
            conn.execute(_INSERT_TAGS, tag_rows)
            if files:
                root = root_of(artifact_uri)
                created = now_ms()
                conn.execute(
                    _INSERT_ARTIFACTS,
                    [
                        {
                            "path": f"{root}/{clean_path(path, field='files')}",
                            "digest": digest,
                            "size_bytes": size,
                            "created_time": created,
                        }
                        for path, (digest, size) in files.items()
                    ],
                )
            events.append(
                conn,
                action="run.created",
                subject=f"runs:/{run_id}",
                payload={"project": found.project, "experiment_id": exp_id, "name": name},
            )
        self._statistics.note(1 + len(tag_rows))
        return Run(info=run_info(_Mapped(row)), tags=all_tags)

    def _row(self, conn: Connection, run_id: str, stmt: Any = None) -> Any:
        """Read the run's row (``stmt``: a narrower select by ``run_id``); not found is an error."""
        row = conn.execute(stmt if stmt is not None else _RUN_ROW, {"run_id": run_id}).first()
        if row is None:
            msg = f"no run with id {run_id!r}; see `conveyor runs list`"
            raise NotFoundError(msg, field="run_id")
        return row

    def get(self, run_id: str) -> Run:
        """Return the run with its params, tags and latest metrics."""
        run_id = check_run_id(run_id)
        with read(self._engine) as conn:
            return runs_with_data(conn, [self._row(conn, run_id)])[0]

    def get_info(self, run_id: str) -> RunInfo:
        """Return the run's attributes only."""
        run_id = check_run_id(run_id)
        with read(self._engine) as conn:
            return run_info(self._row(conn, run_id))

    def update(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name."""
        run_id = check_run_id(run_id)
        values: dict[str, object] = {}
        if status is not None:
            values["status"] = _check_status(status)
        if end_time is not None:
            values["end_time"] = limits.check_int(end_time, field="end_time")
        if run_name:
            values["name"] = limits.check_name(
                run_name, field="run_name", limit=limits.MAX_RUN_NAME_LENGTH
            )
        with write(self._engine) as conn:
            row = conn.execute(
                _update_statement(tuple(sorted(values))),
                {"run_id": run_id, **{f"v_{k}": v for k, v in values.items()}},
            ).first()
            if row is None:
                msg = f"no run with id {run_id!r}; see `conveyor runs list`"
                raise NotFoundError(msg, field="run_id")
            if run_name:
                conn.execute(
                    _UPSERT_TAG, {"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name}
                )
            _audit(conn, "run.updated", run_id, row.experiment_id, values)
            return run_info(row)

    def set_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        """Delete (to the trash) or restore a run."""
        run_id = check_run_id(run_id)
        deleted_time = now_ms() if stage is LifecycleStage.DELETED else None
        with write(self._engine) as conn:
            self._row(conn, run_id)
            conn.execute(
                update(schema.runs)
                .where(schema.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage.value, deleted_time=deleted_time)
            )
            action = "run.deleted" if stage is LifecycleStage.DELETED else "run.restored"
            _audit(conn, action, run_id, None, {})

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Any] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        batch_id: str | None = None,
        end: tuple[RunStatus | str, int] | None = None,
    ) -> bool:
        """Log metric points, params and tags in one transaction.

        ``metrics`` holds ``Metric`` objects or ``(key, value, timestamp_ms, step)`` tuples.
        A ``batch_id`` already ingested is skipped (replays after an outage are idempotent).
        ``end`` = ``(status, end_time)`` also ends the run in the same transaction (the last
        batch of a fluent run), so its last points and its status land together.

        Returns:
            False when the batch was a replay and nothing was written.
        """
        run_id = check_run_id(run_id)
        if len(metrics) > limits.MAX_BATCH_METRICS:
            msg = (
                f"a batch holds at most {limits.MAX_BATCH_METRICS} metric points, got "
                f"{len(metrics)}; split it"
            )
            raise LimitExceededError(msg, field="metrics")
        points = _check_points(metrics)
        new_params = _check_pairs(
            dict(params or {}), kind="params", limit=limits.MAX_PARAM_VALUE_LENGTH
        )
        new_tags = _check_pairs(dict(tags or {}), kind="tags", limit=limits.MAX_TAG_VALUE_LENGTH)
        end_values = None if end is None else _end_values(*end)
        try:
            with write(self._engine) as conn:
                row = self._row(conn, run_id, _LOG_TARGET)
                if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                    msg = f"run {run_id} is deleted; restore it before logging to it"
                    raise ConflictError(msg, field="run_id")
                if batch_id is not None:
                    conn.execute(
                        _INSERT_BATCH_ID,
                        {"batch_id": batch_id, "run_uuid": run_id, "created_time": now_ms()},
                    )
                _write_params(conn, run_id, new_params)
                write_points(conn, RunKey(row.run_pk, run_id, row.experiment_id), points)
                _write_tags(conn, run_id, new_tags)
                if end_values is not None:
                    conn.execute(_END_RUN, {"pk": row.run_pk, **end_values})
                # one event per batch, carrying its digest (never one per point); last, so
                # PostgreSQL holds the event-log lock only until the commit
                events.append(
                    conn,
                    action="run.finished" if end_values is not None else "run.logged",
                    subject=f"runs:/{run_id}",
                    payload={
                        "project": row.project,
                        "metrics": len(points),
                        "params": len(new_params),
                        "tags": len(new_tags),
                        "digest": _batch_digest(points, new_params, new_tags),
                        **({"status": end_values["status"]} if end_values else {}),
                    },
                )
        except IntegrityError:
            if batch_id is not None and self._seen_batch(batch_id):
                return False
            raise
        self._statistics.note(len(points) + len(new_params) + len(new_tags))
        return True

    def _seen_batch(self, batch_id: str) -> bool:
        b = schema.ingested_batches
        with read(self._engine) as conn:
            return (
                conn.execute(select(b.c.batch_id).where(b.c.batch_id == batch_id)).first()
                is not None
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        run_id = check_run_id(run_id)
        t = schema.tags
        with write(self._engine) as conn:
            self._row(conn, run_id)
            deleted = conn.execute(t.delete().where(t.c.run_uuid == run_id, t.c.key == key))
            if deleted.rowcount == 0:
                msg = f"run {run_id} has no tag {key!r}"
                raise NotFoundError(msg, field="key")
            _audit(conn, "run.tag_deleted", run_id, None, {"key": key})

    def metric_history(
        self, run_id: str, key: str, *, max_results: int = 25_000, page_token: str | None = None
    ) -> tuple[list[Metric], str | None]:
        """Return the points of one metric ordered by step and time, one page at a time."""
        run_id = check_run_id(run_id)
        limits.check_max_results(max_results, limit=1_000_000)
        offset = decode_page_token(page_token)
        m = schema.metrics
        with read(self._engine) as conn:
            run_pk = self._row(conn, run_id).run_pk
            stmt = (
                select(m.c.key, m.c.value, m.c.timestamp, m.c.step)
                .where(m.c.run_pk == run_pk, m.c.key == key)
                .order_by(m.c.step, m.c.timestamp)
                .offset(offset)
                .limit(max_results + 1)
            )
            rows = conn.execute(stmt).all()
        points = [
            Metric(key=k, value=metric_value(v), timestamp=ts, step=s)
            for k, v, ts, s in rows[:max_results]
        ]
        more = len(rows) > max_results
        return points, encode_page_token(offset + max_results) if more else None

    def search(
        self,
        experiment_ids: Sequence[object],
        *,
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        """Return one page of runs matching an MLflow-grammar filter, in the requested order."""
        limits.check_max_results(max_results)
        ids = [parse_experiment_id(e) for e in experiment_ids]
        offset = decode_page_token(page_token)
        query = {
            "experiment_ids": ids,
            "stages": view_type.stages(),
            "clauses": parse_filter(filter_string),
            "order_by": parse_order_by(order_by),
            "dialect": self._engine.dialect.name,
        }
        with read(self._engine) as conn:
            if needs_segments(query["clauses"], query["order_by"]):  # type: ignore[arg-type]
                rows = _segmented_page(conn, query, offset, max_results + 1)
            else:
                stmt = build_search(**query)  # type: ignore[arg-type]
                rows = list(conn.execute(stmt.offset(offset).limit(max_results + 1)))
            result = runs_with_data(conn, rows[:max_results])
        more = len(rows) > max_results
        return result, encode_page_token(offset + max_results) if more else None


def _segmented_page(conn: Connection, query: dict[str, Any], offset: int, limit: int) -> list[Any]:
    """Read one page across the "has the metric" and "lacks it" segments, in that order."""
    with_metric = build_search(**query, segment="with")
    rows = list(conn.execute(with_metric.offset(offset).limit(limit)))
    if len(rows) == limit:
        return rows
    # The first segment ends on this page; its size is known unless the page starts past it.
    total = offset + len(rows) if rows else _count(conn, with_metric)
    without = build_search(**query, segment="without")
    rest = conn.execute(without.offset(max(offset - total, 0)).limit(limit - len(rows)))
    return rows + list(rest)


def _count(conn: Connection, stmt: Any) -> int:
    return int(
        conn.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar() or 0
    )


def _batch_digest(
    points: Sequence[Point], params: Mapping[str, str], tags: Mapping[str, str]
) -> str:
    """SHA-256 of a batch's content (orjson: ~2 ms for 20k points, off the caller's loop)."""
    data = orjson.dumps([points, params, tags], option=orjson.OPT_SERIALIZE_NUMPY)
    return hashlib.sha256(data).hexdigest()


_UPDATES: dict[tuple[str, ...], Any] = {}


def _update_statement(keys: tuple[str, ...]) -> Any:
    """``UPDATE runs SET <keys> ... RETURNING *`` (a read for no keys), built once per key set."""
    stmt = _UPDATES.get(keys)
    if stmt is None:
        where = _r.c.run_uuid == bindparam("run_id")
        stmt = (
            update(_r).where(where).values({k: bindparam(f"v_{k}") for k in keys}).returning(_r)
            if keys
            else select(_r).where(where)
        )
        _UPDATES[keys] = stmt
    return stmt


def _audit(
    conn: Connection,
    action: str,
    run_id: str,
    experiment_id: int | None,
    values: Mapping[str, object],
) -> None:
    """Append a run event; the project comes from the run's experiment (one indexed read)."""
    if experiment_id is None:
        project = conn.execute(_PROJECT_OF_RUN, {"run_id": run_id}).scalar()
    else:
        project = conn.execute(_PROJECT_OF_EXPERIMENT, {"experiment_id": experiment_id}).scalar()
    events.append(
        conn,
        action=action,
        subject=f"runs:/{run_id}",
        payload={"project": project, **values},
    )


def _write_params(conn: Connection, run_id: str, new: Mapping[str, str]) -> None:
    if not new:
        return
    existing: dict[str, str] = {
        row.key: row.value
        for row in conn.execute(_EXISTING_PARAMS, {"run_id": run_id, "keys": list(new)})
    }
    for key, old in existing.items():
        if old != new[key]:
            msg = (
                f"param {key!r} of run {run_id} is already {old!r}; params are immutable, "
                f"so it cannot become {new[key]!r}. Log it under another name or start a new run"
            )
            raise InvalidArgumentError(msg, field="params")
    rows = [{"run_uuid": run_id, "key": k, "value": v} for k, v in new.items() if k not in existing]
    if rows:
        conn.execute(_INSERT_PARAMS, rows)


def _write_tags(conn: Connection, run_id: str, new: Mapping[str, str]) -> None:
    if not new:
        return
    conn.execute(_UPSERT_TAG, [{"run_uuid": run_id, "key": k, "value": v} for k, v in new.items()])
    if RUN_NAME_TAG in new:
        runs = schema.runs
        conn.execute(
            update(runs).where(runs.c.run_uuid == run_id).values(name=new[RUN_NAME_TAG][:250])
        )


class _Mapped:
    """Give a plain dict the ``_mapping`` face of a row, for ``run_info``."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self._mapping = mapping


def _check_status(status: RunStatus | str) -> str:
    return check_status(status).value


def _end_values(status: RunStatus | str, end_time: int) -> dict[str, object]:
    return {
        "status": _check_status(status),
        "end_time": limits.check_int(end_time, field="end_time"),
    }


@functools.cache
def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
