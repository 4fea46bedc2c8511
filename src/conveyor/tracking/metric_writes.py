"""The hot path: append metric points and keep the latest value per run and key.

On SQLite the points go through the DB-API ``executemany`` directly: SQLAlchemy's parameter
processing costs more than the insert itself at hundreds of thousands of rows per second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import Connection, insert, text

from conveyor.store import is_sqlite, raw_dbapi, schema

# A point is (key, value, timestamp_ms, step).
Point = tuple[str, float, int, int]

_SQLITE_INSERT = "INSERT INTO metrics (run_uuid, key, step, timestamp, value) VALUES (?,?,?,?,?)"

# MLflow's rule for "latest": the highest step, then the newest timestamp, then the largest value.
_UPSERT_LATEST = text(
    "INSERT INTO latest_metrics (run_uuid, key, experiment_id, step, timestamp, value) "
    "VALUES (:run_uuid, :key, :experiment_id, :step, :timestamp, :value) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, "
    "timestamp = excluded.timestamp, value = excluded.value "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND "
    "(excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = "
    "latest_metrics.timestamp AND COALESCE(excluded.value, -1e308) >= "
    "COALESCE(latest_metrics.value, -1e308))))"
)


def _stored(value: float) -> float | None:
    return None if math.isnan(value) else value


def _rank(point: Point) -> tuple[int, int, float]:
    value = point[1]
    return (point[3], point[2], -math.inf if math.isnan(value) else value)


def latest_per_key(points: Sequence[Point]) -> dict[str, Point]:
    """Return the latest point of each key among ``points`` (MLflow's ordering)."""
    latest: dict[str, Point] = {}
    for point in points:
        current = latest.get(point[0])
        if current is None or _rank(point) >= _rank(current):
            latest[point[0]] = point
    return latest


def write_points(
    conn: Connection, run_id: str, experiment_id: int, points: Sequence[Point]
) -> None:
    """Append ``points`` to the run and update its latest values, in ``conn``'s transaction."""
    if not points:
        return
    rows = [(run_id, p[0], p[3], p[2], _stored(p[1])) for p in points]
    if is_sqlite(conn.engine):
        cursor = raw_dbapi(conn).cursor()
        try:
            cursor.executemany(_SQLITE_INSERT, rows)
        finally:
            cursor.close()
    else:
        conn.execute(
            insert(schema.metrics),
            [
                {"run_uuid": r[0], "key": r[1], "step": r[2], "timestamp": r[3], "value": r[4]}
                for r in rows
            ],
        )
    conn.execute(
        _UPSERT_LATEST,
        [
            {
                "run_uuid": run_id,
                "key": p[0],
                "experiment_id": experiment_id,
                "step": p[3],
                "timestamp": p[2],
                "value": _stored(p[1]),
            }
            for p in latest_per_key(points).values()
        ],
    )
