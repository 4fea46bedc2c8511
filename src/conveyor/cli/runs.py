"""``conveyor runs``: list (search), show, delete, restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from conveyor.cli.output import console, fmt_number, fmt_time, print_json, table
from conveyor.errors import InvalidArgumentError

if TYPE_CHECKING:
    from rich.table import Table

    from conveyor.tracking import Client, Run

app = typer.Typer(
    help="Runs: params, metrics, tags and artifacts of one training.", no_args_is_help=True
)

MAX_PARAM_COLUMNS = 6
MAX_METRIC_COLUMNS = 6


def _client() -> Client:
    from conveyor.tracking.client import open_client

    return open_client()


def _experiment_id(client: Client, experiment: str) -> str:
    from conveyor.errors import NotFoundError

    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    if experiment.isdigit():
        return client.get_experiment(experiment).experiment_id
    msg = f"no experiment named {experiment!r}; see `conveyor experiments list`"
    raise NotFoundError(msg, field="experiment")


def runs_table(
    runs: list[Run],
    *,
    param_keys: list[str] | None = None,
    metric_keys: list[str] | None = None,
) -> Table:
    """Render runs with up to six param and six metric columns (or the ones asked for)."""
    if param_keys is None:
        param_keys = sorted({k for r in runs for k in r.params})[:MAX_PARAM_COLUMNS]
    if metric_keys is None:
        metric_keys = sorted({k for r in runs for k in r.metrics if not k.startswith("system/")})[
            :MAX_METRIC_COLUMNS
        ]
    t = table(
        f"{len(runs)} runs",
        [
            "run_id",
            "name",
            "status",
            "started",
            *[f"params.{k}" for k in param_keys],
            *[f"metrics.{k}" for k in metric_keys],
        ],
    )
    for r in runs:
        t.add_row(
            r.run_id,
            r.info.run_name,
            r.info.status.value,
            fmt_time(r.info.start_time),
            *[r.params.get(k, "") for k in param_keys],
            *[fmt_number(r.metrics[k].value) if k in r.metrics else "" for k in metric_keys],
        )
    return t


@app.command("list")
def list_(
    experiment: str = typer.Option("Default", "--experiment", "-e", help="Experiment name or id."),
    filter_: str = typer.Option(None, "--filter", "-f", help='e.g. "metrics.loss < 0.2"'),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help="e.g. metrics.loss DESC"),
    max_results: int = typer.Option(100, "--max-results", "-n", help="Rows to show."),
    all_: bool = typer.Option(False, "--all", help="Include deleted runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Search an experiment's runs with MLflow's filter grammar."""
    from conveyor.tracking import ViewType

    client = _client()
    page = client.search_runs(
        [_experiment_id(client, experiment)],
        filter_string=filter_,
        order_by=order_by or None,
        max_results=max_results,
        view_type=ViewType.ALL if all_ else ViewType.ACTIVE_ONLY,
    )
    if as_json:
        print_json(page.runs)
        return
    console.print(runs_table(page.runs))
    if page.next_page_token:
        console.print(f"[dim]more runs match; raise --max-results (now {max_results})[/dim]")


@app.command()
def show(
    run_id: str = typer.Argument(..., help="Run id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one run: attributes, params, latest metrics, tags and artifacts."""
    client = _client()
    run = client.get_run(run_id)
    if as_json:
        print_json(run)
        return
    info = run.info
    console.print(f"[bold]{info.run_name}[/bold]  {info.run_id}  ({info.status.value})")
    console.print(
        f"experiment {info.experiment_id} · started {fmt_time(info.start_time)} · "
        f"ended {fmt_time(info.end_time)} · user {info.user_id}"
    )
    for title, rows in (
        ("params", sorted(run.params.items())),
        (
            "metrics (latest)",
            sorted((k, f"{fmt_number(m.value)} @ step {m.step}") for k, m in run.metrics.items()),
        ),
        ("tags", sorted(run.tags.items())),
    ):
        t = table(title, ["key", "value"])
        for key, value in rows:
            t.add_row(key, value)
        console.print(t)
    files = client.list_artifacts(run_id)
    if files:
        t = table("artifacts", ["path", "size"])
        for f in files:
            t.add_row(f.path + ("/" if f.is_dir else ""), "" if f.is_dir else str(f.file_size))
        console.print(t)


@app.command()
def delete(run_id: str = typer.Argument(..., help="Run id.")) -> None:
    """Move a run to the trash (restorable)."""
    _client().delete_run(run_id)
    console.print(f"deleted run {run_id}")


@app.command()
def restore(run_id: str = typer.Argument(..., help="Run id.")) -> None:
    """Bring a deleted run back."""
    _client().restore_run(run_id)
    console.print(f"restored run {run_id}")


@app.command()
def upload(
    run_id: str = typer.Argument(..., help="Run id."),
    path: Path = typer.Argument(..., help="File or directory to upload."),
    artifact_path: str = typer.Option("", "--artifact-path", "-a", help="Folder in the run."),
) -> None:
    """Upload a file or a directory to a run's artifacts, with a progress bar."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    if not path.exists():
        msg = f"no file or directory at {str(path)!r}"
        raise InvalidArgumentError(msg, field="path")
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    total = sum(f.stat().st_size for f in files)
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"uploading {path.name}", total=total)
        _client().log_artifact(
            run_id, path, artifact_path, progress=lambda n: progress.advance(task, n)
        )
    console.print(f"uploaded {len(files)} file(s), {total} bytes, to run {run_id}")


@app.command()
def artifacts(
    run_id: str = typer.Argument(..., help="Run id."),
    path: str = typer.Argument("", help="Folder inside the run's artifacts."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a folder of a run's artifacts."""
    files = _client().list_artifacts(run_id, path)
    if as_json:
        print_json(files)
        return
    t = table(f"artifacts of {run_id}/{path}".rstrip("/"), ["path", "size"])
    for f in files:
        t.add_row(f.path + ("/" if f.is_dir else ""), "" if f.is_dir else str(f.file_size))
    console.print(t)


@app.command()
def download(
    run_id: str = typer.Argument(..., help="Run id."),
    path: str = typer.Argument(..., help="Artifact file inside the run."),
    dst: Path = typer.Option(Path(), "--dst", "-d", help="Directory or file to write."),
) -> None:
    """Download one artifact file."""
    out = _client().download_artifact(run_id, path, dst)
    console.print(f"wrote {out}")
