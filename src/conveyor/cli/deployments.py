"""``conveyor deployments``: named deployments, their traffic (canary, A/B, shadows), feedback
and experiment reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from conveyor.cli.output import console, fmt_time, table

if TYPE_CHECKING:
    import pandas as pd

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
    if policy.get("auto_promote") and policy.get("mode") == "ab":
        auto = policy["auto_promote"]
        console.print(
            f"  auto-promote: {auto['test']} test, alpha {auto['alpha']:g}, at least "
            f"{auto['min_samples']} outcomes per arm"
        )
    b = policy.get("batching") or {}
    if b:
        state = "on" if b.get("enabled", True) else "off"
        size, wait = b["max_batch_size"], b["max_latency_ms"]
        console.print(f"  batching {state}: up to {size} rows, wait ≤ {wait:g} ms")
    if policy.get("log_sample"):
        console.print(f"  request log: {policy['log_sample']:.2%} of requests")


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
    *,
    arm: list[str] = typer.Option(
        ..., "--arm", help="NAME=REF:WEIGHT, e.g. --arm a=@production:50 --arm b=8:50."
    ),
    sticky: str | None = typer.Option(None, help="header:X-User-Id keeps users on one arm."),
    auto_promote: bool = typer.Option(
        False, "--auto-promote", help="Promote an arm once it significantly beats the others."
    ),
    test: str | None = typer.Option(None, help="Auto-promotion test: sequential, z or welch."),
    alpha: float | None = typer.Option(None, help="Auto-promotion significance level (0.05)."),
    min_samples: int | None = typer.Option(
        None, help="Auto-promotion: outcomes each arm needs first (200)."
    ),
    lower_is_better: bool = typer.Option(
        False, "--lower-is-better", help="Auto-promotion: a smaller outcome wins (a cost)."
    ),
) -> None:
    """Split traffic between named arms (weights add up to 100)."""
    from conveyor.errors import InvalidArgumentError
    from conveyor.serving.policy import TrafficPolicy

    routes = []
    for spec in arm:
        arm_name, _, rest = spec.partition("=")
        ref, _, weight = rest.rpartition(":")
        try:
            routes.append({"name": arm_name, "ref": ref, "weight": float(weight)})
        except ValueError:
            msg = f"--arm must look like NAME=REF:WEIGHT (a=@production:50); got {spec!r}"
            raise InvalidArgumentError(msg, field="arm") from None

    given = {"test": test, "alpha": alpha, "min_samples": min_samples}
    auto: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if lower_is_better:
        auto["higher_is_better"] = False
    if auto and not auto_promote:
        flag = "--" + next(iter(auto)).replace("_", "-")
        msg = f"{flag} configures auto-promotion: add --auto-promote"
        raise InvalidArgumentError(msg, field="auto_promote")

    def change(p: TrafficPolicy) -> TrafficPolicy:
        spec = p.with_arms(routes, sticky).to_dict()
        return TrafficPolicy.from_dict({**spec, "auto_promote": auto if auto_promote else None})

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
def feedback(
    name: str = typer.Argument(...),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="CSV or Parquet with columns request_id and value."
    ),
    request_id: str | None = typer.Option(None, "--request-id", help="One request's id."),
    value: str | None = typer.Option(None, "--value", help="Its outcome, number or label."),
) -> None:
    """Post outcomes or labels of served requests (by the x-request-id they carried)."""
    from conveyor.errors import InvalidArgumentError

    if (file is None) == (request_id is None):
        msg = "give --file FILE, or --request-id ID with --value V"
        raise InvalidArgumentError(msg, field="file")
    if file is not None:
        ids, values = _read_feedback(file)
    elif value is None:
        raise InvalidArgumentError("--request-id needs --value", field="value")
    else:
        ids, values = [request_id], [_parse_value(value)]
    done = _client().feedback(name, ids, values)
    console.print(f"recorded {done['received']:,} feedback values for deployment {name}")


def _parse_value(text: str) -> Any:
    """A number when the text is one (an outcome, a regression label), else a class label."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _read_feedback(path: Path) -> tuple[list[Any], list[Any]]:
    import pandas as pd

    from conveyor.errors import InvalidArgumentError

    if not path.is_file():
        raise InvalidArgumentError(f"--file {path} does not exist", field="file")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"request_id": str})
    else:
        msg = f"--file must be a .csv or .parquet file; got {path.name!r}"
        raise InvalidArgumentError(msg, field="file")
    missing = [c for c in ("request_id", "value") if c not in frame.columns]
    if missing:
        msg = f"{path.name} has no column {missing[0]!r}; it needs request_id and value"
        raise InvalidArgumentError(msg, field="file")
    return frame["request_id"].astype(str).tolist(), frame["value"].tolist()


