"""Predictions kept per request id for delayed-label joins (``monitor_predictions``).

Rows are built per batch with NumPy where the values allow (category keys of numbers, finite
scores), and the duplicate check asks the store in chunks, so a serving replica's window of tens
of thousands of rows costs one bulk insert, not a Python loop of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from conveyor.errors import AlreadyExistsError, InvalidArgumentError
from conveyor.monitoring.sketches.values import category_key
from conveyor.store import is_sqlite, raw_dbapi, schema
from conveyor.tracking import limits

MAX_REQUEST_ID_LENGTH = 128
_CHUNK = 1000  # ids per IN (...) query, well below SQLite's and PostgreSQL's parameter limits
_EXACT = 2.0**53  # floats below this are integers exactly when integral

_p = schema.monitor_predictions


def category_keys(values: Any) -> list[str]:
    """``category_key`` of every value, vectorised for integer, boolean and float arrays.

    Examples:
        >>> category_keys(np.array([1.0, 2.5, np.nan, -3.0]))
        ['1', '2.5', 'nan', '-3']
        >>> category_keys(np.array([True, False])), category_keys(["a", 2])
        (['True', 'False'], ['a', '2'])
    """
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind in "iub":
        return [str(v) for v in array.astype(str).tolist()]
    if kind != "f":
        return [category_key(v) for v in values]
    whole = np.isfinite(array) & (np.abs(array) < _EXACT)
    whole[whole] = array[whole] == np.floor(array[whole])
    keys = np.empty(len(array), dtype=object)
    keys[whole] = array[whole].astype(np.int64).astype(str)
    keys[~whole] = [category_key(v) for v in array[~whole]]
    return keys.tolist()


def scores(frame: pd.DataFrame, column: str | None) -> list[float | None]:
    """The column's finite numbers as floats, None elsewhere (or everywhere without it)."""
    if column is None or column not in frame.columns:
        return [None] * len(frame)
    series = frame[column]
    if series.dtype.kind in "biuf":
        array = series.to_numpy(dtype=np.float64)
        out: list[float | None] = list(array.tolist())
        for i in np.flatnonzero(~np.isfinite(array)).tolist():
            out[i] = None
        return out
    return [
        float(v) if isinstance(v, int | float) and np.isfinite(v) else None for v in series.tolist()
    ]


Row = tuple[str, int, str, float | None]  # request_id, time, prediction, score


def prediction_rows(
    predictions: list[str],
    row_scores: list[float | None],
    request_ids: Sequence[str],
    at: int,
    *,
    strict: bool,
) -> list[Row]:
    """The rows to insert, one per request id.

    ``strict``: every id must be a valid, unique string (else the batch is refused). Otherwise
    rows with an empty or over-long id, or an id repeated in the batch (after its first row),
    are left out.
    """
    if strict:
        for request_id in request_ids:
            limits.check_name(request_id, field="request_ids", limit=MAX_REQUEST_ID_LENGTH)
        if len(set(request_ids)) != len(request_ids):
            msg = "request_ids must be unique within a batch"
            raise InvalidArgumentError(msg, field="request_ids")
        return list(zip(request_ids, [at] * len(request_ids), predictions, row_scores, strict=True))
    seen: set[str] = set()
    rows: list[Row] = []
    for request_id, prediction, score in zip(request_ids, predictions, row_scores, strict=True):
        if request_id in seen or not _valid(request_id):
            continue
        seen.add(request_id)
        rows.append((request_id, at, prediction, score))
    return rows


def _valid(request_id: object) -> bool:
    return (
        isinstance(request_id, str)
        and 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH
        and bool(request_id.strip())
    )


# The monitor id is inlined (it comes from the database, never from a caller), so rows bind as
# the tuples they are: SQLAlchemy's per-row parameter processing would cost more than the insert.
_INSERT = "INSERT INTO monitor_predictions (monitor_id, request_id, time, prediction, score) "


def insert_predictions(conn: Connection, monitor_id: int, rows: list[Row], *, strict: bool) -> None:
    """Insert the rows; ``strict`` refuses ids logged before, else their first row stays."""
    if not rows:
        return
    if strict:
        _refuse_known(conn, monitor_id, [r[0] for r in rows])
    mark = "?" if is_sqlite(conn.engine) else "%s"
    sql = _INSERT + f"VALUES ({int(monitor_id)}, {mark}, {mark}, {mark}, {mark})"
    if not strict:
        sql += " ON CONFLICT (monitor_id, request_id) DO NOTHING"
    cursor = raw_dbapi(conn).cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _refuse_known(conn: Connection, monitor_id: int, ids: list[str]) -> None:
    known: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        known += conn.execute(
            select(_p.c.request_id).where(_p.c.monitor_id == monitor_id, _p.c.request_id.in_(chunk))
        ).scalars()
    if known:
        sample = ", ".join(sorted(known)[:3])
        msg = f"request ids already logged: {sample}; request ids must be unique"
        raise AlreadyExistsError(msg, field="request_ids")
