"""Turn database rows into tracking entities, fetching children without N+1 queries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from conveyor.store import schema
from conveyor.tracking.entities import Metric, Run, RunInfo

_CHUNK = 900  # stays under SQLite's bound-parameter limit


def run_info(row: Any) -> RunInfo:
    """Build a ``RunInfo`` from a ``runs`` row."""
    m = row._mapping
    return RunInfo(
        run_id=m["run_uuid"],
        run_name=m["name"],
        experiment_id=str(m["experiment_id"]),
        user_id=m["user_id"],
        status=m["status"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        artifact_uri=m["artifact_uri"],
        lifecycle_stage=m["lifecycle_stage"],
    )


def metric_value(value: float | None) -> float:
    """Decode a stored metric value (NULL stands for NaN)."""
    return math.nan if value is None else float(value)


def _children(
    conn: Connection, run_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, dict[str, Metric]]]:
    params: dict[str, dict[str, str]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    lm = schema.latest_metrics
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start : start + _CHUNK]
        for table, target in ((schema.params, params), (schema.tags, tags)):
            stmt = select(table.c.run_uuid, table.c.key, table.c.value)
            for run_uuid, key, value in conn.execute(stmt.where(table.c.run_uuid.in_(chunk))):
                target[run_uuid][key] = value
        stmt = select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.timestamp, lm.c.step)
        for row in conn.execute(stmt.where(lm.c.run_uuid.in_(chunk))):
            metrics[row.run_uuid][row.key] = Metric(
                key=row.key, value=metric_value(row.value), timestamp=row.timestamp, step=row.step
            )
    return params, tags, metrics


def runs_with_data(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """Build full ``Run`` objects for ``rows`` with three queries per 900 runs."""
    infos = [run_info(row) for row in rows]
    params, tags, metrics = _children(conn, [i.run_id for i in infos])
    return [
        Run(
            info=i,
            params=params.get(i.run_id, {}),
            tags=tags.get(i.run_id, {}),
            metrics=metrics.get(i.run_id, {}),
        )
        for i in infos
    ]
