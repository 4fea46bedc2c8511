"""``conveyor data``: log, list, show, diff and download dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from conveyor.cli.output import console, fmt_number, fmt_time, print_json, table

if TYPE_CHECKING:
    from conveyor.data.entities import DatasetDiff, DatasetVersion, StatValue
    from conveyor.tracking import Client

app = typer.Typer(
    help="Dataset versions: snapshots, schemas, profiles, diffs, lineage.", no_args_is_help=True
)

FRAME_SUFFIXES = {".parquet", ".pq", ".csv"}
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")


def _client() -> Client:
    from conveyor.tracking.client import open_client

    return open_client()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover - the loop always returns


def _versions_table(title: str, versions: list[DatasetVersion]) -> None:
    t = table(title, ["version", "created", "kind", "rows", "columns", "size", "digest", "run"])
    for v in versions:
        rows = "-" if v.row_count is None else str(v.row_count)
        t.add_row(
            v.ref, fmt_time(v.created_time), v.kind, rows, str(len(v.columns)),
            _size(v.size_bytes), v.digest[:12], (v.run_id or "-")[:12],
        )  # fmt: skip
    console.print(t)


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """List datasets with their latest version."""
    found = _client().list_datasets()
    if as_json:
        print_json(found)
        return
    t = table("Datasets", ["name", "latest", "versions", "updated", "description"])
    for d in found:
        latest = "-" if d.latest_version is None else str(d.latest_version)
        t.add_row(d.name, latest, str(d.version_count), fmt_time(d.updated_time), d.description)
    console.print(t)


@app.command()
def versions(
    name: str = typer.Argument(..., help="Dataset name."), as_json: bool = JSON_OPTION
) -> None:
    """List a dataset's versions, oldest first."""
    found = _client().list_dataset_versions(name)
    if as_json:
        print_json(found)
        return
    _versions_table(f"Versions of {name}", found)


