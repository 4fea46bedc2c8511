"""``conveyor experiments``: list, create, delete, restore."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from conveyor.cli.output import console, fmt_time, print_json, table

if TYPE_CHECKING:
    from conveyor.tracking import Client

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


def _client() -> Client:
    from conveyor.tracking.client import open_client

    return open_client()


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include deleted experiments."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List experiments, newest first."""
    from conveyor.tracking import ViewType

    view = ViewType.ALL if all_ else ViewType.ACTIVE_ONLY
    experiments = _client().list_experiments(view_type=view)
    if as_json:
        print_json(experiments)
        return
    t = table("Experiments", ["id", "name", "stage", "created"])
    for e in experiments:
        t.add_row(e.experiment_id, e.name, e.lifecycle_stage.value, fmt_time(e.creation_time))
    console.print(t)


@app.command()
def create(name: str = typer.Argument(..., help="Experiment name.")) -> None:
    """Create an experiment."""
    e = _client().create_experiment(name)
    console.print(f"created experiment {e.name!r} (id {e.experiment_id})")


@app.command()
def delete(experiment_id: str = typer.Argument(..., help="Experiment id.")) -> None:
    """Move an experiment to the trash (restorable)."""
    _client().delete_experiment(experiment_id)
    console.print(f"deleted experiment {experiment_id}")


@app.command()
def restore(experiment_id: str = typer.Argument(..., help="Experiment id.")) -> None:
    """Bring a deleted experiment back."""
    _client().restore_experiment(experiment_id)
    console.print(f"restored experiment {experiment_id}")
