"""``conveyor monitors`` (alias ``conveyor monitor``): monitors, traffic, labels, reports."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from conveyor.cli.output import console, fmt_number, fmt_time, table
from conveyor.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.monitoring.service import Monitors

app = typer.Typer(
    help="Monitoring: drift, data quality and performance of live traffic.",
    no_args_is_help=True,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, field: str) -> int:
    """Return seconds for ``90``, ``30s``, ``5m``, ``1h``, ``1d`` or ``2w``."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text)
    if not match or int(match.group(1)) == 0:
        msg = f"{field} must be a duration like 60s, 5m, 1h or 1d; got {text!r}"
        raise InvalidArgumentError(msg, field=field)
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_time(text: str, *, field: str) -> int:
    """Return epoch milliseconds for an ISO 8601 time (UTC unless it says) or a number of ms."""
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{field} must be an ISO time like 2026-11-30T12:00:00Z or epoch ms; got {text!r}"
        raise InvalidArgumentError(msg, field=field) from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def read_frame(source: str | Path, *, field: str) -> pd.DataFrame:
    """Read a dataset version (``data:NAME@V``) or a Parquet / CSV file into a DataFrame."""
    import pandas as pd

    if isinstance(source, str) and source.startswith("data:"):
        from conveyor.data import load_dataset

        frame = load_dataset(source)
        if not isinstance(frame, pd.DataFrame):
            msg = f"{field}: {source} is a file dataset, not a table; log a frame or a .parquet"
            raise InvalidArgumentError(msg, field=field)
        return frame
    path = Path(source)
    if not path.exists():
        msg = f"{field}: no file at {str(path)!r} (or name a dataset version: data:NAME@V)"
        raise InvalidArgumentError(msg, field=field)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") or path.is_dir():
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    msg = f"{field}: {path.name} is neither .parquet nor .csv; convert it to one of them"
    raise InvalidArgumentError(msg, field=field)


def _label(source: str) -> str:
    return source if source.startswith("data:") else Path(source).name


def _monitors() -> Monitors:
    from conveyor.monitoring.service import Monitors
    from conveyor.tracking import Workspace

    ws = Workspace.from_settings()
    return Monitors(ws.engine, ws.blobs)


def _dump(data: Any) -> None:
    import orjson

    typer.echo(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
        ).decode()
    )


@app.command()
def create(  # noqa: PLR0917 - typer maps options to parameters
    name: str = typer.Argument(..., help="Monitor name."),
    reference: str = typer.Option(
        ..., "--reference", help="Reference data: data:NAME@V, or a .parquet / .csv file."
    ),
    deployment: str | None = typer.Option(None, help="Deployment whose traffic it watches."),
    window: str = typer.Option("1h", help="Window length: 60s, 5m, 1h, 1d."),
    rule: list[str] = typer.Option([], "--rule", help="Alert rule, e.g. 'psi(age) > 0.25'."),
    prediction: str | None = typer.Option(None, help="Prediction column."),
    target: str | None = typer.Option(None, help="Target (label) column."),
    task: str | None = typer.Option(None, help="classification or regression."),
    probability: str | None = typer.Option(None, help="Column with P(positive class)."),
    categorical: list[str] = typer.Option([], "--categorical", help="Numeric column as category."),
    webhook: str | None = typer.Option(None, help="Webhook URL for alert notifications."),
    webhook_secret: str | None = typer.Option(
        None, envvar="CONVEYOR_WEBHOOK_SECRET", help="HMAC secret for the webhook."
    ),
    slack: str | None = typer.Option(None, help="Slack incoming-webhook URL."),
) -> None:
    """Create a monitor from reference data."""
    notifiers: list[dict[str, Any]] = []
    if webhook:
        if not webhook_secret:
            msg = "--webhook needs --webhook-secret (or CONVEYOR_WEBHOOK_SECRET) to sign payloads"
            raise InvalidArgumentError(msg, field="webhook_secret")
        notifiers.append({"kind": "webhook", "url": webhook, "secret": webhook_secret})
    if slack:
        notifiers.append({"kind": "slack", "url": slack})
    monitor = _monitors().create(
        name,
        read_frame(reference, field="reference"),
        deployment=deployment,
        window_s=parse_duration(window, field="window"),
        rules=rule,
        notifiers=notifiers,
        prediction=prediction,
        target=target,
        task=task,
        probability=probability,
        categorical=categorical or None,
    )
    console.print(
        f"created monitor {monitor.name!r}: {len(monitor.columns)} columns, "
        f"{monitor.window_s}s windows, {len(monitor.rules)} rules"
    )


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List monitors."""
    monitors = _monitors().list_monitors()
    if as_json:
        _dump([m.to_dict() for m in monitors])
        return
    t = table("Monitors", ["name", "deployment", "window", "rules", "evaluated until"])
    for m in monitors:
        until = fmt_time(m.evaluated_until) if m.evaluated_until else "-"
        t.add_row(m.name, m.deployment or "-", f"{m.window_s}s", str(len(m.rules)), until)
    console.print(t)


@app.command()
def show(
    name: str = typer.Argument(..., help="Monitor name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a monitor, its alert states and its last window's signals."""
    service = _monitors()
    monitor = service.get(name)
    alerts = service.alert_statuses(name)
    latest = [r for r in service.latest() if r["name"] == name]
    if as_json:
        _dump({**monitor.to_dict(), "alerts": alerts, "latest": latest})
        return
    console.print(f"[bold]{monitor.name}[/bold]  window {monitor.window_s}s  rules:")
    for rule in monitor.rules:
        console.print(f"  {rule}")
    t = table("Alerts", ["rule", "label", "state", "value"])
    for a in alerts:
        value = "-" if a["value"] is None else fmt_number(a["value"])
        t.add_row(a["rule"], a["label"] or "-", a["state"], value)
    console.print(t)
    t = table("Last window", ["signal", "label", "value"])
    for r in latest:
        t.add_row(
            r["signal"], r["label"] or "-", "-" if r["value"] is None else fmt_number(r["value"])
        )
    console.print(t)


