"""``conveyor serve`` end to end: a real model behind the real inference app on loopback, driven
by real clients (tritonclient http and grpc, MLflow scoring payloads, promtool)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.factory import ServeSpec, create_app
from conveyor.tracking import LocalClient, Workspace
from tests.servers import free_port


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" ", "_") for c in x.columns]
    return x, y


def _register(ws: Workspace, model: Any, x: pd.DataFrame, name: str = "bc") -> int:
    client = LocalClient(workspace=ws)
    exp = client.get_or_create_experiment("serving")
    run_id = client.create_run(exp.experiment_id).info.run_id
    log_model(model, "model", input_example=x[:5], run_id=run_id, client=client)
    return (
        Registry(ws.engine).create_version(name, f"runs:/{run_id}/model", create_model=True).version
    )


class Serving:
    """The inference app for ``spec`` in a uvicorn thread on a free port."""

    def __init__(self, spec: ServeSpec, ws: Workspace, grpc: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if grpc:
            spec.grpc_port = free_port()
            while spec.grpc_port == self.port:
                spec.grpc_port = free_port()
        self.grpc_port = spec.grpc_port
        self.app = create_app(spec, ws)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Serving:
        self._thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("the inference server did not become ready")

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@pytest.fixture
def served(
    sqlite_workspace: Workspace, data: tuple[pd.DataFrame, pd.Series]
) -> Iterator[tuple[Serving, Any, pd.DataFrame]]:
    x, y = data
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    version = _register(sqlite_workspace, model, x)
    Registry(sqlite_workspace.engine).set_alias("bc", "production", version)
    spec = ServeSpec(model_uris=["models:/bc@production"], poll_s=0.2, grace_s=0.5)
    with Serving(spec, sqlite_workspace, grpc=True) as server:
        yield server, model, x


def test_tritonclient_http_metadata_and_infer(served: tuple[Serving, Any, pd.DataFrame]) -> None:
    import tritonclient.http as httpclient

    server, model, x = served
    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("bc")
    meta = client.get_model_metadata("bc")
    assert meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]][:2] == ["mean_radius", "mean_texture"]
    rows = x[:7].to_numpy(dtype=np.float64)
    for binary in (False, True):
        inp = httpclient.InferInput("input", list(rows.shape), "FP64")
        inp.set_data_from_numpy(rows, binary_data=binary)
        out = httpclient.InferRequestedOutput("predict", binary_data=binary)
        result = client.infer("bc", [inp], outputs=[out], request_id="req-1")
        assert result.get_response()["id"] == "req-1"
        assert result.get_response()["model_version"] == "1"
        np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(x[:7]))
    with pytest.raises(Exception, match=r"\[404\] no model or deployment named 'nope'"):
        client.get_model_metadata("nope")


def test_tritonclient_grpc_infer(served: tuple[Serving, Any, pd.DataFrame]) -> None:
    import tritonclient.grpc as grpcclient

    server, model, x = served
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    assert client.is_server_ready()
    assert client.is_model_ready("bc")
    rows = x[:5].to_numpy(dtype=np.float64)
    inp = grpcclient.InferInput("input", list(rows.shape), "FP64")
    inp.set_data_from_numpy(rows)
    result = client.infer("bc", [inp])
    np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(x[:5]))
    bad = grpcclient.InferInput("input", [1, 3], "FP64")
    bad.set_data_from_numpy(np.zeros((1, 3)))
    with pytest.raises(Exception, match="column"):
        client.infer("bc", [bad])
    metrics = httpx.get(server.url + "/metrics").text  # gRPC requests are counted like REST
    counted = {
        line.split("status=")[1][1:4]
        for line in metrics.splitlines()
        if line.startswith("conveyor_serving_requests_total{") and 'protocol="grpc"' in line
    }
    assert counted == {"200", "400"}


def test_server_timing_tells_the_model_call_from_serving(
    served: tuple[Serving, Any, pd.DataFrame],
) -> None:
    server, _, x = served
    body = {"dataframe_split": {"columns": list(x.columns), "data": x[:3].to_numpy().tolist()}}
    started = time.perf_counter()
    r = httpx.post(server.url + "/invocations", json=body)
    total_ms = (time.perf_counter() - started) * 1000
    name, duration = r.headers["server-timing"].split(";dur=")
    assert name == "predict"
    assert 0 < float(duration) < total_ms


def test_mlflow_scoring_payloads(served: tuple[Serving, Any, pd.DataFrame]) -> None:
    server, model, x = served
    rows = x[:4]
    expected = model.predict(rows).tolist()
    split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    bodies = [
        {"dataframe_split": split},
        {
            "dataframe_split": {
                **split,
                "columns": split["columns"][::-1],
                "data": rows[rows.columns[::-1]].to_numpy().tolist(),
            }
        },
        {"dataframe_records": rows.to_dict(orient="records")},
        {"instances": rows.to_dict(orient="records")},
        {"inputs": {c: rows[c].tolist() for c in rows.columns}},
    ]
    with httpx.Client(base_url=server.url) as http:
        for body in bodies:
            r = http.post("/invocations", json=body)
            assert r.status_code == 200, (body.keys(), r.text)
            assert r.json() == {"predictions": expected}
            assert r.headers["x-conveyor-model-version"] == "1"
        csv = io.StringIO()
        rows.to_csv(csv, index=False)
        r = http.post("/invocations", content=csv.getvalue(), headers={"content-type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": expected}
        r = http.post("/predict", json={"data": rows.to_numpy().tolist()})
        assert r.json() == {"predictions": expected}
        assert http.get("/ping").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "needle"),
    [
        ("/invocations", b"{not json", {}, 400, "JSON"),
        (
            "/invocations",
            b'{"dataframe_split": {"columns": ["a"], "data": [[1]]}}',
            {},
            400,
            "mean_radius",
        ),
        (
            "/invocations",
            b'{"dataframe_records": [{"mean_radius": "big"}]}',
            {},
            400,
            "mean_radius",
        ),
        ("/invocations", b'{"wrong_key": []}', {}, 400, "dataframe_split"),
        ("/invocations", b"a,b\n1,2", {"content-type": "application/xml"}, 415, ""),
        (
            "/v2/models/bc/infer",
            b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1]}]}',
            {},
            400,
            "shape",
        ),
        (
            "/v2/models/bc/infer",
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP99", "data": [1]}]}',
            {},
            400,
            "datatype",
        ),
        ("/v2/models/nope/infer", b'{"inputs": []}', {}, 404, "nope"),
        ("/v2/models/bc/versions/7/infer", b'{"inputs": []}', {}, 404, "7"),
        ("/nowhere", b"", {}, 404, ""),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    served: tuple[Serving, Any, pd.DataFrame],
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    needle: str,
) -> None:
    server, _, _ = served
    r = httpx.post(
        server.url + path, content=body, headers={"content-type": "application/json", **headers}
    )
    assert r.status_code == status, r.text
    assert needle in r.text
    assert r.headers["content-type"].startswith("application/json")


def test_body_above_the_limit_is_413(sqlite_workspace: Workspace, data: Any) -> None:
    x, y = data
    _register(sqlite_workspace, DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y), x)
    spec = ServeSpec(model_uris=["models:/bc/1"], max_request_bytes=10_000)
    with Serving(spec, sqlite_workspace) as server:
        big = {"dataframe_split": {"columns": list(x.columns), "data": x.to_numpy().tolist()}}
        r = httpx.post(server.url + "/invocations", json=big)
        assert r.status_code == 413
        assert "larger than 10000 bytes" in r.json()["message"]
        small = {"dataframe_split": {"columns": list(x.columns), "data": x[:1].to_numpy().tolist()}}
        assert httpx.post(server.url + "/invocations", json=small).status_code == 200


def test_hot_swap_under_traffic_fails_no_request(
    sqlite_workspace: Workspace, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    x, y = data
    registry = Registry(sqlite_workspace.engine)
    v1 = _register(
        sqlite_workspace, RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), x
    )
    v2 = _register(
        sqlite_workspace, DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y), x
    )
    registry.set_alias("bc", "production", v1)
    spec = ServeSpec(model_uris=["models:/bc@production"], poll_s=0.1, grace_s=0.5)
    body = {"dataframe_split": {"columns": list(x.columns), "data": x[:3].to_numpy().tolist()}}
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url) as http:
            while not stop.is_set():
                r = http.post("/invocations", json=body)
                seen.append((r.status_code, r.headers.get("x-conveyor-model-version", "")))

    with Serving(spec, sqlite_workspace) as server:
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for version in (v2, v1, v2):
            time.sleep(0.6)
            registry.set_alias("bc", "production", version)
        time.sleep(0.8)
        stop.set()
        for t in threads:
            t.join()
        assert len(seen) > 50
        assert {s for s, _ in seen} == {200}, "a request failed during a hot swap"
        assert {v for _, v in seen} == {str(v1), str(v2)}
        assert seen[-1][1] == str(v2)
        metrics = httpx.get(server.url + "/metrics").text
        assert 'conveyor_serving_route_swaps_total{deployment="bc"}' in metrics


def test_deployment_canary_sticky_shadow_and_replica_state(
    workspace: Workspace, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    x, y = data
    v1 = _register(workspace, RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), x)
    v2 = _register(workspace, DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y), x)
    Registry(workspace.engine).set_alias("bc", "production", v1)
    deployments = Deployments(workspace.engine)
    deployments.create("churn", "models:/bc@production")
    deployments.set_canary("churn", v2, 30, sticky="header:x-User")
    deployments.set_shadows("churn", [(v2, 100)])
    spec = ServeSpec(deployments=["churn"], poll_s=0.1)
    body = {"dataframe_split": {"columns": list(x.columns), "data": x[:2].to_numpy().tolist()}}
    with Serving(spec, workspace) as server, httpx.Client(base_url=server.url) as http:
        versions = [
            http.post("/invocations", json=body).headers["x-conveyor-model-version"]
            for _ in range(300)
        ]
        share = versions.count(str(v2)) / len(versions)
        assert 0.2 < share < 0.4
        sticky = {
            http.post(
                "/deployments/churn/invocations", json=body, headers={"x-user": "alice"}
            ).headers["x-conveyor-route"]
            for _ in range(20)
        }
        assert len(sticky) == 1
        r = http.post(
            "/v2/models/churn/versions/2/infer",
            json={
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, 30],
                        "datatype": "FP64",
                        "data": x[:1].to_numpy().ravel().tolist(),
                    }
                ]
            },
        )
        assert r.json()["model_version"] == "2"
        deployments.clear_traffic("churn")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if http.post("/invocations", json=body).headers[
                "x-conveyor-route"
            ] == "primary" and all(
                http.post("/invocations", json=body).headers["x-conveyor-model-version"] == "1"
                for _ in range(20)
            ):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the replica did not follow the policy change")
        time.sleep(0.3)
        metrics = http.get("/metrics").text
        assert (
            'conveyor_serving_shadow_requests_total{deployment="churn",status="ok",version="2"}'
            in metrics
        )
        deadline = time.monotonic() + 10
        while not deployments.replicas("churn") and time.monotonic() < deadline:
            time.sleep(0.1)
        [replica] = deployments.replicas("churn")
        assert replica["revision"] == deployments.get("churn").revision
        served = {(v["version"], v["role"]) for v in deployments.served_versions("churn")}
        assert {(1, "primary"), (2, "canary"), (2, "shadow")} <= served


def test_metrics_pass_promtool(served: tuple[Serving, Any, pd.DataFrame]) -> None:
    server, _, x = served
    body = {"dataframe_split": {"columns": list(x.columns), "data": x[:2].to_numpy().tolist()}}
    httpx.post(server.url + "/invocations", json=body)
    text = httpx.get(server.url + "/metrics").text
    for name in (
        "conveyor_serving_requests_total",
        "conveyor_serving_request_duration_seconds",
        "conveyor_serving_batch_size",
        "conveyor_serving_model_load_seconds",
        "conveyor_serving_queue_depth",
    ):
        assert name in text
    promtool = shutil.which("promtool")
    if promtool is None and os.environ.get("CONVEYOR_REQUIRE_TOOLS"):
        pytest.fail("promtool is not installed (Debian: apt-get install prometheus)")
    if promtool is not None:
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
