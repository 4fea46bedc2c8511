"""Malformed monitoring report dicts are refused with the offending field named."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.report import render_html, validate_report

_T = 1_714_521_600_000


def _valid() -> dict[str, Any]:
    return {
        "title": "churn",
        "generated_at_ms": _T,
        "summary": {"reference_rows": 10, "drift_share": None},
        "columns": [
            {
                "name": "age",
                "kind": "numeric",
                "bins": [-math.inf, 0.0, math.inf],
                "reference_counts": [1, 2],
                "current_counts": [2, 1],
                "drifted": None,
                "p_value": math.nan,
            },
            {"name": "plan", "kind": "categorical", "categories": ["a"], "reference_counts": [1]},
        ],
        "timeline": {"psi": {"age": [[_T, 0.1], [_T + 1, None]]}},
        "thresholds": {"psi": 0.25},
        "performance": {"estimated_accuracy": [[_T, 0.9, 0.8, 1.0], [_T + 1, 0.9]]},
        "quality": [{"column": "age", "kind": "missing", "message": "m", "value": None}],
        "alerts": [{"at": _T, "rule": "r", "state": "firing", "value": math.inf}],
    }


def test_valid_report_passes() -> None:
    validate_report(_valid())


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(report: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = report
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


_DELETE = object()

CASES = [
    (_set("title", _DELETE), "title"),
    (_set("title", 3), "title"),
    (_set("title", "  "), "title"),
    (_set("generated_at_ms", True), "generated_at_ms"),
    (_set("generated_at_ms", 1_714_521_600_000_000_000), "generated_at_ms"),
    (_set("summary", [1]), "summary"),
    (_set("summary/reference_rows", "10"), "summary.reference_rows"),
    (_set("columns", {"age": {}}), "columns"),
    (_set("columns/0", "age"), "columns[0]"),
    (_set("columns/0/name", _DELETE), "columns[0].name"),
    (_set("columns/0/kind", "text"), "columns[0].kind"),
    (_set("columns/0/drifted", "yes"), "columns[0].drifted"),
    (_set("columns/0/p_value", "0.1"), "columns[0].p_value"),
    (_set("columns/0/bins", [0.0, 1.0]), "columns[0].bins"),
    (_set("columns/0/bins", [0.0, 2.0, 1.0]), "columns[0].bins"),
    (_set("columns/0/bins", [0.0, math.nan, 1.0]), "columns[0].bins"),
    (_set("columns/0/bins", _DELETE), "columns[0].bins"),
    (_set("columns/0/categories", ["a", "b"]), "columns[0].categories"),
    (_set("columns/0/current_counts", [1, 2, 3]), "columns[0].current_counts"),
    (_set("columns/0/reference_counts", [1, -2]), "columns[0].reference_counts"),
    (_set("columns/0/reference_counts", [1, math.nan]), "columns[0].reference_counts"),
    (_set("columns/1/categories", ["a", 1]), "columns[1].categories[1]"),
    (_set("columns/1/categories", ["a", "b"]), "columns[1].categories"),
    (_set("timeline/psi", [[_T, 1.0]]), "timeline.psi"),
    (_set("timeline/psi/age", [[_T]]), "timeline.psi.age[0]"),
    (_set("timeline/psi/age", [[_T, 0.1, 0.0, 0.2]]), "timeline.psi.age[0]"),
    (_set("timeline/psi/age", [["2024-05-01", 0.1]]), "timeline.psi.age[0][0]"),
    (_set("timeline/psi/age", [[math.nan, 0.1]]), "timeline.psi.age[0][0]"),
    (_set("thresholds/psi", "high"), "thresholds.psi"),
    (_set("performance/estimated_accuracy", [[_T, 0.9, 0.8]]), "performance.estimated_accuracy[0]"),
    (_set("quality/0/value", "big"), "quality[0].value"),
    (_set("alerts/0/at", "now"), "alerts[0].at"),
    (_set("alerts/0/state", 1), "alerts[0].state"),
]


@pytest.mark.parametrize(("mutate", "field"), CASES)
def test_malformed_field_is_named(mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    report = copy.deepcopy(_valid())
    mutate(report)
    with pytest.raises(InvalidArgumentError, match=r"monitoring report: ") as info:
        render_html(report)
    assert info.value.field == field
    assert field in info.value.message


def test_non_mapping_report_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="must be an object") as info:
        validate_report([("title", "x")])
    assert info.value.field == "report"


def test_time_in_nanoseconds_gets_a_hint() -> None:
    report = _valid()
    report["generated_at_ms"] = 1_714_521_600_000_000_000
    with pytest.raises(InvalidArgumentError, match="not micro- or nanoseconds"):
        validate_report(report)
