"""Atomic HTML and JSON report files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.report import report_json, write_report


def _report() -> dict[str, Any]:
    return {
        "title": "churn",
        "summary": {"drift_share": math.nan, "alerts": np.int64(2)},
        "columns": [
            {
                "name": "age",
                "kind": "numeric",
                "statistic": np.float64(math.inf),
                "bins": np.array([0.0, 1.0, 2.0]),
                "reference_counts": np.array([3, 4]),
                "current_counts": [4, 3],
            }
        ],
    }


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(token)

    return json.loads(text, parse_constant=refuse)


def test_writes_html_and_json_with_nan_as_null(tmp_path: Path) -> None:
    html_path, json_path = tmp_path / "r.html", tmp_path / "out" / "r.json"
    write_report(_report(), html_path, str(json_path))
    assert "<svg" in html_path.read_text(encoding="utf-8")
    document = _strict_json(json_path.read_text(encoding="utf-8"))
    assert document["summary"] == {"drift_share": None, "alerts": 2}
    assert document["columns"][0]["statistic"] is None
    assert document["columns"][0]["bins"] == [0.0, 1.0, 2.0]
    assert json_path.read_text(encoding="utf-8").startswith('{\n  "title"')
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "r.html", "r.json"]


def test_only_the_requested_file_is_written(tmp_path: Path) -> None:
    write_report(_report(), None, tmp_path / "r.json")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_no_path_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="no output path given") as info:
        write_report(_report(), None, None)
    assert info.value.field == "html_path"


def test_malformed_report_writes_nothing(tmp_path: Path) -> None:
    report = _report()
    report["columns"][0]["kind"] = "text"
    with pytest.raises(InvalidArgumentError, match=r"columns\[0\]\.kind"):
        write_report(report, tmp_path / "r.html", tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_value_json_cannot_carry_is_refused() -> None:
    report = _report()
    report["extra"] = {"when": object()}
    with pytest.raises(
        InvalidArgumentError, match="not JSON serializable: object; pass only strings"
    ):
        report_json(report)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_report(_report(), None, target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_rewrite_replaces_the_previous_report(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    write_report(_report(), None, target)
    assert _strict_json(target.read_text(encoding="utf-8"))["title"] == "churn"