@app.command()
def log(
    name: str = typer.Argument(..., help="Monitor name."),
    data: Path = typer.Option(..., "--data", help="A batch of traffic (.parquet or .csv)."),
    at: str | None = typer.Option(None, help="Time of the batch (ISO or epoch ms); default now."),
    request_id_column: str | None = typer.Option(
        None, help="Column with request ids (keeps predictions for delayed labels)."
    ),
) -> None:
    """Fold a batch of traffic into its window."""
    frame = read_frame(data, field="data")
    ids = None
    if request_id_column:
        if request_id_column not in frame.columns:
            msg = f"--request-id-column {request_id_column!r} is not a column of {data.name}"
            raise InvalidArgumentError(msg, field="request_id_column")
        ids = frame.pop(request_id_column).astype(str).tolist()
    at_ms = None if at is None else parse_time(at, field="at")
    start = _monitors().log(name, frame, at_ms=at_ms, request_ids=ids, source="cli")
    console.print(f"logged {len(frame)} rows into the window starting {fmt_time(start)}")


@app.command()
def labels(
    name: str = typer.Argument(..., help="Monitor name."),
    file: Path = typer.Option(..., "--file", help="Labels (.csv/.parquet: request_id,label)."),
) -> None:
    """Attach delayed labels to logged predictions."""
    frame = read_frame(file, field="file")
    missing = {"request_id", "label"} - set(frame.columns)
    if missing:
        msg = f"{file.name} lacks the column(s) {sorted(missing)}; it needs request_id and label"
        raise InvalidArgumentError(msg, field="file")
    counts = _monitors().log_labels(
        name, frame["request_id"].astype(str).tolist(), frame["label"].tolist()
    )
    console.print(f"matched {counts['matched']} labels, {counts['unknown']} unknown request ids")


