"""The hot path: append metric points and keep the latest value per run and key.

On SQLite the points go through the DB-API ``executemany`` directly: SQLAlchemy's parameter
processing costs more than the insert itself at hundreds of thousands of rows per second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, insert, text

from conveyor.errors import InvalidArgumentError
from conveyor.store import is_sqlite, raw_dbapi, schema

# A point is (key, value, timestamp_ms, step).
Point = tuple[str, float, int, int]


class RunKey(NamedTuple):
    """The identifiers of a run that its metric rows carry."""

    run_pk: int
    run_id: str
    experiment_id: int


_SQLITE_INSERT = "INSERT INTO metrics (run_pk, key, step, timestamp, value) VALUES (?,?,?,?,?)"
_PG_COPY = "COPY metrics (run_pk, key, step, timestamp, value) FROM STDIN"

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


def _newer(point: Point, current: Point) -> bool:
    if point[3] != current[3]:
        return point[3] > current[3]
    if point[2] != current[2]:
        return point[2] > current[2]
    value, old = point[1], current[1]
    # x != x is a NaN test without a function call on the hot path; NaN ranks lowest.
    return old != old or (value == value and value >= old)  # noqa: PLR0124


def latest_per_key(points: Sequence[Point]) -> dict[str, Point]:
    """Return the latest point of each key among ``points`` (MLflow's ordering)."""
    latest: dict[str, Point] = {}
    for point in points:
        current = latest.get(point[0])
        if current is None or _newer(point, current):
            latest[point[0]] = point
    return latest


def _out_of_range() -> InvalidArgumentError:
    msg = "metric steps and timestamps must fit in 64 bits (timestamps are milliseconds)"
    return InvalidArgumentError(msg, field="metrics")


def _insert_rows(conn: Connection, rows: list[tuple[int, str, int, int, float | None]]) -> None:
    dbapi = raw_dbapi(conn)
    if is_sqlite(conn.engine):
        cursor = dbapi.cursor()
        try:
            cursor.executemany(_SQLITE_INSERT, rows)
        except OverflowError as exc:  # validation skips the range check on its fast path
            raise _out_of_range() from exc
        finally:
            cursor.close()
        return
    if conn.engine.dialect.driver == "psycopg":
        import psycopg

        # COPY streams rows without per-row statements: ~10x executemany on PostgreSQL.
        try:
            with dbapi.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.DataError as exc:
            raise _out_of_range() from exc
        return
    conn.execute(
        insert(schema.metrics),
        [dict(zip(("run_pk", "key", "step", "timestamp", "value"), r, strict=True)) for r in rows],
    )


def write_points(conn: Connection, run: RunKey, points: Sequence[Point]) -> None:
    """Append ``points`` to the run and update its latest values, in ``conn``'s transaction."""
    if not points:
        return
    # NaN != NaN: stored as NULL (see schema).
    rows = [(run.run_pk, k, s, ts, None if v != v else v) for k, v, ts, s in points]  # noqa: PLR0124
    _insert_rows(conn, rows)
    conn.execute(
        _UPSERT_LATEST,
        [
            {
                "run_uuid": run.run_id,
                "key": p[0],
                "experiment_id": run.experiment_id,
                "step": p[3],
                "timestamp": p[2],
                "value": None if p[1] != p[1] else p[1],
            }
            for p in latest_per_key(points).values()
        ],
    )
