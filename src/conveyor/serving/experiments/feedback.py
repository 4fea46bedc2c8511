"""Outcomes and labels for served requests (``serving_feedback``), keyed by request id.

A caller answers a request with ``x-request-id`` (its own or a generated one) and later posts
what happened: an outcome (a conversion: 1 or 0; a revenue: any number), a regression label (a
number) or a class label (a string or a number). The last value posted for a request wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError, LimitExceededError, NotFoundError
from conveyor.serving.deployments import check_deployment_name
from conveyor.store import schema, write

MAX_FEEDBACK_PER_CALL = 100_000
MAX_REQUEST_ID_CHARS = 200
MAX_LABEL_CHARS = 200
_INT64 = 2**63  # JSON numbers are stored through 64-bit integers

_f = schema.serving_feedback
_dep = schema.deployments


def deployment_id_of(conn: Connection, name: str) -> int:
    """The id of deployment ``name``; 404 when it does not exist."""
    name = check_deployment_name(name)
    found = conn.execute(select(_dep.c.deployment_id).where(_dep.c.name == name)).scalar()
    if found is None:
        msg = f"deployment {name!r} does not exist; create it with `conveyor deployments create`"
        raise NotFoundError(msg, field="name")
    return int(found)


def check_feedback(request_ids: Any, values: Any, *, single: bool = False) -> list[tuple[str, Any]]:
    """Validate ``request_ids`` and ``values`` (same length, scalars); errors name the field.

    ``single`` names the fields of the one-value form (``request_id``, ``value``).
    """
    for field, items in (("request_ids", request_ids), ("values", values)):
        if not isinstance(items, list | tuple):
            msg = f"{field} must be a list; got {type(items).__name__}"
            raise InvalidArgumentError(msg, field=field)
    if len(request_ids) != len(values):
        msg = (
            f"request_ids and values must have the same length; got {len(request_ids)} ids and "
            f"{len(values)} values"
        )
        raise InvalidArgumentError(msg, field="values")
    if not request_ids:
        raise InvalidArgumentError("request_ids must not be empty", field="request_ids")
    if len(request_ids) > MAX_FEEDBACK_PER_CALL:
        msg = (
            f"at most {MAX_FEEDBACK_PER_CALL:,} feedback values per call; got "
            f"{len(request_ids):,}: send them in chunks"
        )
        raise LimitExceededError(msg, field="request_ids")
    return [
        (
            _request_id(rid, "request_id" if single else f"request_ids[{i}]"),
            _value(v, "value" if single else f"values[{i}]"),
        )
        for i, (rid, v) in enumerate(zip(request_ids, values, strict=True))
    ]


def _request_id(value: Any, field: str) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_REQUEST_ID_CHARS
        or "\x00" in value  # PostgreSQL text cannot hold it, and no served id does
    ):
        msg = (
            f"{field} must be a request id (the x-request-id a response carried, 1 to "
            f"{MAX_REQUEST_ID_CHARS} characters); got {str(value)[:80]!r}"
        )
        raise InvalidArgumentError(msg, field=field)
    return value


def _value(value: Any, field: str) -> Any:
    if isinstance(value, bool):
        return int(value)  # a boolean outcome is a 0/1 outcome
    if isinstance(value, int | float):
        if (isinstance(value, int) and not -_INT64 <= value < _INT64) or not math.isfinite(value):
            msg = f"{field} must be a finite number or a class label; got {str(value)[:80]!r}"
            raise InvalidArgumentError(msg, field=field)
        return value
    if isinstance(value, str) and 0 < len(value) <= MAX_LABEL_CHARS and "\x00" not in value:
        return value
    msg = (
        f"{field} must be a number (an outcome or a regression label) or a class label of 1 to "
        f"{MAX_LABEL_CHARS} characters; got {str(value)[:80]!r}"
    )
    raise InvalidArgumentError(msg, field=field)


def record_feedback(
    engine: Engine,
    name: str,
    request_ids: Sequence[Any],
    values: Sequence[Any],
    *,
    single: bool = False,
) -> dict[str, Any]:
    """Store (or replace) the feedback of requests served by deployment ``name``.

    Returns:
        ``{"deployment": name, "received": n}``.

    Raises:
        NotFoundError: no deployment ``name``.
        InvalidArgumentError: the ids or values are malformed (the error names which).
    """
    pairs = check_feedback(request_ids, values, single=single)
    latest = dict(pairs)  # one value per request: the last one given wins
    at = now_ms()
    with write(engine) as conn:
        deployment_id = deployment_id_of(conn, name)
        rows = [
            {
                "deployment_id": deployment_id,
                "request_id": rid,
                "value": orjson.dumps(value).decode(),
                "time": at,
            }
            for rid, value in latest.items()
        ]
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        stmt = dialect.insert(_f)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_f.c.deployment_id, _f.c.request_id],
            set_={"value": stmt.excluded.value, "time": stmt.excluded.time},
        )
        conn.execute(stmt, rows)
    return {"deployment": name, "received": len(pairs)}
