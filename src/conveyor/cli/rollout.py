"""``conveyor rollout``: move a deployment's traffic to a candidate step by step, judged."""

from __future__ import annotations

import re
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
import typer

from conveyor.cli.output import console, fmt_time, table
from conveyor.errors import InvalidArgumentError

if TYPE_CHECKING:
    from conveyor.serving.client import DeploymentsClient
    from conveyor.serving.rollout_record import Rollout

app = typer.Typer(
    help="Progressive rollouts: traffic moves to a candidate in steps, each judged on error "
    "rate, p99 latency and prediction shift; promoted at the end or rolled back.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_OFF = {"off", "none"}
_PROGRESS_EVERY_S = 5.0


def parse_duration(text: str, field: str) -> float:
    """Seconds from ``30s``, ``1m``, ``2h``, ``500ms`` or a plain number of seconds."""
    match = _DURATION.fullmatch(text)
    if match is None:
        msg = f"--{field} must be a duration like 30s, 1m, 2h or 500ms; got {text!r}"
        raise InvalidArgumentError(msg, field=field)
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def _limit(text: str, field: str, *, duration: bool = False) -> float | None:
    """A threshold, or None for ``off``; success rates may be written ``99%``."""
    if text.strip().lower() in _OFF:
        return None
    if duration:
        return parse_duration(text, field)
    value = text.strip()
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        msg = f"--{field} must be a number or 'off'; got {text!r}"
        raise InvalidArgumentError(msg, field=field) from None


def _steps(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        msg = f"--steps must be comma-separated percentages like 5,25,50,100; got {text!r}"
        raise InvalidArgumentError(msg, field="steps") from None


def _client() -> DeploymentsClient:
    from conveyor.serving.client import deployments_client
    from conveyor.tracking.client import open_client

    return deployments_client(open_client())


def _json(data: object) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def start(  # noqa: PLR0917 - typer maps options to parameters
    name: str = typer.Argument(..., help="Deployment name."),
    to: str = typer.Option(..., "--to", help="Candidate: a version number or @alias."),
    steps: str = typer.Option("5,25,50,100", help="Traffic percentages, the last one 100."),
    interval: str = typer.Option("1m", help="Time per step: 30s, 1m, 2h."),
    min_success: str = typer.Option("0.99", help="Lowest success rate (0.99 or 99%; off)."),
    max_p99: str = typer.Option("500ms", help="Highest p99 latency (500ms, 1s; off)."),
    max_psi: str = typer.Option("0.2", help="Highest PSI of predictions vs the primary (off)."),
    min_requests: int = typer.Option(100, help="Requests the candidate needs before a verdict."),
    detach: bool = typer.Option(False, "--detach", help="Start it and return at once."),
    json_out: bool = _JSON,
) -> None:
    """Start a rollout and follow it; exit 0 when promoted or awaiting approval, else 1."""
    thresholds = {
        "min_success_rate": _limit(min_success, "min-success"),
        "max_p99_latency_s": _limit(max_p99, "max-p99", duration=True),
        "max_prediction_psi": _limit(max_psi, "max-psi"),
        "min_requests": min_requests,
    }
    client = _client()
    rollout = client.start_rollout(
        name,
        to,
        steps=_steps(steps),
        interval_s=parse_duration(interval, "interval"),
        thresholds=thresholds,
    )
    if json_out:
        _json(rollout.model_dump(mode="json"))
    else:
        steps_text = " → ".join(f"{p:g} %" for p in rollout.steps)
        console.print(
            f"rollout {rollout.rollout_id}: {name} v{rollout.primary_version} → "
            f"v{rollout.candidate_version}, steps {steps_text}, {rollout.interval_s:g} s each"
        )
    if detach:
        if not json_out:
            console.print(f"follow it: conveyor rollout status {name} --follow")
        return
    raise typer.Exit(_follow(client, name, rollout.rollout_id, quiet=json_out))


@app.command()
def status(
    name: str = typer.Argument(..., help="Deployment name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow it until it ends."),
    json_out: bool = _JSON,
) -> None:
    """Show the deployment's newest rollout: where it is, and every decision so far."""
    client = _client()
    rollout = client.get_rollout(name, progress=True)
    if json_out:
        _json(rollout.model_dump(mode="json"))
    else:
        _show(rollout)
    if follow and rollout.is_active:
        raise typer.Exit(_follow(client, name, rollout.rollout_id, quiet=json_out))


@app.command("list")
def list_(
    deployment: str | None = typer.Option(None, "--deployment", "-d", help="Only this one."),
    status_: str | None = typer.Option(None, "--status", help="running, succeeded, failed..."),
    json_out: bool = _JSON,
) -> None:
    """List rollouts, newest first."""
    found = _client().list_rollouts(deployment, status=status_)
    if json_out:
        _json({"rollouts": [r.model_dump(mode="json") for r in found]})
        return
    t = table("Rollouts", ["id", "deployment", "versions", "step", "status", "started", "reason"])
    for r in found:
        t.add_row(
            str(r.rollout_id),
            r.deployment,
            f"v{r.primary_version} → v{r.candidate_version}",
            f"{r.step_index + 1}/{len(r.steps)} ({r.percent:g} %)",
            r.status,
            fmt_time(r.started_time),
            r.reason,
        )
    console.print(t)


@app.command()
def abort(
    name: str = typer.Argument(..., help="Deployment name."),
    reason: str = typer.Option("", help="Why (kept in the audit log)."),
    json_out: bool = _JSON,
) -> None:
    """Stop the running rollout: every request goes to the primary again."""
    rollout = _client().abort_rollout(name, reason=reason)
    if json_out:
        _json(rollout.model_dump(mode="json"))
        return
    console.print(f"rollout {rollout.rollout_id} of {name}: {rollout.reason}")


def _show(r: Rollout) -> None:
    console.print(
        f"rollout [bold]{r.rollout_id}[/bold] of {r.deployment}: v{r.primary_version} → "
        f"v{r.candidate_version}, [bold]{r.status}[/bold]"
        + (f" at step {r.step_index + 1}/{len(r.steps)} ({r.percent:g} %)" if r.is_active else "")
    )
    if r.reason:
        console.print(f"  {r.reason}")
    if r.progress:
        console.print(f"  now: {_progress_text(r)}")
    if not r.history:
        console.print("  no step decided yet")
        return
    t = table("Steps", ["step", "traffic", "decided", "requests", "checks", "action"])
    for h in r.history:
        t.add_row(
            f"{h['step']}/{len(r.steps)}",
            f"{h['percent']:g} %",
            fmt_time(h["decided"]),
            f"{h['candidate_requests']} (primary {h['primary_requests']})",
            _checks_text(h["checks"]),
            h["action"],
        )
    console.print(t)


def _checks_text(checks: dict[str, Any]) -> str:
    parts = []
    for key, label, fmt in (
        ("success_rate", "success", "{:.2%}"),
        ("p99_latency", "p99", "{:.3g} s"),
        ("prediction_psi", "PSI", "{:.3g}"),
    ):
        check = checks.get(key) or {}
        if check.get("observed") is not None:
            parts.append(f"{label} {fmt.format(check['observed'])} ({check['verdict']})")
    return ", ".join(parts) or "-"


def _progress_text(r: Rollout) -> str:
    p = r.progress or {}
    return (
        f"step {r.step_index + 1}/{len(r.steps)} at {r.percent:g} %: candidate "
        f"{p.get('candidate_requests', 0)} requests (primary {p.get('primary_requests', 0)}), "
        f"{p.get('remaining_s', 0):.0f} s left; {p.get('reason', '')}"
    )


def _follow(client: DeploymentsClient, name: str, rollout_id: int, *, quiet: bool) -> int:
    """Drive and print the rollout until it ends; 0 when promoted, 1 otherwise."""
    rollout = client.get_rollout(name, rollout_id)
    poll_s = min(1.0, max(0.2, rollout.interval_s / 8))
    seen, last_step, last_print = len(rollout.history), -1, 0.0
    try:
        while True:
            client.tick_rollouts()  # locally; over HTTP the server's controller does it
            rollout = client.get_rollout(name, rollout_id, progress=True)
            for entry in rollout.history[seen:]:
                _say(quiet, _decision_text(rollout, entry))
            seen = len(rollout.history)
            if not rollout.is_active:
                break
            now = time.monotonic()
            moved = rollout.step_index != last_step
            if rollout.progress and (moved or now - last_print >= _PROGRESS_EVERY_S):
                _say(quiet, _progress_text(rollout))
                last_step, last_print = rollout.step_index, now
            time.sleep(poll_s)
    except KeyboardInterrupt:
        _say(quiet, f"stopped following; resume with `conveyor rollout status {name} --follow`")
        return 130
    # every step passing is success, also when the alias now waits for a reviewer's approval
    ok = rollout.status in ("succeeded", "pending_approval")
    colour = "green" if rollout.status == "succeeded" else "yellow" if ok else "red"
    _say(quiet, f"[{colour}]{rollout.status}[/]: {rollout.reason}")
    return 0 if ok else 1


def _decision_text(r: Rollout, entry: dict[str, Any]) -> str:
    head = f"step {entry['step']}/{len(r.steps)} ({entry['percent']:g} %)"
    return f"{head} {entry['action'].replace('_', ' ')}: {entry['reason']}"


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        console.print(text, highlight=False)
