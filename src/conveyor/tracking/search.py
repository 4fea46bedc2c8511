"""Compile parsed run filters and orderings into one SQL query over the runs table.

Metric conditions join ``latest_metrics`` on (experiment_id, key, value), which its index
covers, so "metrics.loss < 0.2 order by metrics.loss" over 100k runs reads only matching rows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from conveyor.errors import InvalidArgumentError
from conveyor.store import schema
from conveyor.tracking.filters import Clause, OrderBy

_ATTRIBUTE_COLUMNS = {
    "run_id": "run_uuid",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "created": "start_time",
    "end_time": "end_time",
    "artifact_uri": "artifact_uri",
    "user_id": "user_id",
    "lifecycle_stage": "lifecycle_stage",
}

_CHILD_TABLES = {"param": schema.params, "tag": schema.tags}


def encode_page_token(offset: int) -> str:
    """Encode a result offset as an opaque page token."""
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def decode_page_token(token: str | None) -> int:
    """Decode a page token made by ``encode_page_token`` (None or "" mean the first page)."""
    if not token:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        msg = f"invalid page_token {token!r}: pass the next_page_token of a previous page"
        raise InvalidArgumentError(msg, field="page_token")
    return offset


def _glob_from_like(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[]":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _compare(
    column: KeyedColumnElement[Any], comparator: str, value: Any, dialect: str
) -> ColumnElement[bool]:
    ops: dict[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "ILIKE": lambda: column.ilike(value),
        "IN": lambda: column.in_(list(value)),
        "NOT IN": lambda: column.not_in(list(value)),
        "IS NULL": lambda: column.is_(None),
        "IS NOT NULL": lambda: column.is_not(None),
    }
    if comparator == "LIKE":
        # SQLite's LIKE ignores case; GLOB is the case-sensitive match MLflow's LIKE promises.
        if dialect == "sqlite":
            return column.op("GLOB")(_glob_from_like(str(value)))
        return column.like(value)
    return ops[comparator]()


class _QueryBuilder:
    def __init__(self, experiment_ids: Sequence[int], dialect: str) -> None:
        self.experiment_ids = list(experiment_ids)
        self.dialect = dialect
        self.conditions: list[ColumnElement[bool]] = []
        self.joins: list[tuple[Any, ColumnElement[bool], bool]] = []
        self.metric_aliases: dict[str, Any] = {}
        # SQLite's planner would drive the query from a filter's or the runs' index and sort
        # every match; a unary "+" hides those columns from it, so the index of the order-by
        # metric leads and the scan stops at the page (see build_search).
        self.demote_filters = False

    def demoted(self, alias: Any, column: str) -> Any:
        if not self.demote_filters:
            return alias.c[column]
        return literal_column(f"+{alias.name}.{column}", type_=alias.c[column].type)

    def add_clause(self, clause: Clause) -> None:
        runs = schema.runs
        if clause.entity == "attribute":
            column = runs.c[_ATTRIBUTE_COLUMNS[clause.key]]
            self.conditions.append(_compare(column, clause.comparator, clause.value, self.dialect))
        elif clause.entity == "metric":
            alias = self.metric_join(clause.key, outer=False)
            value = self.demoted(alias, "value")
            cond = _compare(value, clause.comparator, clause.value, self.dialect)
            self.conditions.append(cond)
        elif clause.entity in _CHILD_TABLES:
            self.conditions.append(self._child_condition(clause))
        else:
            msg = (
                f"filtering on {clause.entity}s is not supported yet "
                "(dataset versions arrive with the registry); filter on metrics, params, tags "
                "or attributes"
            )
            raise InvalidArgumentError(msg, field="filter")

    def _child_condition(self, clause: Clause) -> ColumnElement[bool]:
        table = _CHILD_TABLES[clause.entity]
        runs = schema.runs
        row_exists = exists().where(table.c.run_uuid == runs.c.run_uuid, table.c.key == clause.key)
        if clause.comparator == "IS NULL":
            return not_(row_exists)
        if clause.comparator == "IS NOT NULL":
            return row_exists
        cond = _compare(table.c.value, clause.comparator, clause.value, self.dialect)
        return row_exists.where(cond)

    def metric_join(self, key: str, *, outer: bool) -> Any:
        found = self.metric_aliases.get(key)
        if found is not None:
            return found
        lm = schema.latest_metrics.alias(f"lm{len(self.joins)}")
        on = and_(
            lm.c.run_uuid == schema.runs.c.run_uuid,
            lm.c.key == key,
            self.demoted(lm, "experiment_id").in_(self.experiment_ids),
        )
        self.joins.append((lm, on, outer))
        if not outer:
            self.metric_aliases[key] = lm
        return lm

    def order_column(self, order: OrderBy) -> list[ColumnElement[Any]]:
        if order.entity == "attribute":
            column: Any = schema.runs.c[_ATTRIBUTE_COLUMNS.get(order.key, order.key)]
            nulls_last: ColumnElement[Any] | None = None
        elif order.entity == "metric":
            inner = order.key in self.metric_aliases
            column = self.metric_join(order.key, outer=True).c.value
            nulls_last = None if inner else column.is_(None)
        elif order.entity in _CHILD_TABLES:
            table = _CHILD_TABLES[order.entity].alias(f"o{len(self.joins)}")
            on = and_(table.c.run_uuid == schema.runs.c.run_uuid, table.c.key == order.key)
            self.joins.append((table, on, True))
            column, nulls_last = table.c.value, table.c.value.is_(None)
        else:
            msg = f"cannot order by {order.entity}s; order by metrics, params, tags or attributes"
            raise InvalidArgumentError(msg, field="order_by")
        direction = column.asc() if order.ascending else column.desc()
        return [nulls_last, direction] if nulls_last is not None else [direction]


Segment = Literal["all", "with", "without"]


def needs_segments(clauses: Sequence[Clause], order_by: Sequence[OrderBy]) -> bool:
    """Return whether the search should run as two index-friendly segments.

    Ordering by a metric that no filter already requires would outer-join it, and an outer
    join cannot be read in index order: the database sorts every matching run. Splitting the
    result into runs that have the metric (read in index order, stopping at the page) and runs
    that lack it (ordered by the remaining keys) keeps "order by metrics.x" fast at 100k runs.
    """
    if not order_by or order_by[0].entity != "metric":
        return False
    key = order_by[0].key
    return not any(c.entity == "metric" and c.key == key for c in clauses)


def _present(key: str, experiment_ids: Sequence[int]) -> Any:
    lm = schema.latest_metrics
    return exists().where(
        lm.c.run_uuid == schema.runs.c.run_uuid,
        lm.c.key == key,
        lm.c.experiment_id.in_(list(experiment_ids)),
        lm.c.value.is_not(None),
    )


def build_search(
    *,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    clauses: Sequence[Clause],
    order_by: Sequence[OrderBy],
    dialect: str,
    segment: Segment = "all",
) -> Select[Any]:
    """Return the SELECT of matching ``runs`` rows in the requested order (no paging).

    ``segment`` "with" keeps only runs that have a value for the first order-by metric (and
    orders by it first); "without" keeps the others (see ``needs_segments``).
    """
    runs = schema.runs
    builder = _QueryBuilder(experiment_ids, dialect)
    builder.demote_filters = segment == "with" and dialect == "sqlite"
    for clause in clauses:
        builder.add_clause(clause)
    builder.demote_filters = False
    ordering: list[ColumnElement[Any]] = []
    orders = list(order_by)
    if segment != "all":
        first = orders.pop(0)
        if segment == "with":
            alias = builder.metric_join(first.key, outer=False)
            builder.conditions.append(alias.c.value.is_not(None))
            ordering.append(alias.c.value.asc() if first.ascending else alias.c.value.desc())
        else:
            builder.conditions.append(not_(_present(first.key, experiment_ids)))
    for order in orders:
        ordering.extend(builder.order_column(order))
    ordering += [runs.c.start_time.desc(), runs.c.run_uuid.asc()]
    source: Any = runs
    for table, on, outer in builder.joins:
        source = source.outerjoin(table, on) if outer else source.join(table, on)
    builder.demote_filters = segment == "with" and dialect == "sqlite"
    where = and_(
        builder.demoted(runs, "experiment_id").in_(builder.experiment_ids)
        if experiment_ids
        else false(),
        builder.demoted(runs, "lifecycle_stage").in_(list(stages)),
        *(builder.conditions or [true()]),
    )
    return select(runs).select_from(source).where(or_(where)).order_by(*ordering)
