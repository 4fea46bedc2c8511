"""The quickstart's monitoring step: the best model meets drifting production traffic.

Six hourly windows of simulated traffic in the recent past: three drawn like the validation
data, then three drawn mostly from where the model is unsure (a covariate shift: the inputs'
distribution moves, the relation between inputs and labels does not, so accuracy drops and
label-free estimation can see it coming). Each request is logged with its id; labels arrive for the
first windows only (as in production, late). ``evaluate`` then computes drift, realized and
CBPE-estimated accuracy per window, fires the alert rules into the event log, and the report
is written as one HTML file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from conveyor.cli.output import console, table

MONITOR = "quickstart"
WINDOW_S = 3600
WINDOWS = 6
DRIFT_FROM = 3  # windows from this index on see shifted features
RULES = (
    "drift_share >= 0.1 for 2 windows",
    "prediction_psi(proba) > 0.25",
    "estimated_accuracy < 0.75",
)


def _frame(model: Any, x: Any, y: Any | None = None) -> Any:
    import pandas as pd

    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["proba"] = model.predict_proba(x)[:, 1]
    frame["prediction"] = model.predict(x)
    if y is not None:
        frame["target"] = y
    return frame


def monitor_step(model: Any, data: tuple[Any, Any, Any, Any], seed: int) -> Path:
    """Create the monitor, replay six windows of traffic, evaluate; return the report path."""
    import numpy as np

    from conveyor._time import now_ms
    from conveyor.errors import NotFoundError
    from conveyor.monitoring.report import write_report
    from conveyor.monitoring.report_data import monitor_data
    from conveyor.monitoring.service import Monitors
    from conveyor.settings import get_settings
    from conveyor.tracking import Workspace

    _, x_val, _, y_val = data
    ws = Workspace.from_settings()
    monitors = Monitors(ws.engine, ws.blobs)
    with contextlib.suppress(NotFoundError):
        monitors.delete(MONITOR)  # a re-run starts the demo monitor afresh
    console.print("\n4. monitor: reference = validation set with the best model's predictions")
    monitors.create(
        MONITOR,
        _frame(model, x_val, y_val),
        window_s=WINDOW_S,
        rules=RULES,
        prediction="prediction",
        target="target",
        task="classification",
        probability="proba",
    )
    rng = np.random.default_rng(seed)
    confidence = np.abs(model.predict_proba(x_val)[:, 1] - 0.5)
    unsure = np.exp(-8 * confidence)
    unsure /= unsure.sum()
    hour = WINDOW_S * 1000
    first = (now_ms() // hour - WINDOWS) * hour
    for w in range(WINDOWS):
        rows = rng.choice(len(x_val), size=500, p=unsure if w >= DRIFT_FROM else None)
        x, y = x_val[rows], y_val[rows]
        ids = [f"w{w}-r{i}" for i in range(len(rows))]
        monitors.log(MONITOR, _frame(model, x), at_ms=first + w * hour + 1, request_ids=ids)
        if w < WINDOWS - 1:  # labels of the newest window have not arrived yet
            monitors.log_labels(MONITOR, ids, y.tolist())
    result = monitors.evaluate(MONITOR, until_ms=first + WINDOWS * hour)
    t = table(
        f"   {WINDOWS} hourly windows of traffic (covariate shift from window {DRIFT_FROM + 1})",
        ["window", "rows", "drift share", "prediction psi", "accuracy", "estimated", "alerts"],
    )
    for number, window in enumerate(result.windows, start=1):
        s = window.signals
        realized = s.get("accuracy", {}).get("")
        t.add_row(
            str(number),
            str(window.rows),
            f"{s['drift_share']['']:.2f}",
            f"{s['prediction_psi']['proba']:.2f}",
            "(no labels yet)" if realized is None else f"{realized:.3f}",
            f"{s['estimated_accuracy']['']:.3f}",
            ", ".join(f"{e.rule} -> {e.state}" for e in window.events) or "-",
        )
    console.print(t)
    report = get_settings().home / "reports" / "quickstart-monitor.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    write_report(
        monitor_data(monitors, MONITOR, start_ms=first, end_ms=first + WINDOWS * hour), report, None
    )
    fired = sum(1 for r in result.windows for e in r.events if e.state == "firing")
    console.print(
        f"   {fired} alerts fired, each an event in the hash-chained log; report: {report}"
    )
    ws.close()
    return report
