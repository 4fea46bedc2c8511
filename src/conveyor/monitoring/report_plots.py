"""Matplotlib figures of a monitoring report, rendered as inline SVG strings.

Figures are built with the object-oriented ``matplotlib.figure.Figure`` API and never through
``pyplot``, so no global figure manager, GUI backend or interactive state is touched and nothing
leaks between reports or threads. Every setting lives in one ``rc_context``: text stays text in
the SVG (``svg.fonttype = none``, smaller and searchable), mathtext is off (a ``$`` in a column
name must print as a dollar, not fail to parse), and paths are simplified so a 1,000-point
timeline stays a few kilobytes.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from conveyor.monitoring.report_format import finite

# At most this many categories are drawn; the smallest of the rest are summed into one bar.
MAX_CATEGORIES = 20
REST_LABEL = "(rest)"
_REFERENCE_COLOR = "#7a8ca3"
_CURRENT_COLOR = "#e07b39"
_THRESHOLD_COLOR = "#c0392b"
_DISTRIBUTION_SIZE_IN = (5.2, 2.6)
_SERIES_SIZE_IN = (9.0, 2.9)
_LABEL_CHARS = 16
# Typed loosely: matplotlib types rc keys as a Literal union that a plain dict literal cannot meet.
_RC: dict[Any, Any] = {
    # Date axes in UTC with matplotlib's concise tick labels ("May", "08", "2024-Jun").
    "date.converter": "concise",
    "timezone": "UTC",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "path.simplify": True,
    "path.simplify_threshold": 0.5,
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
# Matplotlib's SVG metadata names its creator and date; dropping them removes the only links to
# outside resources (RDF namespaces) and keeps the output reproducible.
_NO_METADATA: dict[str, Any] = {"Creator": None, "Date": None, "Format": None, "Type": None}
_TAG = re.compile(r"<[^>]*>")
_ID_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)')


def _scope_ids(svg: str, prefix: str) -> str:
    """Prefix every id and id reference so several SVGs can live in one HTML document.

    Only tags are rewritten: matplotlib escapes ``<`` and ``>`` in text, so a label that reads
    ``id="x"`` is text content and stays as written.
    """
    return _TAG.sub(lambda tag: _ID_REFERENCE.sub(rf"\g<1>{prefix}-", tag.group(0)), svg)


def _to_svg(figure: Figure, figure_id: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    # The XML prolog and DOCTYPE are not allowed inside HTML; the document starts at <svg.
    return _scope_ids(text[text.index("<svg") :], figure_id)


def _new_figure(size_in: tuple[float, float]) -> Figure:
    # Fixed margins instead of constrained layout: the layout pass costs a full extra draw and
    # doubled the render time of a 25-column report.
    return Figure(figsize=size_in)


def _shares(counts: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = np.asarray([float(c) for c in counts], dtype=np.float64)
    total = float(values.sum())
    # An empty window has no distribution; zeros draw as no bars instead of a 0/0 warning.
    return values / total if total > 0 else np.zeros_like(values)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _edge_text(value: float) -> str:
    return f"{value:.3g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Name each numeric bin by its edges; open-ended outer bins read ``< x`` and ``≥ x``.

    Examples:
        >>> bin_labels([float("-inf"), 0.5, 2.0, float("inf")])
        ['< 0.5', '0.5 to 2', '≥ 2']
    """
    labels = []
    for low, high in itertools.pairwise(edges):
        if low == float("-inf"):
            labels.append(f"< {_edge_text(high)}")
        elif high == float("inf"):
            labels.append(f"≥ {_edge_text(low)}")
        else:
            labels.append(f"{_edge_text(low)} to {_edge_text(high)}")
    return labels


def _top_categories(
    labels: list[str], reference: np.ndarray[Any, Any], current: np.ndarray[Any, Any]
) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    if len(labels) <= MAX_CATEGORIES:
        return labels, reference, current
    # Keep the categories that weigh most in either sample: those are the ones that can drift.
    order = np.argsort(-np.maximum(reference, current), kind="stable")
    keep, rest = order[: MAX_CATEGORIES - 1], order[MAX_CATEGORIES - 1 :]
    kept = [labels[i] for i in keep] + [REST_LABEL]
    return (
        kept,
        np.append(reference[keep], reference[rest].sum()),
        np.append(current[keep], current[rest].sum()),
    )


