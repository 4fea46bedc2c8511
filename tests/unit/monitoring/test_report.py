"""Rendering of the self-contained HTML monitoring report."""

from __future__ import annotations

import math
import re
import time
from html import escape
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.monitoring.report import render_html
from conveyor.monitoring.report_plots import MAX_CATEGORIES, REST_LABEL, distribution_svg

START_MS = 1_714_521_600_000
HOUR_MS = 3_600_000
SCRIPT_NAME = "<script>alert(1)</script>"


def _numeric(rng: np.random.Generator, name: str) -> dict[str, Any]:
    inner = np.round(np.sort(rng.normal(size=9)), 3).tolist()
    return {
        "name": name,
        "kind": "numeric",
        "stattest": "ks",
        "bins": [-math.inf, *inner, math.inf],
        "reference_counts": rng.integers(0, 100, 10).tolist(),
        "current_counts": rng.integers(0, 100, 10).tolist(),
    }


def _categorical(rng: np.random.Generator, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "categorical",
        "stattest": "chisquare",
        "categories": ["a", "b", "$price", "d", "(other)"],
        "reference_counts": rng.integers(0, 100, 5).tolist(),
        "current_counts": rng.integers(0, 100, 5).tolist(),
    }


def _series(rng: np.random.Generator, n_points: int) -> list[list[float]]:
    return [[START_MS + k * HOUR_MS, float(v)] for k, v in enumerate(rng.random(n_points))]


def make_report(n_columns: int = 25, n_points: int = 1000) -> dict[str, Any]:
    """Build a report with drift per column, timelines, performance, quality and alerts."""
    rng = np.random.default_rng(7)
    columns = []
    for i in range(n_columns):
        build = _categorical if i % 5 == 4 else _numeric
        column = build(rng, f"feature_{i}")
        column.update(
            role="prediction" if i == 1 else "feature",
            statistic=float(rng.random()),
            p_value=float(rng.random()),
            threshold=0.05,
            drifted=i % 3 == 0,
            psi=float(rng.random()),
            js=None,
        )
        columns.append(column)
    columns[0]["name"] = SCRIPT_NAME
    columns[2]["p_value"] = math.nan
    accuracy = rng.uniform(0.8, 0.9, n_points)
    realized = [[START_MS + k * HOUR_MS, float(v)] for k, v in enumerate(accuracy)]
    realized[3][1] = math.nan
    estimated = [
        [START_MS + k * HOUR_MS, float(v), float(v) - 0.02, float(v) + 0.02]
        for k, v in enumerate(accuracy + 0.01)
    ]
    return {
        "title": "churn <monitor>",
        "subtitle": "window 1d",
        "generated_at_ms": START_MS,
        "summary": {"reference_rows": 100_000, "current_rows": 5_000, "alerts": 2},
        "columns": columns,
        "timeline": {
            "psi": {column["name"]: _series(rng, n_points) for column in columns[:5]},
            "drift_share": {"": _series(rng, n_points)},
        },
        "thresholds": {"psi": 0.25, "estimated_accuracy": 0.8},
        "performance": {"accuracy": realized, "estimated_accuracy": estimated},
        "quality": [
            {
                "column": "feature_3",
                "kind": "missing_rate",
                "message": "missing rate rose from 1 % to 20 %",
                "value": 0.2,
                "reference": math.nan,
            }
        ],
        "alerts": [
            {
                "at": START_MS,
                "rule": "psi(feature_3) > 0.25 for 3 windows",
                "label": "feature_3",
                "state": "firing",
                "value": 0.31,
                "threshold": 0.25,
            },
            {
                "at": START_MS + HOUR_MS,
                "rule": "estimated_accuracy < 0.8",
                "label": "",
                "state": "resolved",
                "value": None,
                "threshold": math.inf,
            },
        ],
    }


@pytest.fixture(scope="module")
def rendered() -> tuple[str, float]:
    report = make_report()
    started = time.process_time()
    html = render_html(report)
    return html, time.process_time() - started


def _figure_blocks(html: str) -> list[str]:
    return re.findall(r'<figure id="column-\d+">.*?</figure>', html, flags=re.DOTALL)


