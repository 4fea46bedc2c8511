"""``conveyor server`` serves its store's deployments in-process: one process, one port, for the
API and for inference (OIP v2 and MLflow payloads), with deployments created after start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.server.inference_routes import is_inference_path
from conveyor.tracking import LocalClient, Workspace
from tests.servers import ProcessServer, ThreadServer

COLUMNS = ["a", "b", "c"]


def _model() -> tuple[DecisionTreeClassifier, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(80, 3)), columns=COLUMNS)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, x.a + x.b > 0), x


def _register(ws: Workspace, model: DecisionTreeClassifier, x: pd.DataFrame) -> int:
    client = LocalClient(workspace=ws)
    run_id = client.create_run(client.get_or_create_experiment("srv").experiment_id).info.run_id
    log_model(model, "model", input_example=x[:3], run_id=run_id, client=client)
    uri = f"runs:/{run_id}/model"
    return Registry(ws.engine).create_version("churn", uri, create_model=True).version


def _until_served(http: httpx.Client, path: str, body: object) -> httpx.Response:
    """Post until the server's replica has discovered and loaded the deployment."""
    deadline = time.monotonic() + 60
    while True:
        response = http.post(path, json=body)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        assert response.status_code in (404, 503), response.text  # not discovered or loading
        time.sleep(0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ProcessServer, Workspace]]:
    home = tmp_path / ".conveyor"
    server = ProcessServer(home).start()  # `python -m conveyor server --port N`
    ws = Workspace(f"sqlite:///{home.resolve()}/conveyor.db", str((home / "blobs").resolve()))
    yield server, ws
    server.kill()
    ws.close()


def test_server_serves_a_deployment_created_through_its_api(
    server: tuple[ProcessServer, Workspace],
) -> None:
    process, ws = server
    model, x = _model()
    version = _register(ws, model, x)
    rows = x[:4]
    expected = model.predict(rows).tolist()
    with httpx.Client(base_url=process.url, timeout=90) as http:
        created = http.post(
            "/api/v1/deployments", json={"name": "churn-svc", "model": f"models:/churn/{version}"}
        )
        assert created.status_code == 201, created.text
        split = {"columns": COLUMNS, "data": rows.to_numpy().tolist()}
        r = _until_served(http, "/deployments/churn-svc/invocations", {"dataframe_split": split})
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": expected}
        assert r.headers["x-conveyor-model-version"] == str(version)
        assert r.headers["x-request-id"]

        r = http.post("/deployments/churn-svc/predict", json={"data": split["data"]})
        assert r.json() == {"predictions": expected}
        tensor = {"name": "input", "shape": [4, 3], "datatype": "FP64", "data": split["data"]}
        r = http.post("/v2/models/churn-svc/infer", json={"id": "q1", "inputs": [tensor]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["id"], body["model_name"], body["model_version"]) == ("q1", "churn-svc", "1")
        assert body["outputs"][0]["data"] == expected
        assert http.get("/v2/health/ready").json() == {"ready": True}
        assert http.get("/v2/models/churn-svc").json()["inputs"][0]["name"] == "a"

        # the API and the monitoring exposition still answer on the same port
        assert http.get("/api/v1/deployments/churn-svc").json()["name"] == "churn-svc"
        metrics = http.get("/metrics").text
        assert 'conveyor_serving_requests_total{deployment="churn-svc"' in metrics

        # a second deployment, created while serving, is discovered by the next poll
        http.post("/api/v1/deployments", json={"name": "other", "model": "models:/churn/1"})
        r = _until_served(http, "/deployments/other/predict", {"data": split["data"]})
        assert r.json() == {"predictions": expected}
        replicas = http.get("/api/v1/deployments/other/replicas").json()
        assert {v["version"] for v in replicas["served_versions"]} == {1}
        r = http.post("/deployments/nope/invocations", json={"instances": [[1, 2, 3]]})
        assert r.status_code == 404
        assert "'nope'" in r.json()["message"]


def test_no_serving_leaves_the_inference_routes_out(sqlite_workspace: Workspace) -> None:
    with ThreadServer(sqlite_workspace, serve_deployments=False, monitor_interval_s=0) as srv:
        r = httpx.post(srv.url + "/v2/models/churn/infer", json={"inputs": []})
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"  # nothing serves /v2


def test_inference_routes_need_a_token_when_auth_is_on(sqlite_workspace: Workspace) -> None:
    with ThreadServer(
        sqlite_workspace, auth=True, serve_deployments=True, monitor_interval_s=0
    ) as srv:
        r = httpx.post(srv.url + "/deployments/churn/invocations", json={"instances": [[1]]})
        assert r.status_code == 401
        assert "Bearer" in r.json()["error"]["message"]


def test_a_viewer_token_may_predict_but_not_write(sqlite_workspace: Workspace) -> None:
    from conveyor.governance import Projects, Tokens, Users

    Users(sqlite_workspace.engine).create("reader", actor="owner")
    Projects(sqlite_workspace.engine).grant("default", "reader", "viewer", actor="owner")
    token = Tokens(sqlite_workspace.engine).create("reader", actor="owner").token
    headers = {"Authorization": f"Bearer {token}"}
    with ThreadServer(
        sqlite_workspace, auth=True, serve_deployments=True, monitor_interval_s=0
    ) as srv:
        body = {"instances": [[1]]}
        r = httpx.post(srv.url + "/deployments/churn/invocations", json=body, headers=headers)
        # past the role check: the inference app answers that no such deployment is served
        assert r.status_code == 404, r.text
        assert "'churn'" in r.json()["message"]
        r = httpx.post(srv.url + "/api/v1/experiments", json={"name": "x"}, headers=headers)
        assert r.status_code == 403


def test_a_server_without_deployments_does_not_import_the_serving_stack(tmp_path: Path) -> None:
    code = f"""
import asyncio, sys
from conveyor.server import create_app
from conveyor.tracking import Workspace
ws = Workspace("sqlite:///{tmp_path}/c.db", "{tmp_path}/blobs")
app = create_app(ws, monitor_interval_s=0, webhook_interval_s=0, serving_poll_s=0.05)
async def main():
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.3)  # the replica's watcher polled a few times
asyncio.run(main())
print(" ".join(sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(out.split())
    heavy = {"conveyor.serving.app", "conveyor.serving.factory", "conveyor.serving.inference"}
    assert not heavy & loaded


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2", True),
        ("/v2/models/m/infer", True),
        ("/deployments/svc/invocations", True),
        ("/deployments/svc/predict", True),
        ("/v2x", False),
        ("/deployments/svc", False),
        ("/deployments/svc/labels", False),
        ("/api/v1/deployments/svc/predict", False),
        ("/invocations", False),  # the server serves many deployments: name one
    ],
)
def test_inference_paths_are_told_from_the_api(path: str, expected: bool) -> None:
    assert is_inference_path(path) is expected