@app.command()
def evaluate(
    name: str = typer.Argument(..., help="Monitor name."),
    until: str | None = typer.Option(None, help="Evaluate windows closed by then (default now)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Evaluate every window closed since the last evaluation; fire alerts."""
    until_ms = None if until is None else parse_time(until, field="until")
    result = _monitors().evaluate(name, until_ms=until_ms)
    if as_json:
        _dump(result.to_dict())
        return
    t = table(f"Windows of {name}", ["window", "rows", "drift share", "alerts"])
    for w in result.windows:
        share = w.signals.get("drift_share", {}).get("")
        events = ", ".join(f"{e.rule} [{e.label}] -> {e.state}" for e in w.events) or "-"
        t.add_row(
            fmt_time(w.start_ms), str(w.rows), "-" if share is None else f"{share:.2f}", events
        )
    console.print(t)
    if not result.windows:
        console.print("no closed window to evaluate")


@app.command()
def silence(
    name: str = typer.Argument(..., help="Monitor name."),
    duration: str = typer.Option("1h", "--for", help="How long: 30m, 2h, 1d."),
    rule: str = typer.Option("*", help="Glob over rule names."),
    label: str = typer.Option("*", help="Glob over labels (columns)."),
    comment: str = typer.Option("", help="Why."),
) -> None:
    """Silence notifications of matching alerts for a while (states are still recorded)."""
    created = _monitors().silence(
        name,
        duration_s=parse_duration(duration, field="for"),
        rule=rule,
        label=label,
        comment=comment,
    )
    console.print(f"silence {created.silence_id} until {fmt_time(created.ends_at)}")


@app.command()
def unsilence(
    name: str = typer.Argument(..., help="Monitor name."),
    silence_id: str = typer.Argument(..., help="Silence id (see `monitors silences`)."),
) -> None:
    """Remove a silence."""
    _monitors().unsilence(name, silence_id)
    console.print(f"removed silence {silence_id}")


@app.command()
def silences(name: str = typer.Argument(..., help="Monitor name.")) -> None:
    """List a monitor's silences."""
    t = table(f"Silences of {name}", ["id", "rule", "label", "from", "until", "comment"])
    for s in _monitors().silences(name):
        t.add_row(
            s.silence_id, s.rule, s.label, fmt_time(s.starts_at), fmt_time(s.ends_at), s.comment
        )
    console.print(t)


@app.command()
def watch(
    interval: str = typer.Option("30s", help="How often to evaluate every monitor."),
    once: bool = typer.Option(False, "--once", help="Evaluate once and exit."),
) -> None:
    """Evaluate every monitor's closed windows, repeatedly (Ctrl-C to stop)."""
    import time

    from conveyor.monitoring.loop import evaluate_all

    seconds = parse_duration(interval, field="interval")
    service = _monitors()
    while True:
        results = evaluate_all(service)
        windows = sum(len(r.windows) for r in results.values())
        alerts = sum(len(w.events) for r in results.values() for w in r.windows)
        console.print(f"evaluated {windows} windows of {len(results)} monitors; {alerts} alerts")
        if once:
            return
        time.sleep(seconds)


@app.command()
def delete(name: str = typer.Argument(..., help="Monitor name.")) -> None:
    """Delete a monitor and everything it recorded."""
    _monitors().delete(name)
    console.print(f"deleted monitor {name!r}")


def _write(report: dict[str, Any], out: Path | None, json_out: Path | None) -> None:
    from conveyor.monitoring.report import write_report

    write_report(report, out, json_out)
    for path in (out, json_out):
        if path is not None:
            console.print(f"wrote {path}")


@app.command()
def report(
    name: str = typer.Argument(..., help="Monitor name."),
    window: str = typer.Option("1d", help="How far back: 1h, 1d, 7d."),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML report path."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the data as JSON."),
) -> None:
    """Write a self-contained HTML report of a monitor's recent windows."""
    from conveyor._time import now_ms
    from conveyor.monitoring.report_data import monitor_data

    end = now_ms()
    start = end - parse_duration(window, field="window") * 1000
    _write(monitor_data(_monitors(), name, start_ms=start, end_ms=end), out, json_out)


@app.command()
def compare(
    reference: str = typer.Option(
        ..., "--reference", help="Reference data: data:NAME@V or a .parquet/.csv file."
    ),
    current: str = typer.Option(
        ..., "--current", help="Current data: data:NAME@V or a .parquet/.csv file."
    ),
    out: Path = typer.Option(Path("drift.html"), "--out", help="HTML report path."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the data as JSON."),
    categorical: list[str] = typer.Option([], "--categorical", help="Numeric column as category."),
) -> None:
    """Compare two data sets offline: drift per column, data quality, distributions."""
    from conveyor.monitoring.report_data import compare_data

    data = compare_data(
        read_frame(reference, field="reference"),
        read_frame(current, field="current"),
        title=f"Drift: {_label(current)} vs {_label(reference)}",
        categorical=categorical or None,
    )
    summary = data["summary"]
    console.print(
        f"{summary['drifted_columns']} of {summary['columns']} columns drifted; {data['subtitle']}"
    )
    _write(data, out, json_out)
