"""Shadow experiments end to end: a served deployment logs its predictions and its shadow's,
feedback arrives over REST, and the report compares the two versions on those labels."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.serving.client import deployments_client
from conveyor.serving.deployments import Deployments
from conveyor.serving.factory import ServeSpec
from conveyor.tracking import LocalClient, Workspace
from conveyor.tracking.remote import HttpClient
from tests.integration.test_serving_http import Serving
from tests.servers import ThreadServer

N = 200


def _register(ws: Workspace, model: Any, x: pd.DataFrame) -> int:
    client = LocalClient(workspace=ws)
    exp = client.get_or_create_experiment("experiments")
    run_id = client.create_run(exp.experiment_id).info.run_id
    log_model(model, "model", input_example=x[:5], run_id=run_id, client=client)
    registry = Registry(ws.engine)
    return registry.create_version("bc", f"runs:/{run_id}/model", create_model=True).version


def _report(http: httpx.Client, want_pairs: int) -> dict[str, Any]:
    """The report once the replica has flushed every pair (windows are 0.5 s)."""
    deadline = time.monotonic() + 20
    while True:
        r = http.get("/api/v1/deployments/churn/report", params={"since_ms": 0})
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        shadows = report["shadows"]
        if shadows and shadows[0]["report"]["n_pairs"] >= want_pairs:
            return report
        if time.monotonic() > deadline:
            pytest.fail(f"the report never reached {want_pairs} pairs: {report}")
        time.sleep(0.2)


def test_shadow_report_over_served_traffic_and_feedback(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [c.replace(" ", "_") for c in x.columns]
    champion = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    challenger = DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y)
    v1, v2 = _register(ws, champion, x), _register(ws, challenger, x)
    Registry(ws.engine).set_alias("bc", "production", v1)
    deployments = Deployments(ws.engine)
    deployments.create("churn", "models:/bc@production")
    deployments.set_shadows("churn", [(v2, 100)])
    spec = ServeSpec(deployments=["churn"], poll_s=0.1, window_s=0.5)
    rows = x.iloc[:N]
    with (
        Serving(spec, ws) as serving,
        ThreadServer(ws) as store,
        httpx.Client(base_url=serving.url) as infer,
        httpx.Client(base_url=store.url) as api,
    ):
        for i in range(N):
            body = {
                "dataframe_split": {"columns": list(x.columns), "data": [rows.iloc[i].tolist()]}
            }
            r = infer.post("/invocations", json=body, headers={"x-request-id": f"req-{i}"})
            assert r.status_code == 200, r.text
            assert r.headers["x-conveyor-model-version"] == str(v1)
        labelled = list(range(0, N, 2))
        sdk = deployments_client(HttpClient(store.url))  # the SDK over REST
        done = sdk.feedback(
            "churn", [f"req-{i}" for i in labelled], [int(y.iloc[i]) for i in labelled]
        )
        assert done == {"deployment": "churn", "received": N // 2}
        report = _report(api, N)
        assert sdk.report("churn", since_ms=0, task="classification") == report
        bad = api.post(
            "/api/v1/deployments/churn/feedback", json={"request_ids": ["a", "b"], "values": [1]}
        )
        missing = api.post(
            "/api/v1/deployments/nope/feedback", json={"request_id": "a", "value": 1}
        )
        single = api.post(
            "/api/v1/deployments/churn/feedback", json={"request_id": "a", "value": [1]}
        )
    [shadow] = report["shadows"]
    assert (shadow["version"], shadow["champion_versions"], shadow["task"]) == (
        v2,
        [v1],
        "classification",
    )
    got = shadow["report"]
    champ_pred, chal_pred = champion.predict(rows), challenger.predict(rows)
    assert got["n_pairs"] == N
    assert got["agreement_rate"] == pytest.approx((champ_pred == chal_pred).mean())
    assert got["agreement_rate"] < 1
    metric = got["metric"]
    truth = y.iloc[labelled].to_numpy()
    assert metric["n_labeled"] == N // 2
    assert metric["champion"] == pytest.approx((champ_pred[labelled] == truth).mean())
    assert metric["challenger"] == pytest.approx((chal_pred[labelled] == truth).mean())
    low, high = metric["ci"]
    assert low <= metric["difference"] <= high
    assert got["error_rate"]["n_a"] == got["error_rate"]["n_b"] == N
    assert got["latency"]["champion_p50_s"] is not None
    assert got["prediction_shift"]["psi"] >= 0
    assert bad.status_code == 400
    assert bad.json() == {
        "error": {
            "code": "INVALID_PARAMETER_VALUE",
            "message": "request_ids and values must have the same length; got 2 ids and 1 values",
            "field": "values",
        }
    }
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "name"
    assert single.status_code == 400
    assert single.json()["error"]["field"] == "value"