def test_report_has_every_section(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    assert html.startswith("<!DOCTYPE html>")
    for anchor in ("summary", "drift", "distributions", "timeline", "performance"):
        assert f'<section id="{anchor}">' in html
    assert '<section id="quality">' in html
    assert '<section id="alerts">' in html
    assert "Generated 2024-05-01T00:00:00Z" in html


def test_each_column_gets_exactly_one_distribution_plot(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    blocks = _figure_blocks(html)
    assert len(blocks) == 25
    assert all(block.count("<svg") == 1 for block in blocks)
    # 25 columns + 2 timeline signals + 1 performance metric.
    assert html.count("<svg") == 28


def test_user_text_is_escaped_everywhere(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    assert "<script" not in html
    assert escape(SCRIPT_NAME) in html
    assert "<title>churn &lt;monitor&gt;</title>" in html
    # The timeline legend inside the SVG carries the same name, escaped by matplotlib.
    timeline = html.split('<section id="timeline">', 1)[1]
    assert "&lt;script&gt;alert(1" in timeline


def test_report_references_nothing_outside_the_file(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    urls = set(re.findall(r"https?://[^\"'\s)]*", html))
    assert urls == {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "<link" not in html
    assert "src=" not in html
    assert "Content-Security-Policy" in html


def test_element_ids_are_unique_across_inline_svgs(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for reference in re.findall(r'(?:href="#|url\(#)([^")]+)', html):
        assert f'id="{reference}"' in html


def test_drift_table_marks_drifted_columns_and_missing_values(
    rendered: tuple[str, float],
) -> None:
    html, _ = rendered
    table = html.split('<section id="drift">', 1)[1].split("</section>", 1)[0]
    assert table.count('class="drift-yes"') == 9  # columns 0, 3, ..., 24
    assert table.count('class="drift-no"') == 16
    # js is None for every column and one p-value is NaN: all print as a dash, never "nan".
    assert table.count('<td class="num">—</td>') == 26
    assert "nan" not in table.lower()


def test_summary_fills_in_what_the_columns_imply(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    summary = html.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert "9 of 25" in summary
    assert "36.0 %" in summary
    assert "100,000" in summary


def test_timeline_and_performance_draw_thresholds_and_bands(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    timeline = html.split('<section id="timeline">', 1)[1].split("</section>", 1)[0]
    performance = html.split('<section id="performance">', 1)[1].split("</section>", 1)[0]
    psi_plot = timeline.split('id="timeline-1"', 1)[0]
    assert "threshold" in psi_plot
    for legend in ("realized", "estimated", "confidence band", "threshold"):
        assert f">{legend}<" in performance


def test_alert_and_quality_tables_show_utc_times_and_states(rendered: tuple[str, float]) -> None:
    html, _ = rendered
    alerts = html.split('<section id="alerts">', 1)[1]
    assert "2024-05-01T01:00:00Z" in alerts
    assert '<td class="drift-yes">firing</td>' in alerts
    assert '<td class="drift-no">resolved</td>' in alerts
    quality = html.split('<section id="quality">', 1)[1].split("</section>", 1)[0]
    assert "missing rate rose from 1 % to 20 %" in quality


def test_large_report_renders_within_budget(rendered: tuple[str, float]) -> None:
    # 25 columns and 1,000 points per signal must render in under 5 s; CPU time keeps the check
    # independent of other processes on a shared machine.
    html, cpu_s = rendered
    assert cpu_s < 5.0
    assert len(html) < 1_500_000


def test_empty_columns_say_there_is_nothing_to_show() -> None:
    html = render_html({"title": "empty", "columns": []})
    assert "Nothing to show: this report has no monitored columns." in html
    assert "<svg" not in html
    assert "No drift timeline in this report." in html
    assert "No alert events." in html


def test_empty_window_and_all_nan_series_render_without_warnings() -> None:
    report: dict[str, Any] = {
        "title": "quiet",
        "columns": [
            {
                "name": "x",
                "kind": "numeric",
                "bins": [0.0, 1.0, 2.0],
                "reference_counts": [3, 4],
                "current_counts": [0, 0],
            }
        ],
        "timeline": {"psi": {"x": [[START_MS, math.nan], [START_MS + HOUR_MS, None]]}},
        "performance": {"estimated_accuracy": [[START_MS, math.inf, None, None]]},
    }
    html = render_html(report)
    assert html.count("<svg") == 1
    assert html.count("No finite values to plot.") == 2


def test_many_categories_are_capped_with_a_rest_bar() -> None:
    n = MAX_CATEGORIES + 10
    column = {
        "name": "city",
        "kind": "categorical",
        "categories": [f"city_{i}" for i in range(n)],
        "reference_counts": list(range(1, n + 1)),
        "current_counts": [2 * i for i in range(1, n + 1)],
    }
    svg = distribution_svg(column, "c")
    assert svg is not None
    assert f">{REST_LABEL}<" in svg
    assert ">city_29<" in svg  # the heaviest reference category is kept
    assert ">city_0<" not in svg  # a light one is summed into the rest
    html = render_html({"title": "t", "columns": [column]})
    assert f"19 largest of {n} categories" in html


def test_dollar_signs_print_as_text_not_mathtext() -> None:
    column = {
        "name": "$price",
        "kind": "categorical",
        "categories": ["$a$", "_hidden"],
        "reference_counts": [1, 2],
        "current_counts": [2, 1],
    }
    svg = distribution_svg(column, "c")
    assert svg is not None
    assert ">$a$<" in svg


@settings(max_examples=30, deadline=None)
@given(
    name=st.text(min_size=1, max_size=30),
    statistic=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_any_column_name_and_statistic_render_escaped(name: str, statistic: float | None) -> None:
    report = {
        "title": "t",
        "subtitle": name,
        "columns": [{"name": name, "kind": "numeric", "statistic": statistic}],
    }
    html = render_html(report)
    assert f'<a href="#column-0">{escape(name)}</a>' in html
    assert "<script" not in html.lower()
    if statistic is None or not np.isfinite(statistic):
        assert '<td class="num">—</td>' in html
