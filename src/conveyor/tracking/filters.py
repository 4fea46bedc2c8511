"""Parse and format MLflow's run-search filter and order-by grammar.

A filter is one or more clauses joined by ``AND``::

    metrics.loss < 0.5 AND params.optimizer = 'adam' AND tags."mlflow.runName" LIKE 'cv-%'
    attributes.run_id IN ('a1', 'b2') AND tags.reviewed IS NULL

Each clause is ``<prefix>.<key> <comparator> <value>``. Prefixes: ``metric(s)``,
``param(s)``/``parameter(s)``, ``tag(s)``, ``attribute(s)``/``attr``/``run`` and
``dataset(s)``; a bare attribute name (``start_time > 0``) is an attribute, as in MLflow. Keys
are bare (letters, digits, ``_ . - /``) or quoted with backticks, double or single quotes.

Comparators per entity:

* metrics and the numeric attributes (``start_time``, ``end_time``, alias ``created``):
  ``= != < <= > >=`` with a number;
* params and tags: ``= != LIKE ILIKE`` with a quoted string, ``IS NULL``, ``IS NOT NULL``;
* string attributes and dataset fields (``name``, ``digest``, ``context``): ``= != LIKE ILIKE``
  with a quoted string, ``IN`` / ``NOT IN`` with a list such as ``('a', 'b')``.

The module is pure: it builds :class:`Clause` and :class:`OrderBy` values and leaves their
evaluation to the stores. Every error is an :class:`~conveyor.errors.InvalidArgumentError`
whose message names the offending token, its 0-based position and the fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from conveyor.errors import InvalidArgumentError
from conveyor.tracking._filter_tokens import (
    MAX_TEXT_LENGTH,
    NUMBER,
    NUMERIC_ATTRIBUTES,
    EntityType,
    Scanner,
    format_identifier,
    quote,
    read_identifier,
)

Comparator = Literal[
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"
]

_COMPARATORS: Final[dict[str, Comparator]] = {name: name for name in get_args(Comparator)}
_NUMERIC_OPS: Final[tuple[Comparator, ...]] = ("=", "!=", "<", "<=", ">", ">=")
_KEY_VALUE_OPS: Final[tuple[Comparator, ...]] = (
    "=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"
)  # fmt: skip
_STRING_OPS: Final[tuple[Comparator, ...]] = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_LIST_OPS: Final = frozenset({"IN", "NOT IN"})
_NULL_OPS: Final = frozenset({"IS NULL", "IS NOT NULL"})
_INT64_LIMIT: Final = 2**63

_COMPARATOR: Final = re.compile(
    r"(?i)(?:is\s+not\s+null|is\s+null|not\s+in|ilike|like|in)\b|[<>=!]+"
)
_AND: Final = re.compile(r"(?i)and\b")
_OR: Final = re.compile(r"(?i)or\b")
_KEYWORD: Final = re.compile(r"(?i)(?:and|or|not)\b")
_INTEGER: Final = re.compile(r"[+-]?\d+")
_OPEN: Final = re.compile(r"\(")
_CLOSE: Final = re.compile(r"\)")
_COMMA: Final = re.compile(r",")
_DIRECTION: Final = re.compile(r"(?i)(asc|desc)\b")

__all__ = [
    "MAX_TEXT_LENGTH",
    "Clause",
    "Comparator",
    "EntityType",
    "OrderBy",
    "format_filter",
    "format_order_by",
    "parse_filter",
    "parse_order_by",
]


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``<entity>.<key> <comparator> <value>`` comparison of a run-search filter.

    Attributes:
        entity: What the key names: a metric, param, tag, run attribute or dataset field.
        key: The metric/param/tag key; for attributes the canonical name (``run_id``,
            ``run_name``, ``status``, ``start_time``, ``end_time``, ``artifact_uri``,
            ``user_id``, ``lifecycle_stage``); for datasets ``name``, ``digest`` or ``context``.
        comparator: The upper-case comparator.
        value: A float for metrics, an int (or float) for numeric attributes, a string for
            other single values, a tuple of strings for ``IN`` / ``NOT IN`` and ``None`` for
            ``IS NULL`` / ``IS NOT NULL``.
    """

    entity: EntityType
    key: str
    comparator: Comparator
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``order_by`` item: the key to sort runs by and the direction.

    Attributes:
        entity: A metric, param, tag or run attribute (never a dataset).
        key: The key; attributes use their canonical name, as in :class:`Clause`.
        ascending: ``False`` for ``DESC``.
    """

    entity: EntityType
    key: str
    ascending: bool = True


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a run-search filter into its clauses.

    Args:
        text: The filter, e.g. ``"metrics.loss < 0.5 AND params.C = '1'"``; ``None``, empty
            or blank text is the empty filter.

    Returns:
        The clauses in the order written.

    Raises:
        LimitExceededError: The text is longer than :data:`MAX_TEXT_LENGTH` characters.
        InvalidArgumentError: The text does not follow the grammar (``field="filter"``).
    """
    if text is None or not text.strip():
        return []
    scanner = Scanner(text, "filter")
    clauses = [_parse_clause(scanner)]
    while not scanner.at_end():
        _expect_and(scanner)
        clauses.append(_parse_clause(scanner))
    return clauses