@app.command()
def report(
    name: str = typer.Argument(...),
    *,
    since: str | None = typer.Option(
        None, help="How far back: 30m, 1h, 1d (default: since the deployment last changed)."
    ),
    task: str | None = typer.Option(
        None, help="classification or regression (default: read from the predictions)."
    ),
    test: str = typer.Option("sequential", help="A/B decision test: sequential, z or welch."),
    alpha: float = typer.Option(0.05, help="Significance level."),
    min_samples: int = typer.Option(30, help="Outcomes per arm before naming a winner."),
    lower_is_better: bool = typer.Option(
        False, "--lower-is-better", help="A smaller outcome wins (a cost, a latency)."
    ),
    json_out: bool = _JSON,
) -> None:
    """Champion/challenger report per shadow and significance tests per A/B arm."""
    from conveyor._time import now_ms
    from conveyor.cli.experiment_report import render_report
    from conveyor.cli.monitors import parse_duration

    since_ms = None
    if since is not None:
        since_ms = now_ms() - parse_duration(since, field="since") * 1000
    data = _client().report(
        name,
        since_ms=since_ms,
        task=task,
        test=test,
        alpha=alpha,
        min_samples=min_samples,
        higher_is_better=not lower_is_better,
    )
    if json_out:
        _json(data)
        return
    render_report(data)


@app.command()
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a deployment (replicas stop serving it on their next poll)."""
    _client().delete(name)
    console.print(f"deleted deployment {name}")


@app.command("log-sample")
def log_sample(
    name: str = typer.Argument(...),
    share: float = typer.Argument(..., help="Share of requests to log, 0-1 (0 turns it off)."),
) -> None:
    """Write a share of requests (inputs, prediction, latency) to the request log."""
    from conveyor.serving.policy import check_log_sample

    checked = check_log_sample(share, field="share")

    def change(p: TrafficPolicy) -> TrafficPolicy:
        return p.with_log_sample(checked)

    _change(name, change)


_PREVIEW_ROWS = 20


@app.command("log")
def request_log(
    name: str = typer.Argument(..., help="Deployment (or the name a model URI is served under)."),
    since: str = typer.Option("1h", "--since", help="How far back: 30m, 1h, 1d..."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the rows to this .parquet."),
) -> None:
    """Read the sampled request log: a preview, or every row to a Parquet file."""
    import time

    from conveyor.cli.monitors import parse_duration
    from conveyor.serving.request_log import read_request_log
    from conveyor.tracking import Workspace

    since_ms = int(time.time() * 1000) - parse_duration(since, field="since") * 1000
    ws = Workspace.from_settings()
    try:
        frame = read_request_log(ws, name, since_ms)
    finally:
        ws.close()
    if out is not None:
        frame.to_parquet(out, index=False)
        console.print(f"wrote {len(frame)} logged rows of {name} to {out}")
        return
    if frame.empty:
        console.print(
            f"no logged requests of {name} in the last {since}; turn the log on with "
            f"`conveyor deployments log-sample {name} 0.05` (or `conveyor serve --log-sample`)"
        )
        return
    _preview(name, frame)


def _preview(name: str, frame: pd.DataFrame) -> None:
    shown = ["time", "request_id", "version", "route", "ok", "latency_ms", "prediction"]
    t = table(f"Request log of {name} (last {_PREVIEW_ROWS} of {len(frame)})", shown)
    for row in frame.tail(_PREVIEW_ROWS)[shown].itertuples(index=False):
        when, request_id, version, route, ok, latency, prediction = row
        t.add_row(
            when.strftime("%Y-%m-%d %H:%M:%S"),
            str(request_id),
            str(version),
            str(route),
            "yes" if ok else "no",
            f"{latency:.2f}",
            str(prediction),
        )
    console.print(t)
    inputs = [c for c in frame.columns if c not in (*shown, "deployment")]
    console.print(f"input columns: {', '.join(inputs) or '-'}; --out FILE.parquet writes every row")
