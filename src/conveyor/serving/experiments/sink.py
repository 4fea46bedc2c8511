"""The predictions log of deployments under experiment (``serving_predictions``).

For a deployment that splits traffic (canary, A/B arms) or mirrors it to shadows, every served
request and every shadow copy becomes one row: request id, version, route and the prediction as
compact JSON (a scalar for a one-row request, a list for several rows, NULL when the version
failed). Shadow rows pair with the live row of the same request id for the champion/challenger
report; live rows join feedback by request id for the A/B tests. A deployment serving a single
version without shadows has nothing to compare, so nothing is logged for it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql

from conveyor.serving.recorder import DeploymentIds, Flush, Served
from conveyor.serving.routes import RouteTable
from conveyor.store import is_sqlite, raw_dbapi, schema, write

log = logging.getLogger(__name__)

MAX_ROWS_PER_FLUSH = 50_000
MAX_PREDICTION_CHARS = 65_536  # a row's JSON; larger outputs (embeddings, images) are not logged
MAX_REQUEST_ID_CHARS = 200  # the column's width

_p = schema.serving_predictions


def is_experiment(table: RouteTable) -> bool:
    """Whether a route table compares versions: several live routes, or shadows."""
    live = [r for r in table.routes if r.weight > 0]
    return len(live) > 1 or bool(table.shadows)


def prediction_json(predictions: Any) -> str | None:
    """Compact JSON of one request's predictions: a scalar for one row, else a list of rows.

    Returns None for no predictions (a failed request), for outputs above
    ``MAX_PREDICTION_CHARS`` and for outputs JSON cannot represent.

    Examples:
        >>> prediction_json(np.array([1])), prediction_json(np.array([0.5, 2.0]))
        ('1', '[0.5,2.0]')
        >>> prediction_json(np.array([["a", "b"]])), prediction_json(None)
        ('["a","b"]', None)
    """
    if predictions is None:
        return None
    if hasattr(predictions, "to_numpy"):  # pandas Series / DataFrame
        predictions = predictions.to_numpy()
    values = predictions.tolist() if isinstance(predictions, np.ndarray) else predictions
    if isinstance(values, list | tuple) and len(values) == 1:
        values = values[0]
    try:
        text = orjson.dumps(
            values, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
    except TypeError:  # an output JSON cannot hold (deep nesting, odd keys): not logged
        return None
    return text if len(text) <= MAX_PREDICTION_CHARS else None


class ExperimentSink:
    """Write one ``serving_predictions`` row per request and shadow copy, one insert per flush.

    Rows already stored (a window flushed again after a failed attempt) are ignored, so a retry
    never duplicates or fails. At most ``max_rows`` rows are kept per flush; the rest are
    dropped with a warning, which bounds what one window can cost the store.
    """

    def __init__(self, engine: Engine, *, max_rows: int = MAX_ROWS_PER_FLUSH) -> None:
        self._engine = engine
        self._ids = DeploymentIds(engine)
        self.max_rows = max_rows

    def flush(self, batch: Flush) -> None:
        rows = self.rows(batch.records)
        if len(rows) > self.max_rows:
            log.warning(
                "serving: %d experiment predictions in one window, over the cap of %d; "
                "the rest of this window is not logged",
                len(rows),
                self.max_rows,
            )
            rows = rows[: self.max_rows]
        if rows:
            with write(self._engine) as conn:
                _insert_ignoring_duplicates(conn, rows)

    def rows(self, records: Any) -> list[dict[str, Any]]:
        """The rows for ``records`` (deployments under experiment only), one per key."""
        out: dict[tuple[int, str, int, str], dict[str, Any]] = {}
        for r in records:
            row = self._row(r)
            if row is not None:
                out.setdefault(
                    (row["deployment_id"], row["request_id"], row["version"], row["route"]), row
                )
        return list(out.values())

    def _row(self, r: Served) -> dict[str, Any] | None:
        if not r.request_id or len(r.request_id) > MAX_REQUEST_ID_CHARS:
            return None  # nothing to join feedback or a shadow copy on
        if not is_experiment(r.table):
            return None
        deployment_id = self._ids.of(r.table)
        if deployment_id is None:
            return None
        return {
            "deployment_id": deployment_id,
            "request_id": r.request_id,
            "version": r.version,
            "route": r.route[:64],
            "prediction": prediction_json(r.predictions) if r.ok else None,
            "time": int(r.at * 1000),
        }


_COLUMNS = ("deployment_id", "request_id", "version", "route", "prediction", "time")
# SQLite takes the rows through the DB-API directly: SQLAlchemy's per-row parameter processing
# costs several times the insert itself, and this runs beside the event loop (the GIL).
_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO serving_predictions ({', '.join(_COLUMNS)}) VALUES (?,?,?,?,?,?)"
)


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if is_sqlite(conn.engine):
        cursor = raw_dbapi(conn).cursor()
        try:
            cursor.executemany(_SQLITE_INSERT, [tuple(r[c] for c in _COLUMNS) for r in rows])
        finally:
            cursor.close()
        return
    conn.execute(postgresql.insert(_p).on_conflict_do_nothing(), rows)
