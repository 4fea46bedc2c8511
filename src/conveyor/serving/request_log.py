"""A sampled request/response log: Parquet files of what replicas answered, for debugging, label
joins and retraining.

**Which requests.** A deployment's ``policy.log_sample`` (``conveyor deployments log-sample``),
or ``ServeSpec.log_sample`` (``conveyor serve --log-sample``) for a model URI served without a
deployment: the share of requests logged, 0 (the default) being off. Whether a request is in the
sample is a hash of its request id, so every replica decides alike and a request is logged
whole (all its rows) or not at all. Shadow copies are not logged: no caller got their answers.

**Where.** Per flushed window, deployment and replica, one Parquet file in the blob store,
linked in the store's path table (admins only through the artifact proxy) as
``serving-logs/<deployment>/<YYYY-MM-DD>/<window start ms>-<replica id>.parquet`` (the UTC day of
the window). Columns: ``time`` (UTC), ``request_id`` (one per row, ``served_rows.row_ids``),
``deployment``, ``version``, ``route``, ``ok`` (status below 500), ``latency_ms``, the input
columns (named by the plan; ``input_0``... for an unnamed matrix; an input named like one of
these columns gets an ``input.`` prefix) and ``prediction`` (a list per row for a model with
several outputs). A request refused before the model ran is one row without inputs.

**Reading.** ``read_request_log(workspace, name, since_ms, until_ms)`` and ``conveyor deployments
log NAME --since 1h [--out FILE]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import posixpath
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, update

from conveyor._time import now_ms
from conveyor.blobs import BlobStore, put_bytes, read_bytes
from conveyor.errors import InvalidArgumentError
from conveyor.registry.uris import check_name
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.routes import RouteTable
from conveyor.serving.served_rows import ColumnsOf, no_columns, served_rows
from conveyor.serving.windows import SHADOW
from conveyor.store import read, schema, write

log = logging.getLogger(__name__)

LOG_ROOT = "serving-logs"
META_COLUMNS = ("time", "request_id", "deployment", "version", "route", "ok", "latency_ms")
_SCALE = float(1 << 64)
_a = schema.artifacts


def is_sampled(request_id: str, share: float) -> bool:
    """Whether a request is in a ``share`` sample: a hash of its id, the same on every replica.

    Examples:
        >>> is_sampled("r1", 1.0), is_sampled("r1", 0.0)
        (True, False)
        >>> is_sampled("r1", 0.5) == is_sampled("r1", 0.5)
        True
    """
    if share >= 1:
        return True
    if share <= 0:
        return False
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * _SCALE


def log_path(deployment: str, start_ms: int, replica_id: str) -> str:
    """Where one window of one replica's log is linked.

    Examples:
        >>> log_path("churn-svc", 1_700_000_000_000, "12-ab")
        'serving-logs/churn-svc/2023-11-14/1700000000000-12-ab.parquet'
    """
    day = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d")
    return f"{_prefix(deployment)}{day}/{start_ms}-{quote(replica_id, safe='')}.parquet"


def _prefix(deployment: str) -> str:
    return f"{LOG_ROOT}/{quote(deployment, safe='')}/"


class RequestLogSink:
    """Write each window's sampled requests, per deployment, as one Parquet file.

    Args:
        engine: the store (deployment policies are read there, files are linked there).
        blobs: where the files go.
        uri_share: the share logged of model URIs served without a deployment.
        columns_of: names the matrix columns of a served version (``served_rows.plan_columns``).
    """

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        *,
        uri_share: float = 0.0,
        columns_of: ColumnsOf = no_columns,
    ) -> None:
        self._engine = engine
        self._blobs = blobs
        self._uri_share = uri_share
        self._columns_of = columns_of
        self._shares: dict[str, tuple[int, float]] = {}  # deployment -> (revision, share)

    def flush(self, batch: Flush) -> None:
        chosen: dict[str, list[Served]] = {}
        shares: dict[str, float] = {}
        for r in batch.records:
            if r.route == SHADOW:
                continue
            name = r.deployment
            share = shares.get(name)
            if share is None:
                share = shares[name] = self.share(r.table)
            if share > 0 and is_sampled(r.request_id, share):
                chosen.setdefault(name, []).append(r)
        for name, records in chosen.items():
            frame = log_frame(name, records, self._columns_of)
            write_log(
                self._engine, self._blobs, log_path(name, batch.start_ms, batch.replica_id), frame
            )

    def share(self, table: RouteTable) -> float:
        """The share of ``table``'s requests to log (read once per deployment revision)."""
        if table.revision == 0:  # a model URI served without a deployment
            return self._uri_share
        cached = self._shares.get(table.deployment)
        if cached is not None and cached[0] == table.revision:
            return cached[1]
        from conveyor.serving.deployments import Deployments
        from conveyor.serving.policy import TrafficPolicy

        policy = Deployments(self._engine).get(table.deployment, resolve=False).policy
        share = TrafficPolicy.from_dict(policy).log_sample
        self._shares[table.deployment] = (table.revision, share)
        return share


