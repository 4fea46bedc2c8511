"""``conveyor deployments``: named deployments and their traffic (canary, A/B, shadows)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import orjson
import typer

from conveyor.cli.output import console, fmt_time, table

if TYPE_CHECKING:
    from conveyor.serving.client import DeploymentsClient
    from conveyor.serving.deployments import Deployment
    from conveyor.serving.policy import TrafficPolicy

app = typer.Typer(
    help="Deployments: what serving replicas serve, and how traffic is split.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")


def _client() -> DeploymentsClient:
    from conveyor.serving.client import deployments_client
    from conveyor.tracking.client import open_client

    return deployments_client(open_client())


def _json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _show(dep: Deployment) -> None:
    policy = dep.policy
    console.print(
        f"deployment [bold]{dep.name}[/bold] serves {dep.model_uri} "
        f"(revision {dep.revision}, mode {policy.get('mode', 'single')}, project {dep.project})"
    )
    t = table("Routes", ["route", "reference", "version", "weight %"])
    for r in dep.routes:
        t.add_row(r["name"], r["ref"], str(r["version"]), f"{r['weight']:g}")
    console.print(t)
    for s in policy.get("shadows", []):
        console.print(f"  shadow {s['ref']} gets a copy of {s['percent']:g} % of requests")
    if policy.get("sticky"):
        console.print(f"  sticky on {policy['sticky']}")
    b = policy.get("batching") or {}
    if b:
        state = "on" if b.get("enabled", True) else "off"
        size, wait = b["max_batch_size"], b["max_latency_ms"]
        console.print(f"  batching {state}: up to {size} rows, wait ≤ {wait:g} ms")


@app.command()
def create(
    name: str = typer.Argument(..., help="Deployment name (used in URLs)."),
    model: str = typer.Option(
        ..., "--model", "-m", help="models:/NAME@ALIAS (follows the alias) or models:/NAME/VERSION."
    ),
    description: str = typer.Option("", help="What this deployment is for."),
    json_out: bool = _JSON,
) -> None:
    """Create a deployment; serve it with `conveyor serve --deployment NAME`."""
    dep = _client().create(name, model, description=description)
    if json_out:
        _json(dep.model_dump())
        return
    _show(dep)
    console.print(f"serve it: conveyor serve --deployment {name}")


@app.command("list")
def list_(json_out: bool = _JSON) -> None:
    """List deployments."""
    deps = _client().list_deployments()
    if json_out:
        _json({"deployments": [d.model_dump() for d in deps]})
        return
    t = table("Deployments", ["name", "model", "mode", "revision", "updated"])
    for d in deps:
        t.add_row(
            d.name,
            d.model_uri,
            d.policy.get("mode", "single"),
            str(d.revision),
            fmt_time(d.updated_time),
        )
    console.print(t)


@app.command()
def show(name: str = typer.Argument(...), json_out: bool = _JSON) -> None:
    """Show a deployment: routes resolved to versions, replicas, versions served."""
    client = _client()
    dep = client.get(name)
    replicas = client.replicas(name)
    if json_out:
        _json({**dep.model_dump(), **replicas})
        return
    _show(dep)
    t = table("Replicas", ["replica", "host", "pid", "revision", "versions", "heartbeat"])
    for r in replicas["replicas"]:
        versions = ",".join(str(x["version"]) for x in r["routes"])
        t.add_row(
            r["replica_id"],
            r["host"],
            str(r["pid"]),
            str(r["revision"]),
            versions,
            fmt_time(r["heartbeat_time"]),
        )
    console.print(t)
    served = ", ".join(f"v{v['version']} ({v['role']})" for v in replicas["served_versions"])
    console.print(f"versions served so far: {served or '-'}")


def _change(name: str, fn: object) -> None:
    from conveyor.serving.client import change_policy

    dep = change_policy(_client(), name, fn)  # type: ignore[arg-type]
    _show(dep)


@app.command()
def canary(
    name: str = typer.Argument(...),
    to: str = typer.Option(..., "--to", help="Candidate: a version number or @alias."),
    percent: float = typer.Option(..., "--percent", "-p", help="Share of traffic, 0-100."),
    sticky: str | None = typer.Option(
        None, help="Pin callers to a route by a header: header:X-User-Id."
    ),
) -> None:
    """Send PERCENT % of traffic to a candidate version, the rest to the target."""

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.with_canary(to, percent, sticky)

    _change(name, change)


@app.command()
def ab(
    name: str = typer.Argument(...),
    arm: list[str] = typer.Option(
        ..., "--arm", help="NAME=REF:WEIGHT, e.g. --arm a=@production:50 --arm b=8:50."
    ),
    sticky: str | None = typer.Option(None, help="header:X-User-Id keeps users on one arm."),
) -> None:
    """Split traffic between named arms (weights add up to 100)."""
    from conveyor.errors import InvalidArgumentError

    routes = []
    for spec in arm:
        arm_name, _, rest = spec.partition("=")
        ref, _, weight = rest.rpartition(":")
        try:
            routes.append({"name": arm_name, "ref": ref, "weight": float(weight)})
        except ValueError:
            msg = f"--arm must look like NAME=REF:WEIGHT (a=@production:50); got {spec!r}"
            raise InvalidArgumentError(msg, field="arm") from None

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.with_arms(routes, sticky)

    _change(name, change)


@app.command()
def shadow(
    name: str = typer.Argument(...),
    to: str | None = typer.Option(None, "--to", help="Challenger: a version number or @alias."),
    percent: float = typer.Option(100.0, "--percent", "-p", help="Share of requests copied."),
    clear: bool = typer.Option(False, "--clear", help="Stop every shadow."),
) -> None:
    """Copy requests to a challenger; its answers are recorded, never returned."""
    from conveyor.errors import InvalidArgumentError

    if not clear and to is None:
        raise InvalidArgumentError("give --to VERSION (or --clear)", field="to")

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.with_shadows([] if clear else [{"ref": to, "percent": percent}])

    _change(name, change)


@app.command()
def single(name: str = typer.Argument(...)) -> None:
    """End a canary or A/B split: every request to the target again (shadows stay)."""

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.single()

    _change(name, change)


@app.command()
def batching(
    name: str = typer.Argument(...),
    max_batch_size: int | None = typer.Option(None, help="Most rows per model call."),
    max_latency_ms: float | None = typer.Option(None, help="Longest wait for a batch to fill."),
    enabled: bool | None = typer.Option(None, "--on/--off", help="Turn batching on or off."),
) -> None:
    """Change adaptive batching limits."""

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.with_batching(
            max_batch_size=max_batch_size, max_latency_ms=max_latency_ms, enabled=enabled
        )

    _change(name, change)


@app.command()
def target(
    name: str = typer.Argument(...),
    model: str = typer.Argument(..., help="models:/NAME@ALIAS or models:/NAME/VERSION."),
) -> None:
    """Point the primary route at another alias or version of the same model."""
    _show(_client().set_target(name, model))


@app.command()
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a deployment (replicas stop serving it on their next poll)."""
    _client().delete(name)
    console.print(f"deleted deployment {name}")
