"""``conveyor audit``: read and verify the hash-chained event log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from conveyor.cli.output import console, fmt_time, table

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Audit log: every recorded change, hash-chained.", no_args_is_help=True)


def _engine() -> Engine:
    from conveyor.tracking import Workspace

    return Workspace.from_settings().engine


@app.command()
def verify() -> None:
    """Recompute the chain; exit 1 and name the first entry that does not match."""
    from conveyor.store import events

    result = events.verify(_engine())
    if result.ok:
        console.print(f"audit log intact: {result.checked} entries verified")
        return
    console.print(
        f"[red]audit log tampered:[/red] entry {result.first_bad_seq}: {result.reason} "
        f"({result.checked} entries before it verified)"
    )
    raise typer.Exit(1)


@app.command("log")
def log_(
    subject: str | None = typer.Option(
        None, help="Only this subject, e.g. monitors:/churn (a trailing * matches a prefix)."
    ),
    action: str | None = typer.Option(None, help="Only actions starting with this, e.g. alert."),
    limit: int = typer.Option(100, min=1, max=100_000, help="At most this many entries."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recorded changes, oldest first."""
    from conveyor.store import events

    found = events.list_events(
        _engine(),
        subject=subject,
        action_prefix=action,
        limit=limit,
    )
    if as_json:
        import orjson

        typer.echo(orjson.dumps([e.to_dict() for e in found], option=orjson.OPT_INDENT_2).decode())
        return
    t = table("Audit log", ["seq", "time", "actor", "action", "subject", "hash"])
    for e in found:
        t.add_row(str(e.seq), fmt_time(e.time), e.actor, e.action, e.subject, e.hash[:12])
    console.print(t)


@app.command()
def head() -> None:
    """Print the newest entry's sequence number and hash (keep it elsewhere as an anchor)."""
    from sqlalchemy import select

    from conveyor.store import read, schema

    e = schema.events
    with read(_engine()) as conn:
        row = conn.execute(select(e.c.seq, e.c.hash).order_by(e.c.seq.desc()).limit(1)).first()
    if row is None:
        console.print("the audit log is empty")
        return
    console.print(f"{row.seq} {row.hash}")
