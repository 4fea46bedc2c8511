"""Self-contained HTML and JSON monitoring reports.

``conveyor monitor report`` / ``conveyor monitor compare`` and the server build a plain,
JSON-ready dict and hand it here; this module knows nothing of statistics or storage. The HTML is
one file: inline CSS, matplotlib figures as inline SVG, no script and no network reference, and a
Content-Security-Policy that forbids loading anything should a viewer try.

The report dict (every key optional except ``title``; lists may be empty; numbers may be
``None``, NaN or inf, shown as "—" and left out of plots; times are epoch milliseconds)::

    {
      "title": str, "subtitle": str, "generated_at_ms": int,
      "summary": {"reference_rows", "current_rows", "drift_share", "drifted_columns",
                  "columns", "alerts"},
      "columns": [{"name": str, "kind": "numeric" | "categorical", "role", "stattest",
                   "statistic", "p_value", "threshold", "drifted", "psi", "js",
                   "bins": [edge, ...] (numeric, one more than counts)
                   | "categories": [label, ...] (categorical, one per count),
                   "reference_counts": [...], "current_counts": [...]}],
      "timeline": {signal: {label: [[time_ms, value], ...]}},
      "thresholds": {signal_or_metric: float},
      "performance": {metric: [[time_ms, value], ...],
                      "estimated_" + metric: [[time_ms, value, lower, upper], ...]},
      "quality": [{"column", "kind", "message", "value", "reference"}],
      "alerts": [{"at", "rule", "label", "state", "value", "threshold"}],
    }
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import orjson

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.report_format import format_time
from conveyor.monitoring.report_html import SECTIONS
from conveyor.monitoring.report_validation import validate_report

_CSS = """
:root{--ink:#1f2933;--muted:#6b7785;--line:#e3e6ea;--bg:#f7f8fa;--bad:#c0392b;--good:#1e8449}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:20px 32px}
header h1{margin:0;font-size:22px}
.subtitle{margin:4px 0 0;color:var(--muted)}
.meta{margin:4px 0 0;color:var(--muted);font-size:12px}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid var(--line);font-size:13px}
nav a{margin-right:16px;color:var(--ink);text-decoration:none}
main{padding:8px 32px 32px;max-width:1400px}
section{margin-top:24px}
h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:12px 0 4px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;
min-width:150px}
.card .value{font-size:20px;font-weight:600}
.card .label{color:var(--muted);font-size:12px}
.card.alert .value{color:var(--bad)}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);width:100%;
font-size:13px}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.drift-yes{color:#fff;background:var(--bad);font-weight:600}
td.drift-no{color:var(--good)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
figure,.plot{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;
padding:8px 12px;margin-bottom:12px}
figcaption{font-weight:600;overflow-wrap:anywhere}
.muted{color:var(--muted);font-weight:400}
svg{max-width:100%;height:auto;display:block}
.note{color:var(--muted);font-style:italic}
footer{padding:16px 32px;color:var(--muted);font-size:12px}
"""
# Nothing may be fetched: no script at all, styles only inline, images only as data: URIs.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _header(report: Mapping[str, Any]) -> str:
    parts = [f"<h1>{escape(report['title'])}</h1>"]
    if report.get("subtitle"):
        parts.append(f'<p class="subtitle">{escape(report["subtitle"])}</p>')
    if report.get("generated_at_ms") is not None:
        generated = format_time(report["generated_at_ms"])
        parts.append(f'<p class="meta">Generated {escape(generated)}</p>')
    return f"<header>{''.join(parts)}</header>"


def render_html(report: Mapping[str, Any]) -> str:
    """Render a monitoring report as one self-contained HTML5 document.

    Args:
        report: the report dict described in this module's docstring.

    Returns:
        The HTML text: inline CSS and inline SVG figures, no script, no external reference.

    Raises:
        InvalidArgumentError: when the dict is malformed, naming the field.
    """
    validate_report(report)
    nav = "".join(f'<a href="#{anchor}">{escape(label)}</a>' for anchor, label, _ in SECTIONS)
    body = "".join(render(report) for _, _, render in SECTIONS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{escape(report['title'])}</title><style>{_CSS}</style></head><body>"
        f"{_header(report)}<nav>{nav}</nav><main>{body}</main>"
        "<footer>Conveyor monitoring report</footer></body></html>\n"
    )


def _json_default(value: object) -> object:
    # orjson handles dict, list, tuple, numbers and NumPy; other mappings and sequences (a
    # MappingProxyType, a pandas Index) are converted to their plain forms.
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    msg = f"monitoring report: cannot write a {type(value).__name__} to JSON"
    raise TypeError(msg)


def report_json(report: Mapping[str, Any]) -> bytes:
    """Serialise a report as indented JSON; NaN and inf become ``null``.

    Raises:
        InvalidArgumentError: when the dict is malformed or holds a value JSON cannot carry.
    """
    validate_report(report)
    try:
        return orjson.dumps(
            report,
            default=_json_default,
            option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        )
    except TypeError as exc:
        msg = f"{exc}; pass only strings, numbers, booleans, None, lists and dicts"
        raise InvalidArgumentError(msg, field="report") from exc


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, then rename over ``path``.

    A reader (or a crash) therefore sees the old file or the whole new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(
    report: Mapping[str, Any], html_path: str | Path | None, json_path: str | Path | None
) -> None:
    """Write the report as HTML, JSON or both, each file atomically.

    Both documents are built before either file is written, so a malformed report leaves the
    disk untouched.

    Args:
        report: the report dict described in this module's docstring.
        html_path: where to write the HTML, or ``None`` to skip it.
        json_path: where to write the JSON, or ``None`` to skip it.

    Raises:
        InvalidArgumentError: when both paths are ``None`` or the dict is malformed.
    """
    if html_path is None and json_path is None:
        msg = "monitoring report: no output path given; pass html_path, json_path or both"
        raise InvalidArgumentError(msg, field="html_path")
    outputs: list[tuple[Path, bytes]] = []
    if json_path is not None:
        outputs.append((Path(json_path), report_json(report)))
    if html_path is not None:
        outputs.append((Path(html_path), render_html(report).encode()))
    for path, data in outputs:
        _write_atomically(path, data)


__all__ = ["render_html", "report_json", "validate_report", "write_report"]
