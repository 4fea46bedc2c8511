"""The root Typer application and the error boundary."""

from __future__ import annotations

import logging
import os

import click
import typer
from rich.console import Console

from conveyor.cli import (
    audit,
    data,
    deployments,
    experiments,
    identity,
    models,
    monitors,
    quickstart,
    rollout,
    runs,
    serve,
    webhooks,
)
from conveyor.errors import ConveyorError

app = typer.Typer(
    name="conveyor",
    help="Conveyor: track, version, validate, deploy, monitor, retrain, redeploy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(monitors.app, name="monitors")
app.add_typer(audit.app, name="audit")
app.add_typer(identity.users_app, name="users")
app.add_typer(identity.tokens_app, name="tokens")
app.add_typer(identity.projects_app, name="projects")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(deployments.app, name="deployments")
app.add_typer(rollout.app, name="rollout")
app.command("lineage")(models.lineage)
app.add_typer(monitors.app, name="monitor", hidden=True)  # `conveyor monitor report ...` reads well
app.command("server")(serve.server)
app.command("serve")(serve.serve)
app.command("quickstart")(quickstart.quickstart)

err = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from conveyor import __version__

        typer.echo(f"conveyor {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    del version  # handled eagerly by its callback
    if debug:
        os.environ["CONVEYOR_DEBUG"] = "1"
        logging.basicConfig(level=logging.DEBUG)


def run(argv: list[str]) -> int:
    """Run the CLI with ``argv`` and return the exit code."""
    debug = "--debug" in argv or os.environ.get("CONVEYOR_DEBUG") == "1"
    try:
        # Without standalone mode click returns an Exit's code instead of raising it.
        result = app(argv, standalone_mode=False)
    except ConveyorError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    return result if isinstance(result, int) else 0
