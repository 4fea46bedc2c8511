"""Rendering shared by commands: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

# Scripts and CI have no terminal width; 80 columns would fold run ids in half.
console = Console(width=None if sys.stdout.isatty() else 160)


def print_json(items: BaseModel | Sequence[BaseModel]) -> None:
    """Write models as JSON on stdout."""
    data: object = (
        items.model_dump(mode="json")
        if isinstance(items, BaseModel)
        else [i.model_dump(mode="json") for i in items]
    )
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def fmt_time(ms: int | None) -> str:
    """Format epoch milliseconds as a UTC timestamp."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_number(value: float) -> str:
    """Format a metric value compactly."""
    return f"{value:.6g}"


def table(title: str, columns: Sequence[str]) -> Table:
    """Return an empty table with the house style."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        fixed = column in {"run_id", "started", "created", "status"}
        t.add_column(column, overflow="fold", no_wrap=fixed)
    return t