def parse_order_by(items: Sequence[str] | None) -> list[OrderBy]:
    """Parse ``order_by`` items such as ``"metrics.loss DESC"`` or ``"start_time"``.

    Args:
        items: One key per item, optionally followed by ``ASC`` or ``DESC``; a single string
            counts as one item.

    Returns:
        The parsed items, in order.

    Raises:
        LimitExceededError: An item is longer than :data:`MAX_TEXT_LENGTH` characters.
        InvalidArgumentError: An item is malformed, orders by a dataset field, or repeats a
            key (``field="order_by"``).
    """
    if items is None:
        return []
    seen: set[tuple[str, str]] = set()
    result: list[OrderBy] = []
    for item in [items] if isinstance(items, str) else items:
        order = _parse_order_item(item)
        if (order.entity, order.key) in seen:
            name = format_identifier(order.entity, order.key)
            raise InvalidArgumentError(
                f'invalid order_by "{item}": {name} is ordered by twice; list each key once',
                field="order_by",
            )
        seen.add((order.entity, order.key))
        result.append(order)
    return result


def format_filter(clauses: Sequence[Clause]) -> str:
    """Render clauses as canonical filter text that :func:`parse_filter` reads back.

    Args:
        clauses: Clauses shaped as :func:`parse_filter` returns them.

    Returns:
        The clauses joined by ``AND``; ``""`` for no clauses.

    Raises:
        InvalidArgumentError: A value cannot be written (NaN, or ``None`` outside
            ``IS NULL`` / ``IS NOT NULL``).
    """
    return " AND ".join(_format_clause(clause) for clause in clauses)


def format_order_by(order: OrderBy) -> str:
    """Render an order-by item, e.g. ``"metrics.loss DESC"``.

    Args:
        order: The item.

    Returns:
        Text that :func:`parse_order_by` reads back as ``order``.
    """
    direction = "ASC" if order.ascending else "DESC"
    return f"{format_identifier(order.entity, order.key)} {direction}"


def _allowed(entity: EntityType, key: str) -> tuple[Comparator, ...]:
    if _is_numeric(entity, key):
        return _NUMERIC_OPS
    if entity in ("param", "tag"):
        return _KEY_VALUE_OPS
    return _STRING_OPS


def _is_numeric(entity: EntityType, key: str) -> bool:
    return entity == "metric" or (entity == "attribute" and key in NUMERIC_ATTRIBUTES)


def _parse_clause(scanner: Scanner) -> Clause:
    if scanner.at_end():
        raise scanner.error("expected a clause such as metrics.loss < 1, got end of filter")
    if _OPEN.match(scanner.text, scanner.pos):
        raise scanner.error("parentheses are not supported; join clauses with AND")
    keyword = _KEYWORD.match(scanner.text, scanner.pos)
    if keyword is not None:
        raise scanner.error(f"expected a clause such as metrics.loss < 1, got {keyword[0]!r}")
    entity, key = read_identifier(scanner)
    comparator = _parse_comparator(scanner, entity, key)
    if comparator in _NULL_OPS:
        return Clause(entity, key, comparator, None)
    if comparator in _LIST_OPS:
        return Clause(entity, key, comparator, _parse_list(scanner, entity, key, comparator))
    if _is_numeric(entity, key):
        return Clause(entity, key, comparator, _parse_number(scanner, entity, key))
    return Clause(entity, key, comparator, _parse_string(scanner, entity, key, comparator))


def _expect_and(scanner: Scanner) -> None:
    if scanner.take(_AND) is not None:
        return
    if _OR.match(scanner.text, scanner.pos):
        raise scanner.error(
            "OR is not supported; join clauses with AND, or run one search per alternative"
        )
    raise scanner.error(f"expected AND between clauses, got {scanner.peek()}")


