"""Live traffic feeds monitors and the request log: a real deployment behind `conveyor serve`'s
app, a monitor on it, labels posted over the REST API joined to the served request ids."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from conveyor.monitoring.service import Monitors
from conveyor.monitoring.sketches.numeric import NumericSketch
from conveyor.serving.deployments import Deployments
from conveyor.serving.factory import ServeSpec
from conveyor.serving.policy import TrafficPolicy
from conveyor.serving.request_log import read_request_log
from conveyor.tracking import Workspace
from tests.integration.test_serving_http import Serving, _register
from tests.servers import ThreadServer

REQUESTS = 300
HOUR_MS = 3_600_000


def _window_rows(monitors: Monitors, start: int) -> int:
    sketch = monitors.window("bc-watch", start, start + 2 * HOUR_MS)
    return 0 if sketch is None else sketch.rows


def test_served_requests_reach_the_monitor_the_labels_and_the_request_log(
    sqlite_workspace: Workspace,
) -> None:
    ws = sqlite_workspace
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" ", "_") for c in x.columns]
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    _register(ws, model, x)
    deployments = Deployments(ws.engine)
    deployments.create("bc-svc", "models:/bc/1")
    deployments.set_policy("bc-svc", TrafficPolicy().with_log_sample(1.0))
    monitors = Monitors(ws.engine, ws.blobs)
    reference = x.assign(prediction=model.predict(x), target=y.to_numpy())
    monitors.create(
        "bc-watch",
        reference,
        deployment="bc-svc",
        prediction="prediction",
        target="target",
        task="classification",
    )
    rows = x.sample(REQUESTS, replace=True, random_state=1)
    start = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    spec = ServeSpec(deployments=["bc-svc"], poll_s=0.2, grace_s=0.5, window_s=0.5)
    with Serving(spec, ws) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        for i in range(REQUESTS):
            body = {"dataframe_split": rows.iloc[[i]].to_dict(orient="split", index=False)}
            answer = http.post(
                "/deployments/bc-svc/invocations", json=body, headers={"x-request-id": f"req-{i}"}
            )
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 20
        while _window_rows(monitors, start) < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.2)
    # the hour may have turned while serving: the rows are then in two windows
    sketch = monitors.window("bc-watch", start, start + 2 * HOUR_MS)
    assert sketch is not None
    assert sketch.rows == REQUESTS
    radius = sketch.columns["mean_radius"]  # the matrix fast path's columns, named by the plan
    assert isinstance(radius, NumericSketch)
    assert radius.absent == 0
    assert radius.moments.mean == pytest.approx(rows["mean_radius"].mean())
    evaluation = monitors.evaluate("bc-watch", until_ms=start + 2 * HOUR_MS)
    assert sum(w.rows for w in evaluation.windows) == REQUESTS
    assert all("psi" in w.signals for w in evaluation.windows)

    with ThreadServer(ws) as api, httpx.Client(base_url=f"{api.url}/api/v1") as client:
        ids = [f"req-{i}" for i in range(100)]
        joined = client.post(
            "/deployments/bc-svc/labels",
            json={"request_ids": [*ids, "never-served"], "labels": [1] * 101},
        )
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"matched": 100, "unknown": 1}

    logged = read_request_log(ws, "bc-svc")
    assert len(logged) == REQUESTS
    assert set(logged["request_id"]) == {f"req-{i}" for i in range(REQUESTS)}
    by_id = logged.set_index("request_id")
    assert by_id.loc["req-7", "mean_radius"] == rows["mean_radius"].iloc[7]
    assert by_id.loc["req-7", "prediction"] == model.predict(rows.iloc[[7]])[0]
    assert pd.api.types.is_datetime64_any_dtype(logged["time"])
    assert logged["ok"].all()