def distribution_svg(column: Mapping[str, Any], figure_id: str) -> str | None:
    """Draw reference and current bin (or category) shares of one column side by side.

    Returns ``None`` when the column carries no counts to draw.
    """
    if column.get("reference_counts") is None or column.get("current_counts") is None:
        return None
    reference = _shares(column["reference_counts"])
    current = _shares(column["current_counts"])
    if column["kind"] == "numeric":
        labels = bin_labels([float(edge) for edge in column["bins"]])
    else:
        labels, reference, current = _top_categories(list(column["categories"]), reference, current)
    if not labels:
        return None
    with mpl.rc_context(_RC):
        figure = _new_figure(_DISTRIBUTION_SIZE_IN)
        axes = figure.add_subplot()
        positions = np.arange(len(labels), dtype=np.float64)
        axes.bar(positions - 0.2, reference, 0.4, color=_REFERENCE_COLOR, label="reference")
        axes.bar(positions + 0.2, current, 0.4, color=_CURRENT_COLOR, label="current")
        rotation = 40 if len(labels) > 6 else 0
        axes.set_xticks(positions, [_short(label) for label in labels], rotation=rotation)
        if rotation:
            for tick in axes.get_xticklabels():
                tick.set_horizontalalignment("right")
        figure.subplots_adjust(left=0.12, right=0.98, top=0.95, bottom=0.34 if rotation else 0.14)
        axes.set_ylabel("share of rows")
        axes.grid(visible=False, axis="x")
        axes.legend(loc="upper right", fontsize=7)
        return _to_svg(figure, figure_id)


def _points(
    points: Sequence[Sequence[Any]],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Keep the points whose value is finite, as (datetime64 times, values)."""
    kept = [(int(p[0]), v) for p in points if (v := finite(p[1])) is not None]
    times = np.asarray([t for t, _ in kept], dtype="datetime64[ms]")
    return times, np.asarray([v for _, v in kept], dtype=np.float64)


def _band(
    points: Sequence[Sequence[Any]],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Keep the points that carry a finite confidence band ``[t, v, lower, upper]``."""
    kept = [
        (int(p[0]), low, high)
        for p in points
        if len(p) == 4 and (low := finite(p[2])) is not None and (high := finite(p[3])) is not None
    ]
    times = np.asarray([t for t, _, _ in kept], dtype="datetime64[ms]")
    lows = np.asarray([low for _, low, _ in kept], dtype=np.float64)
    highs = np.asarray([high for _, _, high in kept], dtype=np.float64)
    return times, lows, highs


def _finish_series_axes(figure: Figure, axes: Any, threshold: float | None, n_lines: int) -> None:
    if threshold is not None:
        axes.axhline(
            threshold, color=_THRESHOLD_COLOR, linestyle="--", linewidth=1, label="threshold"
        )
    columns = 1 + (n_lines + 1) // 14
    if n_lines > 1 or threshold is not None:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, ncols=columns)
    # The legend sits right of the axes; leave it room (about 1.3 inches per legend column).
    right = 0.98 - (0.15 * columns if n_lines > 1 or threshold is not None else 0)
    figure.subplots_adjust(left=0.07, right=right, top=0.94, bottom=0.13)


def _legend_label(label: str) -> str:
    # Matplotlib hides legend entries whose label starts with "_"; a zero-width space keeps them.
    return "\u200b" + label if label.startswith("_") else _short(label)


def timeline_svg(
    series: Mapping[str, Sequence[Sequence[Any]]], threshold: float | None, figure_id: str
) -> str | None:
    """Draw one signal over time, a line per label, with its alert threshold when known.

    Returns ``None`` when no label has a finite value to draw.
    """
    lines = {label: _points(points) for label, points in series.items()}
    lines = {label: xy for label, xy in lines.items() if xy[0].size}
    if not lines:
        return None
    with mpl.rc_context(_RC):
        figure = _new_figure(_SERIES_SIZE_IN)
        axes = figure.add_subplot()
        if len(lines) > 10:
            axes.set_prop_cycle(color=[mpl.colormaps["tab20"](i % 20) for i in range(20)])
        for label, (times, values) in lines.items():
            axes.plot(times, values, linewidth=1.2, label=_legend_label(label or "overall"))
        _finish_series_axes(figure, axes, threshold, len(lines))
        return _to_svg(figure, figure_id)


def performance_svg(
    realized: Sequence[Sequence[Any]] | None,
    estimated: Sequence[Sequence[Any]] | None,
    threshold: float | None,
    figure_id: str,
) -> str | None:
    """Draw realized and estimated values of one metric per window, with the estimate's band.

    Returns ``None`` when neither series has a finite value to draw.
    """
    realized_xy = _points([] if realized is None else realized)
    estimated_xy = _points([] if estimated is None else estimated)
    if not realized_xy[0].size and not estimated_xy[0].size:
        return None
    with mpl.rc_context(_RC):
        figure = _new_figure(_SERIES_SIZE_IN)
        axes = figure.add_subplot()
        band_times, lows, highs = _band([] if estimated is None else estimated)
        if band_times.size:
            axes.fill_between(
                band_times,
                lows,
                highs,
                color=_CURRENT_COLOR,
                alpha=0.2,
                linewidth=0,
                label="confidence band",
            )
        n_lines = 0
        if estimated_xy[0].size:
            axes.plot(*estimated_xy, color=_CURRENT_COLOR, linewidth=1.2, label="estimated")
            n_lines += 1
        if realized_xy[0].size:
            axes.plot(*realized_xy, color="#2c3e50", linewidth=1.2, label="realized")
            n_lines += 1
        _finish_series_axes(figure, axes, threshold, n_lines + int(band_times.size > 0))
        return _to_svg(figure, figure_id)