def log_frame(deployment: str, records: Sequence[Served], columns_of: ColumnsOf) -> pd.DataFrame:
    """The log rows of ``records``: one per input row, or one per request without inputs."""
    rows = served_rows(records, columns_of, all_outputs=True, number_unnamed=True)
    used = {id(r) for r in rows.records}
    rest = [r for r in records if id(r) not in used]
    counts = np.concatenate([rows.counts, np.ones(len(rest), dtype=np.int64)])
    every = [*rows.records, *rest]
    meta = pd.DataFrame(
        {
            "time": pd.to_datetime(
                np.repeat([int(r.at * 1000) for r in every], counts), unit="ms", utc=True
            ),
            "request_id": rows.request_ids + [r.request_id for r in rest],
            "deployment": deployment,
            "version": np.repeat([r.version for r in every], counts),
            "route": np.repeat([r.route for r in every], counts),
            "ok": np.repeat([r.ok for r in every], counts),
            "latency_ms": np.repeat([r.seconds * 1000 for r in every], counts),
        }
    )
    inputs = rows.inputs.rename(columns=_input_name)
    predictions = np.concatenate([rows.predictions.astype(object), np.full(len(rest), None)])
    return pd.concat([meta, inputs, pd.DataFrame({"prediction": predictions})], axis=1)


def _input_name(column: Any) -> str:
    name = str(column)
    return f"input.{name}" if name in META_COLUMNS or name == "prediction" else name


def write_log(engine: Engine, blobs: BlobStore, path: str, frame: pd.DataFrame) -> None:
    """Store ``frame`` as Parquet at ``path``; a second flush of the window is appended to it."""
    with read(engine) as conn:
        old = conn.execute(select(_a.c.digest).where(_a.c.path == path)).scalar()
    if old is not None:
        earlier = pd.read_parquet(io.BytesIO(read_bytes(blobs, old)))
        frame = pd.concat([earlier, frame], ignore_index=True)
    data = parquet_bytes(frame)
    digest = put_bytes(blobs, data)
    values = {"digest": digest, "size_bytes": len(data), "created_time": now_ms()}
    with write(engine) as conn:  # telemetry, like the traffic windows: not an audited change
        if old is None:
            conn.execute(insert(_a).values(path=path, **values))
        else:
            conn.execute(update(_a).where(_a.c.path == path).values(values))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet of ``frame``; object columns Arrow cannot type (mixed values) become strings."""
    import pyarrow as pa

    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        mixed = {c: frame[c].map(_text) for c in frame.columns if frame[c].dtype == object}
        buffer = io.BytesIO()
        frame.assign(**mixed).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_request_log(
    workspace: Any, name: str, since_ms: int | None = None, until_ms: int | None = None
) -> pd.DataFrame:
    """The logged requests of deployment (or served model) ``name`` in ``[since, until)``.

    Args:
        workspace: a ``conveyor.tracking.Workspace`` (its ``engine`` and ``blobs``).
        name: the deployment, or the name a model URI was served under.
        since_ms: the earliest request time (epoch ms), or None for the beginning.
        until_ms: the end of the range (exclusive), or None for now.

    Returns:
        The rows by time (columns: see the module docstring); empty with only the log's own
        columns when nothing was logged.
    """
    name = check_name(name, field="name")
    for value, field in ((since_ms, "since_ms"), (until_ms, "until_ms")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            msg = f"{field} must be epoch milliseconds (an integer); got {value!r}"
            raise InvalidArgumentError(msg, field=field)
    prefix = _prefix(name)
    stmt = select(_a.c.path, _a.c.digest).where(_a.c.path >= prefix, _a.c.path < prefix[:-1] + "0")
    if since_ms is not None:  # a file is written after every request it holds
        stmt = stmt.where(_a.c.created_time >= since_ms)
    with read(workspace.engine) as conn:
        files = conn.execute(stmt.order_by(_a.c.path)).all()
    frames = [
        pd.read_parquet(io.BytesIO(read_bytes(workspace.blobs, digest)))
        for path, digest in files
        if until_ms is None or _start_of(path) < until_ms
    ]
    if not frames:
        return pd.DataFrame(columns=[*META_COLUMNS, "prediction"])
    frame = pd.concat(frames, ignore_index=True)
    keep = np.ones(len(frame), dtype=bool)
    if since_ms is not None:
        keep &= (frame["time"] >= pd.Timestamp(since_ms, unit="ms", tz="UTC")).to_numpy()
    if until_ms is not None:
        keep &= (frame["time"] < pd.Timestamp(until_ms, unit="ms", tz="UTC")).to_numpy()
    return frame[keep].sort_values("time", kind="stable").reset_index(drop=True)


def _start_of(path: str) -> int:
    return int(posixpath.basename(path).split("-", 1)[0])
