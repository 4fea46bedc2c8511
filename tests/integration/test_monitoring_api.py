"""Monitoring over real HTTP: create, log traffic, labels, evaluate, alerts, /metrics."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from conveyor.tracking import Workspace
from tests.servers import ThreadServer

MINUTE = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("monitoring-api")
    workspace = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    with ThreadServer(workspace) as running:
        yield running.url
    workspace.close()


def _columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, list[object]]:
    age = rng.normal(40 + shift, 10, n)
    proba = 1 / (1 + np.exp(-(age - 40) / 10))
    return {
        "age": age.tolist(),
        "plan": rng.choice(["basic", "pro"], n).tolist(),
        "proba": proba.tolist(),
        "prediction": (proba >= 0.5).astype(int).tolist(),
    }


def test_the_monitoring_loop_over_http(server: str) -> None:
    rng = np.random.default_rng(0)
    reference = _columns(rng, 2000)
    reference["target"] = (rng.random(2000) < np.array(reference["proba"])).astype(int).tolist()
    with httpx.Client(base_url=f"{server}/api/v1", timeout=30) as api:
        created = api.post(
            "/monitors",
            json={
                "name": "churn",
                "deployment": "churn-svc",
                "reference": reference,
                "window_s": 60,
                "rules": ["psi(age) > 0.25", "estimated_accuracy < 0.3"],
                "prediction": "prediction",
                "target": "target",
                "task": "classification",
                "probability": "proba",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["columns"] == ["age", "plan", "proba", "prediction", "target"]
        batch = _columns(rng, 300, shift=20)
        ids = [f"r{i}" for i in range(300)]
        logged = api.post(
            "/monitors/churn/data", json={"columns": batch, "request_ids": ids, "at_ms": 5}
        )
        assert logged.json() == {"window_start_ms": 0, "rows": 300}
        labels = api.post(
            "/deployments/churn-svc/labels",
            json={"request_ids": [*ids[:100], "zzz"], "labels": [1] * 101},
        )
        assert labels.json() == {"matched": 100, "unknown": 1}
        result = api.post("/monitors/churn/evaluate", json={"until_ms": MINUTE}).json()
        # no body: evaluate up to now; the window above is already evaluated
        again = api.post("/monitors/churn/evaluate")
        assert again.status_code == 200, again.text
        assert again.json()["windows"] == []
        (window,) = result["windows"]
        assert window["signals"]["psi"]["age"] > 0.25
        assert "estimated_accuracy" in window["signals"]
        assert [e["state"] for e in window["events"]] == ["firing"]
        alerts = api.get("/monitors/churn/alerts").json()["alerts"]
        assert {(a["rule"], a["label"], a["state"]) for a in alerts} >= {
            ("psi(age) > 0.25", "age", "firing")
        }
        values = api.get("/monitors/churn/values", params={"signal": "psi"}).json()["values"]
        assert {v["label"] for v in values} == {"age", "plan"}
    metrics = httpx.get(f"{server}/metrics").text
    assert 'conveyor_monitor_signal{monitor="churn",signal="psi",label="age"}' in metrics
    firing = 'rule="psi(age) > 0.25",label="age",state="firing"} 1'
    assert firing in metrics
    promtool = shutil.which("promtool")
    if promtool is None and os.environ.get("CONVEYOR_REQUIRE_TOOLS"):
        pytest.fail("promtool is not installed (Debian: apt-get install prometheus)")
    if promtool is not None:  # .ci/run installs it (Debian's prometheus package)
        check = subprocess.run(
            [promtool, "check", "metrics"],
            input=metrics,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/monitors", {"name": "x", "reference": {}}, 400, "reference"),
        (
            "post",
            "/monitors",
            {"name": "x", "reference": {"a": [1, 2], "b": [1]}},
            400,
            "reference",
        ),
        ("post", "/monitors/nope/data", {"columns": {"a": [1.0]}}, 404, "name"),
        ("post", "/monitors/nope/labels", {"request_ids": ["a"], "labels": [1]}, 404, "name"),
        (
            "post",
            "/deployments/nope/labels",
            {"request_ids": ["a"], "labels": [1]},
            404,
            "deployment",
        ),
        ("get", "/monitors/nope", None, 404, "name"),
        (
            "post",
            "/monitors",
            {"name": "z", "reference": {"a": [1.0, 2.0]}, "notifiers": [{}]},
            400,
            "notifiers.kind",
        ),
        (
            "post",
            "/monitors",
            {
                "name": "z",
                "reference": {"a": [False, 0.5, "x"]},
                "notifiers": [
                    {"kind": "email", "host": "h", "sender": "s", "recipients": ["r"], "port": "25"}
                ],
            },
            400,
            "notifiers.port",
        ),
        (
            "post",
            "/monitors",
            {"name": "y", "reference": {"a": [1.0, 2.0]}, "rules": ["psi(a) >"]},
            400,
            "rule",
        ),
    ],
)
def test_bad_requests_name_the_field(
    server: str, method: str, path: str, body: object, status: int, field: str
) -> None:
    response = httpx.request(method.upper(), f"{server}/api/v1{path}", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_cli_create_log_evaluate_compare(tmp_path: Path, home: Path) -> None:
    import pandas as pd

    from conveyor.cli.app import run

    rng = np.random.default_rng(3)
    reference = pd.DataFrame(_columns(rng, 1000))
    current = pd.DataFrame(_columns(rng, 1000, shift=15))
    reference.to_parquet(tmp_path / "ref.parquet")
    current.to_csv(tmp_path / "cur.csv", index=False)
    assert run(["monitors", "create", "m", "--reference", str(tmp_path / "ref.parquet"),
                "--window", "1m", "--rule", "psi(age) > 0.25"]) == 0  # fmt: skip
    assert run(["monitors", "log", "m", "--data", str(tmp_path / "cur.csv"), "--at", "1000"]) == 0
    assert run(["monitors", "evaluate", "m", "--until", str(MINUTE)]) == 0
    assert run(["monitors", "show", "m"]) == 0
    assert run(["monitors", "silence", "m", "--for", "2h", "--rule", "psi*"]) == 0
    assert run(["monitors", "silences", "m"]) == 0
    assert run(["monitors", "silence", "m", "--for", "forever"]) == 2
    assert run(["monitors", "unsilence", "m", "nope"]) == 3
    assert run(["monitors", "watch", "--once"]) == 0
    assert run(["monitors", "create", "m", "--reference", "nope.parquet"]) == 2
    assert run(["monitors", "log", "m", "--data", str(tmp_path / "cur.csv"), "--at", "soon"]) == 2
    html = tmp_path / "drift.html"
    assert run(["monitor", "compare", "--reference", str(tmp_path / "ref.parquet"),
                "--current", str(tmp_path / "cur.csv"), "--out", str(html),
                "--json", str(tmp_path / "drift.json")]) == 0  # fmt: skip
    assert "<svg" in html.read_text()
    assert (
        run(["monitor", "report", "m", "--window", "30d", "--out", str(tmp_path / "m.html")]) == 0
    )


def test_cli_reference_can_be_a_dataset_version(tmp_path: Path, home: Path) -> None:
    import pandas as pd

    import conveyor
    from conveyor.cli.app import run

    rng = np.random.default_rng(4)
    version = conveyor.log_dataset(pd.DataFrame(_columns(rng, 800)), "churn-train")
    current = pd.DataFrame(_columns(rng, 800, shift=15))
    current.to_parquet(tmp_path / "cur.parquet")
    ref = f"data:churn-train@{version.version}"
    assert run(["monitors", "create", "d", "--reference", ref, "--window", "1m"]) == 0
    cur = str(tmp_path / "cur.parquet")
    assert run(["monitor", "compare", "--reference", ref, "--current", cur,
                "--out", str(tmp_path / "d.html")]) == 0  # fmt: skip
    assert "data:churn-train@1" in (tmp_path / "d.html").read_text()
    assert run(["monitors", "create", "e", "--reference", "data:churn-train@9"]) == 3
    assert run(["monitors", "create", "e", "--reference", "data:"]) == 2


def test_the_server_evaluates_monitors_in_the_background(tmp_path: Path) -> None:
    import time

    from conveyor.monitoring.service import Monitors

    workspace = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    monitors = Monitors(workspace.engine, workspace.blobs)
    rng = np.random.default_rng(5)
    monitors.create("bg", __import__("pandas").DataFrame(_columns(rng, 200)), window_s=1)
    monitors.log("bg", _columns(rng, 20), at_ms=1000)
    with ThreadServer(workspace, monitor_interval_s=0.1):  # type: ignore[arg-type]
        deadline = time.monotonic() + 20
        while monitors.get("bg").evaluated_until == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert monitors.get("bg").evaluated_until == 2000
    workspace.close()


def test_audit_cli_verifies_and_lists_the_event_log(tmp_path: Path, home: Path) -> None:
    import sqlite3

    import pandas as pd

    from conveyor.cli.app import run

    rng = np.random.default_rng(8)
    pd.DataFrame(_columns(rng, 200)).to_parquet(tmp_path / "ref.parquet")
    assert run(["monitors", "create", "a", "--reference", str(tmp_path / "ref.parquet")]) == 0
    assert run(["monitors", "silence", "a", "--for", "1h"]) == 0
    assert run(["audit", "verify"]) == 0
    assert run(["audit", "log", "--subject", "monitors:/*", "--json"]) == 0
    db = next(home.rglob("conveyor.db"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET actor = 'mallory' WHERE seq = 1")
    assert run(["audit", "verify"]) == 1
