"""Turn database rows into tracking entities, fetching children without N+1 queries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select

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


# Built once (a run read is on every tracking call's path); "ids" expands to the chunk's run ids.
_IDS: BindParameter[str] = bindparam("ids", expanding=True)
_PARAMS_OF = select(schema.params.c.run_uuid, schema.params.c.key, schema.params.c.value).where(
    schema.params.c.run_uuid.in_(_IDS)
)
_TAGS_OF = select(schema.tags.c.run_uuid, schema.tags.c.key, schema.tags.c.value).where(
    schema.tags.c.run_uuid.in_(_IDS)
)
_lm = schema.latest_metrics
_LATEST_OF = select(_lm.c.run_uuid, _lm.c.key, _lm.c.value, _lm.c.timestamp, _lm.c.step).where(
    _lm.c.run_uuid.in_(_IDS)
)


def _children(
    conn: Connection, run_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, dict[str, Metric]]]:
    params: dict[str, dict[str, str]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    for start in range(0, len(run_ids), _CHUNK):
        chunk = {"ids": list(run_ids[start : start + _CHUNK])}
        for stmt, target in ((_PARAMS_OF, params), (_TAGS_OF, tags)):
            for run_uuid, key, value in conn.execute(stmt, chunk):
                target[run_uuid][key] = value
        for run_uuid, key, value, timestamp, step in conn.execute(_LATEST_OF, chunk):
            metrics[run_uuid][key] = Metric(
                key=key, value=metric_value(value), timestamp=timestamp, step=step
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