def _parse_comparator(scanner: Scanner, entity: EntityType, key: str) -> Comparator:
    allowed = _allowed(entity, key)
    use = f"use one of {', '.join(allowed)}"
    name = format_identifier(entity, key)
    if scanner.at_end():
        raise scanner.error(f"expected a comparator after {name}, got end of filter; {use}")
    at = scanner.pos
    match = scanner.take(_COMPARATOR)
    written = scanner.next_token() if match is None else match[0]
    comparator = _COMPARATORS.get(" ".join(str(written).upper().split()))
    if comparator is None:
        raise scanner.error(f"unknown comparator {written!r}; {use}", at)
    if comparator not in allowed:
        raise scanner.error(_misused(name, comparator, entity, key, use), at)
    return comparator


def _misused(name: str, comparator: str, entity: EntityType, key: str, use: str) -> str:
    if comparator in _NULL_OPS:
        return f"{comparator} only works on params and tags, not on {name}; {use}"
    if _is_numeric(entity, key):
        return f"{name} is a number, so {comparator!r} does not apply; {use}"
    return (
        f"{name} is a string, so {comparator!r} does not apply; {use} "
        f"with a quoted value, e.g. {name} = 'value'"
    )


def _parse_number(scanner: Scanner, entity: EntityType, key: str) -> float:
    name = format_identifier(entity, key)
    scanner.at_end()
    at = scanner.pos
    match = scanner.take(NUMBER)
    if match is None:
        raise scanner.error(f"{name} expects a number, got {scanner.peek()}", at)
    text = match[0]
    if entity == "metric" or not _INTEGER.fullmatch(text):
        return float(text)
    if len(text) > 20 or not -_INT64_LIMIT <= int(text) < _INT64_LIMIT:
        raise scanner.error(f"{name} value {text} is out of range (64-bit milliseconds)", at)
    return int(text)


def _parse_string(scanner: Scanner, entity: EntityType, key: str, comparator: str) -> str:
    name = format_identifier(entity, key)
    if scanner.at_end():
        raise scanner.error(f"{name} expects a quoted string, got end of filter")
    first = scanner.text[scanner.pos]
    if first == "`":
        raise scanner.error("backticks quote keys, not values; quote values with '...'")
    if first == "(":
        raise scanner.error(f"a parenthesized list needs IN or NOT IN, not {comparator}")
    quoted = scanner.take_quoted("'\"")
    if quoted is None:
        raise scanner.error(
            f"{name} expects a quoted string, got {scanner.peek()}; write "
            f"{name} {comparator} {quote(str(scanner.next_token()))}"
        )
    return quoted[1]


def _parse_list(scanner: Scanner, entity: EntityType, key: str, comparator: str) -> tuple[str, ...]:
    if scanner.take(_OPEN) is None:
        name = format_identifier(entity, key)
        raise scanner.error(
            f"{comparator} expects a parenthesized list of quoted strings, e.g. "
            f"{name} {comparator} ('a', 'b'), got {scanner.peek()}"
        )
    items: list[str] = []
    while not (items and scanner.take(_CLOSE)):
        quoted = scanner.take_quoted("'\"")
        if quoted is None:
            raise scanner.error(
                f"expected a quoted string in the {comparator} list, got {scanner.peek()}"
            )
        items.append(quoted[1])
        if scanner.take(_CLOSE):
            break
        if scanner.take(_COMMA) is None:
            raise scanner.error(
                f"expected ',' or ')' in the {comparator} list, got {scanner.peek()}"
            )
    return tuple(items)


def _parse_order_item(item: str) -> OrderBy:
    scanner = Scanner(item, "order_by")
    if scanner.at_end():
        raise scanner.error("empty order_by item; write e.g. metrics.loss DESC")
    entity, key = read_identifier(scanner)
    if entity == "dataset":
        raise scanner.error(
            "runs cannot be ordered by dataset fields; use a metric, param, tag or attribute", 0
        )
    direction = scanner.take(_DIRECTION)
    if direction is None and not scanner.at_end():
        raise scanner.error(
            f"unknown direction {scanner.peek()}; use ASC or DESC (one key per item)"
        )
    if not scanner.at_end():
        raise scanner.error(f"unexpected {scanner.peek()} after the direction; one key per item")
    return OrderBy(entity, key, direction is None or direction[1].lower() == "asc")


def _format_clause(clause: Clause) -> str:
    name = format_identifier(clause.entity, clause.key)
    if clause.comparator in _NULL_OPS:
        return f"{name} {clause.comparator}"
    return f"{name} {clause.comparator} {_format_value(clause.value)}"


def _format_value(value: float | str | tuple[str, ...] | None) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(quote(item) for item in value) + ")"
    if isinstance(value, str):
        return quote(value)
    if value is None:
        raise InvalidArgumentError(
            "a clause without a value needs IS NULL or IS NOT NULL", field="filter"
        )
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        raise InvalidArgumentError("NaN cannot be written in a filter", field="filter")
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)
