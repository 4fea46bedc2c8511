"""Shape checks for the monitoring report dict before it is rendered or written.

The report is a plain JSON-ready dict built by the CLI or the server (see ``report.render_html``
for its layout). Every check names the offending field as a dotted path with list indices
(``columns[3].bins``) so the caller can find it; values that are merely missing (``None``, NaN,
inf) are allowed wherever a number is, because the renderer shows them as "—".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, TypeGuard

import numpy as np

from conveyor.errors import InvalidArgumentError

_KINDS = ("categorical", "numeric")
_COLUMN_NUMBERS = ("statistic", "p_value", "threshold", "psi", "js")
_COLUMN_TEXTS = ("role", "stattest")
# datetime handles years 1..9999; epoch milliseconds outside that cannot be shown as dates.
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_799_999


def _fail(field: str, problem: str, fix: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"monitoring report: {field} {problem}; {fix}", field=field)


def is_number(value: object) -> TypeGuard[Real]:
    """Tell whether ``value`` is a real number (NumPy scalars included, booleans excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _or_empty(value: object, empty: object) -> object:
    # Only an absent key or null means "empty"; a falsy wrong type (0, "") must still fail.
    return empty if value is None else value


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"must be an object (dict), got {type(value).__name__}"
        raise _fail(field, msg, "pass a dict or leave the key out")
    return value


def _list(value: object, field: str) -> Sequence[Any]:
    if isinstance(value, np.ndarray) and value.ndim in {1, 2}:
        # Counts, edges and point lists often come straight from NumPy; orjson writes them too.
        return value.tolist()  # type: ignore[no-any-return]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = f"must be a list, got {type(value).__name__}"
        raise _fail(field, msg, "pass a list (it may be empty) or leave the key out")
    return value


def _text(value: object, field: str, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if value is None:
        raise _fail(field, "is missing", "pass text")
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, got {value!r}", "pass text")


def _optional_number(value: object, field: str) -> None:
    if value is not None and not is_number(value):
        msg = f"must be a number or null, got {value!r}"
        raise _fail(field, msg, "pass a float (NaN/inf/null are shown as '—')")


def _time(value: object, field: str) -> None:
    if not is_number(value) or not math.isfinite(float(value)):
        msg = f"must be epoch milliseconds (a finite number), got {value!r}"
        raise _fail(field, msg, "pass an integer such as 1714521600000")
    if not _MIN_MS <= float(value) <= _MAX_MS:
        msg = f"is {value!r}, outside the years 1-9999"
        raise _fail(field, msg, "pass milliseconds since 1970-01-01, not micro- or nanoseconds")


def _validate_summary(summary: Mapping[str, Any]) -> None:
    for key, value in summary.items():
        _optional_number(value, f"summary.{key}")


def _validate_counts(column: Mapping[str, Any], field: str) -> int | None:
    lengths: list[int] = []
    for key in ("reference_counts", "current_counts"):
        if column.get(key) is None:
            continue
        counts = _list(column[key], f"{field}.{key}")
        for i, count in enumerate(counts):
            if not is_number(count) or not math.isfinite(float(count)) or float(count) < 0:
                msg = f"must hold non-negative finite counts, got {count!r} at index {i}"
                raise _fail(f"{field}.{key}", msg, "pass the number of rows per bin")
        lengths.append(len(counts))
    if len(lengths) == 2 and lengths[0] != lengths[1]:
        msg = f"has {lengths[1]} entries but reference_counts has {lengths[0]}"
        raise _fail(f"{field}.current_counts", msg, "count both samples on the same bins")
    return lengths[0] if lengths else None


def _validate_edges(edges: Sequence[Any], n_counts: int | None, field: str) -> None:
    values = []
    for i, edge in enumerate(edges):
        if not is_number(edge) or math.isnan(float(edge)):
            raise _fail(field, f"holds {edge!r} at index {i}", "pass numeric bin edges")
        values.append(float(edge))
    if any(b < a for a, b in itertools.pairwise(values)):
        raise _fail(field, "is not sorted", "pass bin edges in increasing order")
    if n_counts is not None and len(values) != n_counts + 1:
        msg = f"has {len(values)} edges for {n_counts} counts"
        raise _fail(field, msg, "pass one edge more than there are counts")


def _validate_bins(column: Mapping[str, Any], n_counts: int | None, field: str) -> None:
    kind = column["kind"]
    wanted, other = ("bins", "categories") if kind == "numeric" else ("categories", "bins")
    if column.get(other) is not None:
        msg = f"is given for a {kind} column"
        raise _fail(f"{field}.{other}", msg, f"use '{wanted}' for {kind} columns")
    if column.get(wanted) is None:
        if n_counts is not None:
            msg = "is missing while counts are given"
            raise _fail(f"{field}.{wanted}", msg, f"pass the {wanted} the counts refer to")
        return
    labels = _list(column[wanted], f"{field}.{wanted}")
    if kind == "numeric":
        _validate_edges(labels, n_counts, f"{field}.bins")
        return
    for i, label in enumerate(labels):
        _text(label, f"{field}.categories[{i}]", required=True)
    if n_counts is not None and len(labels) != n_counts:
        msg = f"has {len(labels)} labels for {n_counts} counts"
        raise _fail(f"{field}.categories", msg, "pass one label per count")


def _validate_column(column: Mapping[str, Any], field: str) -> None:
    _text(column.get("name"), f"{field}.name", required=True)
    kind = column.get("kind")
    if kind not in _KINDS:
        msg = f"is {kind!r}"
        raise _fail(f"{field}.kind", msg, f"use one of {', '.join(map(repr, _KINDS))}")
    for key in _COLUMN_TEXTS:
        _text(column.get(key), f"{field}.{key}")
    for key in _COLUMN_NUMBERS:
        _optional_number(column.get(key), f"{field}.{key}")
    drifted = column.get("drifted")
    if drifted is not None and not isinstance(drifted, bool):
        raise _fail(f"{field}.drifted", f"must be true, false or null, got {drifted!r}", "fix it")
    _validate_bins(column, _validate_counts(column, field), field)


def _validate_points(points: object, field: str, *, allow_band: bool) -> None:
    widths = (2, 4) if allow_band else (2,)
    shape = (
        "[time_ms, value, lower, upper] or [time_ms, value]" if allow_band else "[time_ms, value]"
    )
    for i, point in enumerate(_list(points, field)):
        if not isinstance(point, list | tuple) or len(point) not in widths:
            raise _fail(f"{field}[{i}]", f"is {point!r}", f"pass {shape}")
        _time(point[0], f"{field}[{i}][0]")
        for j, value in enumerate(point[1:], start=1):
            _optional_number(value, f"{field}[{i}][{j}]")


def _validate_series(report: Mapping[str, Any]) -> None:
    timeline = _mapping(_or_empty(report.get("timeline"), {}), "timeline")
    for signal, labels in timeline.items():
        for label, points in _mapping(labels, f"timeline.{signal}").items():
            _text(label, f"timeline.{signal} label", required=True)
            _validate_points(points, f"timeline.{signal}.{label}", allow_band=False)
    for key, value in _mapping(_or_empty(report.get("thresholds"), {}), "thresholds").items():
        _optional_number(value, f"thresholds.{key}")
    for metric, points in _mapping(_or_empty(report.get("performance"), {}), "performance").items():
        _validate_points(points, f"performance.{metric}", allow_band=True)


def _validate_rows(report: Mapping[str, Any]) -> None:
    for i, row in enumerate(_list(_or_empty(report.get("quality"), []), "quality")):
        field = f"quality[{i}]"
        item = _mapping(row, field)
        for key in ("column", "kind", "message"):
            _text(item.get(key), f"{field}.{key}")
        for key in ("value", "reference"):
            _optional_number(item.get(key), f"{field}.{key}")
    for i, row in enumerate(_list(_or_empty(report.get("alerts"), []), "alerts")):
        field = f"alerts[{i}]"
        item = _mapping(row, field)
        if item.get("at") is not None:
            _time(item["at"], f"{field}.at")
        for key in ("rule", "label", "state"):
            _text(item.get(key), f"{field}.{key}")
        for key in ("value", "threshold"):
            _optional_number(item.get(key), f"{field}.{key}")


def validate_report(report: object) -> None:
    """Check that ``report`` has the shape ``render_html`` and ``write_report`` expect.

    Args:
        report: the report dict; only ``title`` is required.

    Raises:
        InvalidArgumentError: naming the malformed field, e.g. ``columns[2].kind``.
    """
    body = _mapping(report, "report")
    _text(body.get("title"), "title", required=True)
    if not body["title"].strip():
        raise _fail("title", "is empty", "give the report a title such as the monitor's name")
    _text(body.get("subtitle"), "subtitle")
    if body.get("generated_at_ms") is not None:
        _time(body["generated_at_ms"], "generated_at_ms")
    _validate_summary(_mapping(_or_empty(body.get("summary"), {}), "summary"))
    for i, column in enumerate(_list(_or_empty(body.get("columns"), []), "columns")):
        _validate_column(_mapping(column, f"columns[{i}]"), f"columns[{i}]")
    _validate_series(body)
    _validate_rows(body)
