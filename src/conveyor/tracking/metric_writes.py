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


# The run's integer key is inlined (it comes from the database, never from a caller), so the
# SDK's (key, value, timestamp, step) tuples bind as they are: no row is rebuilt in Python.
# SQLite itself stores a NaN as NULL, as the schema wants.
_SQLITE_INSERT = "INSERT INTO metrics (run_pk, key, value, timestamp, step) VALUES ({pk},?,?,?,?)"
_PG_COPY = "COPY metrics (run_pk, key, step, timestamp, value) FROM STDIN"

# MLflow's "latest" rule as an upsert's conflict clause: the stored point is replaced only by
# a newer one (higher step, then newer timestamp, then larger value; NaN, stored as NULL,
# lowest), so a concurrent writer that committed a newer point first is never overwritten.
_KEEP_NEWEST = (
    "ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, "
    "timestamp = excluded.timestamp, value = excluded.value "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND "
    "(excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = "
    "latest_metrics.timestamp AND COALESCE(excluded.value, -1e308) >= "
    "COALESCE(latest_metrics.value, -1e308))))"
)

# The latest point of each key the batch touched, read back through the (run_pk, key, step)
# index (large batches).
_UPSERT_LATEST = text(
    "INSERT INTO latest_metrics (run_uuid, key, experiment_id, step, timestamp, value) "
    "SELECT :run_uuid, key, :experiment_id, step, timestamp, value FROM metrics "
    "WHERE run_pk = :run_pk AND key = :key AND step = "
    "(SELECT max(step) FROM metrics WHERE run_pk = :run_pk AND key = :key) "
    "ORDER BY timestamp DESC, COALESCE(value, -1e308) DESC LIMIT 1 " + _KEEP_NEWEST
)


def _out_of_range() -> InvalidArgumentError:
    msg = "metric steps and timestamps must fit in 64 bits (timestamps are milliseconds)"
    return InvalidArgumentError(msg, field="metrics")


def _insert_points(conn: Connection, run_pk: int, points: Sequence[Point]) -> None:
    dbapi = raw_dbapi(conn)
    if is_sqlite(conn.engine):
        cursor = dbapi.cursor()
        try:
            cursor.executemany(_SQLITE_INSERT.format(pk=int(run_pk)), points)
        except OverflowError as exc:  # a step or timestamp beyond 64 bits
            raise _out_of_range() from exc
        finally:
            cursor.close()
        return
    # NaN != NaN: stored as NULL (see schema).
    rows = [(run_pk, k, s, ts, None if v != v else v) for k, v, ts, s in points]  # noqa: PLR0124
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


# The newest point of each key, given as values (small batches: picked in Python).
_UPSERT_LATEST_VALUES = text(
    "INSERT INTO latest_metrics (run_uuid, key, experiment_id, step, timestamp, value) "
    "VALUES (:run_uuid, :key, :experiment_id, :step, :timestamp, :value) " + _KEEP_NEWEST
)

# Below this many points, ordering them in Python is cheaper than reading each key back.
SMALL_BATCH = 256


def _rank(point: Point) -> tuple[int, int, float]:
    """MLflow's "latest" order: step, then timestamp, then value (NaN lowest)."""
    value = point[1]
    return point[3], point[2], -1e308 if value != value else value  # noqa: PLR0124


def write_points(conn: Connection, run: RunKey, points: Sequence[Point]) -> None:
    """Append ``points`` to the run and update its latest values, in ``conn``'s transaction."""
    if not points:
        return
    _insert_points(conn, run.run_pk, points)
    ids = {"run_uuid": run.run_id, "run_pk": run.run_pk, "experiment_id": run.experiment_id}
    if len(points) > SMALL_BATCH:
        conn.execute(_UPSERT_LATEST, [{**ids, "key": key} for key in {p[0] for p in points}])
        return
    latest: dict[str, Point] = {}
    for point in points:
        current = latest.get(point[0])
        if current is None or _rank(point) >= _rank(current):
            latest[point[0]] = point
    conn.execute(
        _UPSERT_LATEST_VALUES,
        [
            {**ids, "key": k, "step": s, "timestamp": ts, "value": None if v != v else v}  # noqa: PLR0124
            for k, v, ts, s in latest.values()
        ],
    )