def _fmt(value: StatValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return fmt_number(value)
    return str(value)


def _column_summary(name: str, dtype: str, stats: dict[str, Any]) -> list[str]:
    if stats.get("kind") == "numeric":
        q = stats.get("quantiles") or {}
        detail = (
            f"mean {_fmt(stats.get('mean'))}  std {_fmt(stats.get('std'))}  "
            f"min {_fmt(stats.get('min'))}  p50 {_fmt(q.get('p50'))}  max {_fmt(stats.get('max'))}"
        )
    elif stats.get("kind") == "categorical":
        detail = ", ".join(f"{e['value']} ({e['count']})" for e in stats.get("top", [])[:5])
    elif stats.get("kind") == "temporal":
        detail = f"{stats.get('min')} .. {stats.get('max')}"
    else:
        detail = ""
    counts = [_fmt(stats.get(k)) for k in ("count", "nulls", "distinct")]
    return [name, dtype, *counts, detail]


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME, NAME@V or data:NAME@V."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a version: schema and profile summary (or its files)."""
    from conveyor.data.refs import parse_ref

    parsed = parse_ref(ref, field="ref")
    client = _client()
    v = client.get_dataset_version(parsed.name, parsed.version)
    profile = client.get_dataset_profile(v.name, v.version)
    if as_json:
        import orjson

        body = {**v.model_dump(mode="json"), "profile": profile}
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    _versions_table(f"Dataset {v.ref}", [v])
    if v.source:
        console.print(f"source: {v.source}", highlight=False)
    if profile is None:
        return
    t = table("Columns", ["column", "type", "count", "nulls", "distinct", "summary"])
    for column, dtype in v.columns.items():
        t.add_row(*_column_summary(column, dtype, profile["columns"].get(column, {})))
    console.print(t)


def _read_frame(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from conveyor.errors import InvalidArgumentError

    try:
        if path.suffix.lower() == ".csv":
            return pacsv.read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        msg = f"cannot read {str(path)!r} as a table ({exc}); pass --files to version the bytes"
        raise InvalidArgumentError(msg, field="path") from exc


@app.command()
def log(
    path: Path = typer.Argument(..., help="A file or directory; .parquet/.csv become frames."),
    *,
    name: str = typer.Option(..., "--name", "-n", help="Dataset name."),
    context: str = typer.Option("training", help="How a run uses it (with --run-id)."),
    run_id: str | None = typer.Option(None, "--run-id", help="Record the run's input edge."),
    description: str | None = typer.Option(None, help="Describe the dataset."),
    files: bool = typer.Option(False, "--files", help="Version a .parquet/.csv as plain bytes."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Log a file or directory as a new version (identical content: the existing one)."""
    from conveyor.errors import InvalidArgumentError

    if not path.exists():
        msg = f"no file or directory at {str(path)!r}"
        raise InvalidArgumentError(msg, field="path")
    client = _client()
    options: dict[str, Any] = {"context": context, "run_id": run_id, "description": description}
    if path.is_file() and path.suffix.lower() in FRAME_SUFFIXES and not files:
        v = client.log_dataset_table(name, _read_frame(path), source=str(path.resolve()), **options)
    else:
        v = client.log_dataset_files(name, path, **options)
    if as_json:
        print_json(v)
        return
    console.print(f"logged {v.ref} ({v.kind}, {_size(v.size_bytes)}, digest {v.digest[:12]})")


def _diff_sides(first: str, second: str | None) -> tuple[str, str | None, str | None]:
    """Turn ``A@2 A@3``, ``A@2..3`` or ``A`` into (name, old, new); None: the default side."""
    from conveyor.data.refs import parse_range, parse_ref

    if second is None:
        span = parse_range(first, field="ref")
        if span is not None:
            return span[0].name, str(span[0].version), str(span[1].version)
        only = parse_ref(first, field="ref")
        return only.name, None, None if only.version is None else str(only.version)
    old, new = parse_ref(first, field="old"), parse_ref(second, field="new")
    return new.name, str(old), None if new.version is None else str(new.version)


def _stat_rows(diff: DatasetDiff) -> list[list[str]]:
    from rich.markup import escape

    rows = []
    for change in diff.stat_changes:
        delta = ""
        if isinstance(change.old, int | float) and isinstance(change.new, int | float):
            delta = f"{change.new - change.old:+.4g}"
        cells = [change.column, change.stat, _fmt(change.old), _fmt(change.new), delta]
        rows.append([escape(c) for c in cells])  # `top[VALUE]` is not Rich markup
    return rows


def _print_diff(diff: DatasetDiff) -> None:
    console.print(f"[bold]{diff.old} -> {diff.new}[/bold]", highlight=False)
    if diff.row_delta is not None:
        console.print(
            f"rows: {diff.old_row_count} -> {diff.new_row_count} ({diff.row_delta:+d})"
            + (
                ""
                if diff.rows_added is None
                else f"; {diff.rows_added} added, {diff.rows_removed} removed"
            ),
            highlight=False,
        )
    for label, names in (
        ("columns added", diff.columns_added),
        ("columns removed", diff.columns_removed),
        ("files added", diff.files_added),
        ("files removed", diff.files_removed),
        ("files changed", diff.files_changed),
    ):
        if names:
            console.print(f"{label}: {', '.join(names)}", highlight=False)
    for change in diff.dtype_changes:
        console.print(f"type of {change.column}: {change.old} -> {change.new}", highlight=False)
    if diff.stat_changes:
        t = table("Column statistics", ["column", "stat", diff.old, diff.new, "delta"])
        for row in _stat_rows(diff):
            t.add_row(*row)
        console.print(t)
    if diff.identical:
        console.print("no differences")


@app.command()
def diff(
    ref: str = typer.Argument(..., help="NAME (last two), NAME@A..B, or the old NAME@A."),
    other: str | None = typer.Argument(None, help="The new NAME@B (default: the latest)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare two versions: rows, schema and per-column statistics."""
    name, old, new = _diff_sides(ref, other)
    result = _client().diff_datasets(name, old, new)
    if as_json:
        print_json(result)
        return
    _print_diff(result)


@app.command()
def download(
    ref: str = typer.Argument(..., help="NAME, NAME@V or data:NAME@V."),
    dst: Path = typer.Argument(..., help="Directory to write into."),
) -> None:
    """Write a version's snapshot: NAME-vN.parquet, or the files of a manifest."""
    from conveyor.data.refs import parse_ref

    parsed = parse_ref(ref, field="ref")
    client = _client()
    v = client.get_dataset_version(parsed.name, parsed.version)
    written = client.download_dataset(v.name, v.version, dst)
    console.print(f"wrote {v.ref} to {written}", highlight=False)


@app.command()
def runs(
    ref: str = typer.Argument(..., help="NAME (any version) or NAME@V."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the runs that consumed a dataset (lineage)."""
    from conveyor.data.refs import parse_ref

    parsed = parse_ref(ref, field="ref")
    found = _client().dataset_runs(parsed.name, parsed.version)
    if as_json:
        print_json(found)
        return
    t = table(f"Runs that used {parsed}", ["run_id", "dataset", "context", "created"])
    for i in found:
        t.add_row(i.run_id, f"{i.dataset}@{i.version}", i.context, fmt_time(i.created_time))
    console.print(t)
