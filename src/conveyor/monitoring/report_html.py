"""HTML sections of a monitoring report: summary, drift table, plots, quality and alert tables.

Every piece of text from the report (column names, categories, labels, messages) is user data and
goes through ``html.escape``; the figures come from ``report_plots`` as inline SVG, whose text
matplotlib escapes itself. Each section says so in words when it has nothing to show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from conveyor.monitoring.report_format import (
    MISSING,
    finite,
    format_number,
    format_share,
    format_time,
)
from conveyor.monitoring.report_plots import (
    MAX_CATEGORIES,
    REST_LABEL,
    distribution_svg,
    performance_svg,
    timeline_svg,
)

_ESTIMATED = "estimated_"
_BAD_STATES = frozenset({"alerting", "fired", "firing", "open", "triggered"})
_GOOD_STATES = frozenset({"closed", "ok", "resolved"})
_SUMMARY_LABELS = {
    "reference_rows": "Reference rows",
    "current_rows": "Current rows",
    "drifted_columns": "Drifted columns",
    "drift_share": "Drift share",
    "alerts": "Alerts",
}


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Build a table; ``rows`` hold cells that are already ``<td>`` elements."""
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f"<td{klass}>{escape(text)}</td>"


def _number_cell(value: object) -> str:
    return _cell(format_number(value), "num")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def _summary_values(report: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the given summary over what the columns and alerts lists imply."""
    columns = report.get("columns") or []
    drifted = sum(1 for column in columns if column.get("drifted") is True)
    derived: dict[str, Any] = {
        "columns": len(columns),
        "drifted_columns": drifted,
        "drift_share": drifted / len(columns) if columns else None,
        "alerts": len(report.get("alerts") or []),
    }
    return {**derived, **(report.get("summary") or {})}


def summary_section(report: Mapping[str, Any]) -> str:
    """Render the summary cards: rows, drifted columns, drift share, alerts."""
    values = _summary_values(report)
    cards = []
    for key, value in values.items():
        if key == "columns":
            continue
        text = format_share(value) if key == "drift_share" else format_number(value)
        if key == "drifted_columns" and finite(values.get("columns")) is not None:
            text = f"{text} of {format_number(values['columns'])}"
        css = " alert" if key == "alerts" and (finite(value) or 0) > 0 else ""
        label = _SUMMARY_LABELS.get(key, key.replace("_", " ").capitalize())
        cards.append(
            f'<div class="card{css}"><div class="value">{escape(text)}</div>'
            f'<div class="label">{escape(label)}</div></div>'
        )
    return _section("summary", "Summary", f'<div class="cards">{"".join(cards)}</div>')


def _drifted_cell(drifted: object) -> str:
    if drifted is True:
        return _cell("yes", "drift-yes")
    if drifted is False:
        return _cell("no", "drift-no")
    return _cell(MISSING)


def drift_section(columns: Sequence[Mapping[str, Any]]) -> str:
    """Render the per-column drift table, each name linking to its distribution plot."""
    if not columns:
        return _section("drift", "Drift by column", _note(_NOTHING))
    headers = ["Column", "Kind", "Role", "Test", "Statistic", "p-value", "Threshold"]
    headers += ["PSI", "JS", "Drifted"]
    rows = []
    for i, column in enumerate(columns):
        name = f'<td><a href="#column-{i}">{escape(column["name"])}</a></td>'
        texts = [_cell(column.get(key) or MISSING) for key in ("kind", "role", "stattest")]
        numbers = [
            _number_cell(column.get(key))
            for key in ("statistic", "p_value", "threshold", "psi", "js")
        ]
        rows.append([name, *texts, *numbers, _drifted_cell(column.get("drifted"))])
    return _section("drift", "Drift by column", _table(headers, rows))


def _caption(column: Mapping[str, Any]) -> str:
    caption = escape(column["name"])
    categories = column.get("categories")
    if categories is not None and len(categories) > MAX_CATEGORIES:
        shown = MAX_CATEGORIES - 1
        extra = f"{shown} largest of {len(categories)} categories; the others are in {REST_LABEL}"
        caption += f' <span class="muted">({escape(extra)})</span>'
    return caption


def distributions_section(columns: Sequence[Mapping[str, Any]]) -> str:
    """Render one reference-vs-current share plot per column."""
    if not columns:
        return _section("distributions", "Distributions", _note(_NOTHING))
    figures = []
    for i, column in enumerate(columns):
        svg = distribution_svg(column, f"column-{i}-plot")
        plot = svg if svg is not None else _note("No bin counts were recorded for this column.")
        figures.append(
            f'<figure id="column-{i}"><figcaption>{_caption(column)}</figcaption>{plot}</figure>'
        )
    return _section("distributions", "Distributions", f'<div class="grid">{"".join(figures)}</div>')


def _threshold(thresholds: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = finite(thresholds.get(key))
        if value is not None:
            return value
    return None


def _plot_block(anchor: str, title: str, svg: str | None) -> str:
    plot = svg if svg is not None else _note("No finite values to plot.")
    return f'<div class="plot" id="{anchor}"><h3>{escape(title)}</h3>{plot}</div>'


def timeline_section(report: Mapping[str, Any]) -> str:
    """Render one line chart per drift signal, with its threshold as a dashed line."""
    timeline = report.get("timeline") or {}
    thresholds = report.get("thresholds") or {}
    if not timeline:
        return _section("timeline", "Drift over time", _note("No drift timeline in this report."))
    blocks = [
        _plot_block(
            f"timeline-{i}",
            signal,
            timeline_svg(series, _threshold(thresholds, signal), f"timeline-{i}-plot"),
        )
        for i, (signal, series) in enumerate(timeline.items())
    ]
    return _section("timeline", "Drift over time", "".join(blocks))


def _metric_pairs(performance: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Pair each realized metric with its ``estimated_`` twin, keeping first-seen order."""
    pairs: dict[str, dict[str, Any]] = {}
    for key, points in performance.items():
        is_estimate = key.startswith(_ESTIMATED)
        base = key.removeprefix(_ESTIMATED) if is_estimate else key
        pairs.setdefault(base, {})["estimated" if is_estimate else "realized"] = points
    return pairs


def performance_section(report: Mapping[str, Any]) -> str:
    """Render estimated vs realized performance per metric over time."""
    performance = report.get("performance") or {}
    thresholds = report.get("thresholds") or {}
    if not performance:
        return _section("performance", "Performance", _note("No performance in this report."))
    blocks = []
    for i, (metric, pair) in enumerate(_metric_pairs(performance).items()):
        threshold = _threshold(thresholds, metric, _ESTIMATED + metric)
        svg = performance_svg(
            pair.get("realized"), pair.get("estimated"), threshold, f"performance-{i}-plot"
        )
        blocks.append(_plot_block(f"performance-{i}", metric, svg))
    return _section("performance", "Performance", "".join(blocks))


def quality_section(findings: Sequence[Mapping[str, Any]]) -> str:
    """Render the data-quality findings table."""
    if not findings:
        return _section("quality", "Data quality", _note("No data-quality findings."))
    headers = ["Column", "Finding", "Message", "Value", "Reference"]
    rows = [
        [
            *(_cell(row.get(key) or MISSING) for key in ("column", "kind", "message")),
            _number_cell(row.get("value")),
            _number_cell(row.get("reference")),
        ]
        for row in findings
    ]
    return _section("quality", "Data quality", _table(headers, rows))


def _state_cell(state: str | None) -> str:
    text = state or MISSING
    lowered = text.lower()
    css = "drift-yes" if lowered in _BAD_STATES else "drift-no" if lowered in _GOOD_STATES else ""
    return _cell(text, css)


def alerts_section(alerts: Sequence[Mapping[str, Any]]) -> str:
    """Render the alert events table."""
    if not alerts:
        return _section("alerts", "Alerts", _note("No alert events."))
    headers = ["Time (UTC)", "Rule", "Label", "State", "Value", "Threshold"]
    rows = [
        [
            _cell(format_time(alert.get("at"))),
            *(_cell(alert.get(key) or MISSING) for key in ("rule", "label")),
            _state_cell(alert.get("state")),
            _number_cell(alert.get("value")),
            _number_cell(alert.get("threshold")),
        ]
        for alert in alerts
    ]
    return _section("alerts", "Alerts", _table(headers, rows))


_NOTHING = "Nothing to show: this report has no monitored columns."

SECTIONS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("summary", "Summary", summary_section),
    ("drift", "Drift", lambda report: drift_section(report.get("columns") or [])),
    ("distributions", "Distributions", lambda r: distributions_section(r.get("columns") or [])),
    ("timeline", "Over time", timeline_section),
    ("performance", "Performance", performance_section),
    ("quality", "Data quality", lambda report: quality_section(report.get("quality") or [])),
    ("alerts", "Alerts", lambda report: alerts_section(report.get("alerts") or [])),
)
