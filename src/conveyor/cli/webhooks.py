"""``conveyor webhooks``: subscribe URLs to events, inspect deliveries, run the dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from conveyor.cli.output import console, fmt_time, table

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Webhooks: signed event deliveries with retries.", no_args_is_help=True)


def _engine() -> Engine:
    from conveyor.tracking import Workspace

    return Workspace.from_settings().engine


def _actor() -> str:
    from conveyor.server.auth import local_principal

    return local_principal().name


@app.command("create")
def create(
    url: str = typer.Argument(..., help="Where to POST events."),
    events: list[str] = typer.Option(
        ..., "--event", "-e", help="Action pattern, e.g. 'registry.*' (repeatable)."
    ),
    project: str = typer.Option("default", "--project", help="Whose events."),
    secret: str | None = typer.Option(None, "--secret", help="HMAC key (default: generated)."),
    description: str = typer.Option("", "--description", "-d", help="What it is for."),
) -> None:
    """Subscribe a URL; prints the signing secret once."""
    from conveyor.governance.webhooks import Webhooks

    new = Webhooks(_engine()).create(
        url, events, secret=secret, project=project, description=description, actor=_actor()
    )
    console.print(f"created webhook {new.webhook.webhook_id} -> {url}")
    typer.echo(f"secret: {new.secret}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List webhooks (without secrets)."""
    from conveyor.governance.webhooks import Webhooks

    found = Webhooks(_engine()).list()
    if as_json:
        import orjson

        typer.echo(orjson.dumps([h.to_dict() for h in found], option=orjson.OPT_INDENT_2).decode())
        return
    t = table("Webhooks", ["id", "url", "events", "project", "active", "created"])
    for h in found:
        t.add_row(
            h.webhook_id,
            h.url,
            ", ".join(h.events),
            h.project,
            "yes" if h.active else "no",
            fmt_time(h.created_time),
        )
    console.print(t)


@app.command("delete")
def delete(webhook_id: str = typer.Argument(..., help="The webhook's id.")) -> None:
    """Delete a webhook and its delivery records."""
    from conveyor.governance.webhooks import Webhooks

    Webhooks(_engine()).delete(webhook_id, actor=_actor())
    console.print(f"deleted webhook {webhook_id}")


@app.command("deliveries")
def deliveries(
    webhook_id: str = typer.Argument(..., help="The webhook's id."),
    state: str | None = typer.Option(None, help="pending | delivered | failed"),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many."),
) -> None:
    """Show a webhook's deliveries, newest first."""
    from conveyor.governance.webhooks import Webhooks

    t = table(
        f"Deliveries of {webhook_id}",
        ["id", "event", "state", "attempts", "status", "error", "updated"],
    )
    for d in Webhooks(_engine()).deliveries(webhook_id, state=state, limit=limit):
        t.add_row(
            str(d.delivery_id),
            str(d.event_seq),
            d.state,
            str(d.attempts),
            "" if d.http_status is None else str(d.http_status),
            (d.error or "")[:60],
            fmt_time(d.updated_time),
        )
    console.print(t)


@app.command("test")
def ping(webhook_id: str = typer.Argument(..., help="The webhook's id.")) -> None:
    """Send a signed webhook.ping now; exit 1 if the receiver did not answer 2xx."""
    from conveyor.governance.dispatcher import send_ping

    status, error = send_ping(_engine(), webhook_id, actor=_actor())
    if error is None:
        console.print(f"ping delivered (HTTP {status})")
        return
    console.print(f"[red]ping failed:[/red] {error}")
    raise typer.Exit(1)


@app.command("dispatch")
def dispatch(
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between passes."),
) -> None:
    """Deliver webhooks: record new events' deliveries and send the due ones."""
    import time

    from conveyor.governance.dispatcher import DispatchConfig, Dispatcher
    from conveyor.settings import get_settings

    settings = get_settings()
    dispatcher = Dispatcher(
        _engine(),
        DispatchConfig(
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            backoff_cap_s=settings.webhook_backoff_cap_s,
            timeout_s=settings.webhook_timeout_s,
        ),
    )
    try:
        while True:
            recorded, attempted = dispatcher.run_once()
            if once:
                console.print(f"recorded {recorded} deliveries, attempted {attempted}")
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        dispatcher.stop()
