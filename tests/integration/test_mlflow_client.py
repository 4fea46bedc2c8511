"""The unmodified ``mlflow`` client against ``conveyor server``'s MLflow-compatible API."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.tracking import Workspace
from tests.servers import ThreadServer

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import Dataset, DatasetInput, Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server over a fresh SQLite workspace, with mlflow pointed at it."""
    tmp = tmp_path_factory.mktemp("mlflow-compat")
    workspace = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    with pytest.MonkeyPatch.context() as mp, ThreadServer(workspace) as server:
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        mlflow.set_tracking_uri(server.url)
        try:
            yield server.url
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(None)
            mlflow.tracking.fluent._active_experiment_id = None
    workspace.close()


@pytest.fixture
def client(url: str) -> Any:
    return mlflow.MlflowClient(url)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


# experiments


def test_experiment_lifecycle(client: Any) -> None:
    name = _name("exp")
    exp_id = client.create_experiment(name, tags={"team": "vision"})
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == (name, {"team": "vision"}, "active")
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert client.get_experiment_by_name(_name("missing")) is None
    assert client.get_experiment("0").name == "Default"

    client.rename_experiment(exp_id, f"{name}-renamed")
    client.set_experiment_tag(exp_id, "stage", "dev")
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.tags) == (f"{name}-renamed", {"team": "vision", "stage": "dev"})
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"stage": "dev"}

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert exp_id in {e.experiment_id for e in deleted}
    assert exp_id not in {e.experiment_id for e in client.search_experiments()}
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_experiment_errors(client: Any) -> None:
    name = _name("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as exc:
        client.create_experiment(name)
    assert _code(exc) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as exc:
        client.get_experiment("987654")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment("987654")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_search_experiments(client: Any) -> None:
    prefix = _name("search")
    specs = {"alpha": "vision", "beta": "nlp", "Gamma": "vision", "delta": "audio"}
    ids = {
        key: client.create_experiment(f"{prefix}-{key}", tags={"team": team})
        for key, team in specs.items()
    }

    def names(filter_string: str, **kwargs: Any) -> list[str]:
        found = client.search_experiments(filter_string=filter_string, **kwargs)
        return [e.name.removeprefix(f"{prefix}-") for e in found]

    assert names(f"name = '{prefix}-beta'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%'", order_by=["name ASC"]) == sorted(specs)
    assert names(f"name LIKE '{prefix}-g%'") == []
    assert names(f"name ILIKE '{prefix}-g%'") == ["Gamma"]
    both = f"attribute.name LIKE '{prefix}%' AND tags.team = 'vision'"
    assert sorted(names(both)) == ["Gamma", "alpha"]
    assert sorted(names(f"name LIKE '{prefix}%' AND tags.team != 'vision'")) == ["beta", "delta"]
    assert names(f"name LIKE '{prefix}%' AND tags.team ILIKE 'AU%'") == ["delta"]
    newest_first = names(f"name LIKE '{prefix}%'")
    assert newest_first == ["delta", "Gamma", "beta", "alpha"]  # creation_time DESC

    pages, token = [], None
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}%'", max_results=3, page_token=token
        )
        pages.append([e.experiment_id for e in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [3, 1]
    assert sorted(i for page_ids in pages for i in page_ids) == sorted(ids.values())

    with pytest.raises(MlflowException) as exc:
        client.search_experiments(filter_string="name ~ 'x'")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"


# runs


def test_fluent_runs_nested(url: str, client: Any) -> None:
    name = _name("fluent")
    experiment = mlflow.set_experiment(name)
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "me", "team": "vision"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("child_metric", 1.5)
    with mlflow.start_run() as failed:
        pass
    mlflow.end_run()
    client.set_terminated(failed.info.run_id, status="FAILED")

    run = client.get_run(parent.info.run_id)
    assert run.info.experiment_id == experiment.experiment_id
    assert (run.info.run_name, run.info.status) == ("parent", "FINISHED")
    assert run.info.end_time is not None
    assert run.info.end_time >= run.info.start_time
    assert run.data.params == {"lr": "0.01", "layers": "3", "optimizer": "adam"}
    assert run.data.metrics == {"loss": 0.5, "acc": 0.9, "f1": 0.8}
    assert {k: run.data.tags[k] for k in ("stage", "owner", "team", "mlflow.runName")} == {
        "stage": "dev",
        "owner": "me",
        "team": "vision",
        "mlflow.runName": "parent",
    }
    nested = client.get_run(child.info.run_id)
    assert nested.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert nested.data.metrics == {"child_metric": 1.5}
    assert client.get_run(failed.info.run_id).info.status == "FAILED"


def test_metric_history_round_trip(client: Any) -> None:
    exp_id = client.create_experiment(_name("history"))
    run_id = client.create_run(exp_id).info.run_id
    values = [0.25, math.nan, math.inf, -math.inf, -1.5, 1e300, 0.0]
    for step, value in enumerate(values):
        client.log_metric(run_id, "m", value, timestamp=1_700_000_000_000 + step, step=step * 10)
    history = client.get_metric_history(run_id, "m")
    assert [(m.step, m.timestamp) for m in history] == [
        (step * 10, 1_700_000_000_000 + step) for step in range(len(values))
    ]
    assert all(_same(m.value, v) for m, v in zip(history, values, strict=True))
    assert client.get_run(run_id).data.metrics["m"] == 0.0
    assert client.get_metric_history(run_id, "never-logged") == []


def test_log_batch_and_tags(client: Any) -> None:
    exp_id = client.create_experiment(_name("batch"))
    run_id = client.create_run(exp_id, run_name="batched", tags={"a": "1"}).info.run_id
    metrics = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(5)]
    metrics.append(Metric("nan", math.nan, 1_700_000_000_000, 0))
    params = [Param("p1", "x"), Param("p2", "y" * 500)]
    tags = [RunTag("t1", "v1"), RunTag("t2", "v2")]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    run = client.get_run(run_id)
    assert run.info.run_name == "batched"
    assert run.data.params == {"p1": "x", "p2": "y" * 500}
    assert run.data.metrics["loss"] == 0.2
    assert math.isnan(run.data.metrics["nan"])
    assert {"a": "1", "t1": "v1", "t2": "v2"}.items() <= run.data.tags.items()
    history = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.timestamp, m.step) for m in history] == [
        (m.value, m.timestamp, m.step) for m in metrics[:5]
    ]

    # dataset inputs are accepted (and not stored yet: datasets arrive with the registry)
    client.log_inputs(run_id, datasets=[DatasetInput(Dataset("d", "abc123", "local", "{}"))])

    client.delete_tag(run_id, "t1")
    assert "t1" not in client.get_run(run_id).data.tags
    with pytest.raises(MlflowException) as exc:
        client.delete_tag(run_id, "t1")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_param_errors(url: str, client: Any) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "fixed", "1")
    client.log_param(run_id, "fixed", "1")  # same value again is fine
    with pytest.raises(MlflowException) as exc:
        client.log_param(run_id, "fixed", "2")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as exc:
        client.log_param(run_id, "huge", "x" * 6001)
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    # the same limit holds on the server for clients that do not check first
    body = {"run_id": run_id, "key": "huge", "value": "x" * 6001}
    response = httpx.post(f"{url}{API}/runs/log-parameter", json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params == {"fixed": "1"}


def test_missing_run_and_experiment(client: Any) -> None:
    missing = uuid.uuid4().hex
    calls: list[Callable[[], object]] = [
        lambda: client.get_run(missing),
        lambda: client.log_metric(missing, "m", 1.0),
        lambda: client.set_tag(missing, "k", "v"),
        lambda: client.get_metric_history(missing, "m"),
        lambda: client.create_run("987654"),
    ]
    for call in calls:
        with pytest.raises(MlflowException) as exc:
            call()
        assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_delete_and_restore_run(client: Any) -> None:
    exp_id = client.create_experiment(_name("trash"))
    keep = client.create_run(exp_id).info.run_id
    gone = client.create_run(exp_id).info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"

    def ids(view: int) -> set[str]:
        return {r.info.run_id for r in client.search_runs([exp_id], run_view_type=view)}

    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}
    client.restore_run(gone)
    assert ids(ViewType.ACTIVE_ONLY) == {keep, gone}


def _search_fixture(client: Any) -> tuple[str, dict[str, str]]:
    exp_id = client.create_experiment(_name("runs"))
    specs = [
        ("r1", 0.9, "adam", "abc", "FINISHED"),
        ("r2", 0.5, "sgd", "ABD", "FAILED"),
        ("r3", 0.1, "adam", "xyz", "FINISHED"),
        ("r4", 0.7, "sgd", "abx", "RUNNING"),
    ]
    ids = {}
    for name, loss, optimizer, label, status in specs:
        run_id = client.create_run(exp_id, run_name=name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("loss", loss, 1_700_000_000_000, 0)],
            params=[Param("optimizer", optimizer)],
            tags=[RunTag("label", label)],
        )
        if status != "RUNNING":
            client.set_terminated(run_id, status=status)
        ids[name] = run_id
    return exp_id, ids


def test_search_runs(client: Any) -> None:
    exp_id, ids = _search_fixture(client)
    by_id = {v: k for k, v in ids.items()}

    def names(filter_string: str = "", **kwargs: Any) -> list[str]:
        runs = client.search_runs([exp_id], filter_string, **kwargs)
        return [by_id[r.info.run_id] for r in runs]

    assert sorted(names("metrics.loss > 0.5")) == ["r1", "r4"]
    assert sorted(names("metrics.loss <= 0.5")) == ["r2", "r3"]
    assert sorted(names("params.optimizer = 'adam'")) == ["r1", "r3"]
    assert sorted(names("tags.label LIKE 'ab%'")) == ["r1", "r4"]
    assert sorted(names("tags.label ILIKE 'ab%'")) == ["r1", "r2", "r4"]
    assert sorted(names("attributes.status IN ('FINISHED', 'FAILED')")) == ["r1", "r2", "r3"]
    assert names("attributes.run_name = 'r3'") == ["r3"]
    assert names("params.optimizer = 'sgd' AND metrics.loss < 0.6") == ["r2"]
    assert names(order_by=["metrics.loss DESC"]) == ["r1", "r4", "r2", "r3"]
    assert names(order_by=["metrics.loss ASC"]) == ["r3", "r2", "r4", "r1"]

    collected, token, pages = [], None, 0
    while True:
        page = client.search_runs(
            [exp_id], order_by=["metrics.loss DESC"], max_results=3, page_token=token
        )
        collected += [by_id[r.info.run_id] for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert (pages, collected) == (2, ["r1", "r4", "r2", "r3"])

    run = client.search_runs([exp_id], "attributes.run_name = 'r2'")[0]
    assert run.data.params == {"optimizer": "sgd"}
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.tags["label"] == "ABD"

    for bad in ("metrics.loss <", "params.optimizer ~ 'x'", "nonsense"):
        with pytest.raises(MlflowException) as exc:
            client.search_runs([exp_id], bad)
        assert _code(exc) == "INVALID_PARAMETER_VALUE"


# artifacts


def test_artifacts_round_trip(client: Any, tmp_path: Path) -> None:
    run_id = client.create_run(client.create_experiment(_name("artifacts"))).info.run_id
    blob = os.urandom(9 << 20)  # past the 8 MiB in-memory spool: the upload goes to disk
    (tmp_path / "model.bin").write_bytes(blob)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.txt").write_text("beta")
    (tree / "empty.txt").write_bytes(b"")

    client.log_artifact(run_id, str(tmp_path / "model.bin"))
    client.log_artifact(run_id, str(tmp_path / "model.bin"), artifact_path="copies")
    client.log_artifacts(run_id, str(tree), artifact_path="tree")
    client.log_text(run_id, "hello, world", "notes/hello.txt")

    root = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)}
    assert root == {
        ("model.bin", False, len(blob)),
        ("copies", True, None),
        ("tree", True, None),
        ("notes", True, None),
    }
    listed = {(f.path, f.is_dir) for f in client.list_artifacts(run_id, "tree")}
    assert listed == {("tree/a.txt", False), ("tree/empty.txt", False), ("tree/sub", True)}
    assert client.list_artifacts(run_id, "tree/a.txt") == []

    out = tmp_path / "out"
    out.mkdir()
    assert Path(client.download_artifacts(run_id, "model.bin", str(out))).read_bytes() == blob
    local = Path(client.download_artifacts(run_id, "tree", str(out)))
    assert (local / "a.txt").read_text() == "alpha"
    assert (local / "sub" / "b.txt").read_text() == "beta"
    assert (local / "empty.txt").read_bytes() == b""
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello, world"


def test_artifact_proxy_raw(url: str, client: Any) -> None:
    run = client.create_run("0")
    base = f"{url}/api/2.0/mlflow-artifacts/artifacts/0/{run.info.run_id}/artifacts"
    assert httpx.put(f"{base}/x/y.txt", content=b"data").status_code == 200
    assert httpx.get(f"{base}/x/y.txt").content == b"data"
    listing = httpx.get(
        f"{url}/api/2.0/mlflow-artifacts/artifacts",
        params={"path": f"0/{run.info.run_id}/artifacts"},
    )
    assert listing.json() == {"files": [{"path": "x", "is_dir": True}]}
    assert httpx.delete(f"{base}/x").status_code == 200
    missing = httpx.get(f"{base}/x/y.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    escape = httpx.put(f"{base}/..%2F..%2F..%2F..%2Fetc/passwd", content=b"x")
    assert escape.status_code in (400, 404)


# raw requests: malformed input is a 4xx with MLflow's error body, never a 500


def _run_id(url: str) -> str:
    response = httpx.post(f"{url}{API}/runs/create", json={"experiment_id": "0"})
    return str(response.json()["run"]["info"]["run_id"])


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "experiments/create", b"{not json", "JSON"),
        ("POST", "experiments/create", b"[1, 2]", "object"),
        ("POST", "experiments/create", {"name": 12}, "name"),
        ("POST", "experiments/create", {}, "name"),
        ("POST", "experiments/create", {"name": "x", "tags": "nope"}, "tags"),
        ("POST", "runs/create", {"experiment_id": "not-a-number"}, "experiment_id"),
        ("POST", "runs/log-metric", {"run_id": "RUN", "key": "m", "value": "abc"}, "value"),
        ("POST", "runs/log-metric", {"run_id": "RUN", "key": "m", "value": 1}, "timestamp"),
        (
            "POST",
            "runs/log-metric",
            {"run_id": "RUN", "key": "m", "value": 1, "timestamp": "soon"},
            "timestamp",
        ),
        ("POST", "runs/log-batch", {"run_id": "RUN", "metrics": {"a": 1}}, "metrics"),
        ("POST", "runs/log-batch", {"run_id": "RUN", "params": [{"value": "v"}]}, "key"),
        ("POST", "runs/log-batch", {"metrics": []}, "run_id"),
        ("POST", "runs/search", {"experiment_ids": [0]}, "experiment_ids"),
        ("POST", "runs/search", {"experiment_ids": ["0"], "max_results": "many"}, "max_results"),
        ("POST", "runs/search", {"experiment_ids": ["0"], "run_view_type": "SOME"}, "view"),
        ("POST", "runs/update", {"run_id": "RUN", "status": "DANCING"}, "status"),
        ("POST", "experiments/search", {"max_results": 0}, "max_results"),
        ("POST", "experiments/search", {"page_token": "garbage"}, "page_token"),
        ("GET", "runs/get", None, "run_id"),
        ("GET", "runs/get?run_id=" + "z" * 40, None, "run_id"),
        ("GET", "metrics/get-history?run_id=RUN", None, "metric_key"),
        ("GET", "metrics/get-history?run_id=RUN&metric_key=m&max_results=x", None, "max_results"),
    ],
)
def test_malformed_requests(url: str, method: str, path: str, body: Any, field: str) -> None:
    run_id = _run_id(url)
    path = path.replace("RUN", run_id)
    if isinstance(body, dict):
        body = {k: (run_id if v == "RUN" else v) for k, v in body.items()}
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.request(method, f"{url}{API}/{path}", **kwargs)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field.lower() in error["message"].lower()


def test_batch_limits(url: str) -> None:
    run_id = _run_id(url)
    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    too_many: list[dict[str, Any]] = [
        {"metrics": [dict(point, step=i) for i in range(1001)]},
        {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
        {
            "metrics": [dict(point, step=i) for i in range(950)],
            "params": [{"key": f"p{i}", "value": "v"} for i in range(100)],
        },
        {"params": [{"key": "dup", "value": "a"}, {"key": "dup", "value": "b"}]},
    ]
    for extra in too_many:
        response = httpx.post(f"{url}{API}/runs/log-batch", json={"run_id": run_id, **extra})
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    full = {"metrics": [dict(point, step=i) for i in range(1000)]}
    ok = httpx.post(f"{url}{API}/runs/log-batch", json={"run_id": run_id, **full})
    assert ok.status_code == 200, ok.text


def test_unknown_run_and_not_found_shapes(url: str) -> None:
    missing = uuid.uuid4().hex
    body = {"run_id": missing, "metrics": [{"key": "m", "value": 1, "timestamp": 1}]}
    response = httpx.post(f"{url}{API}/runs/log-batch", json=body)
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = httpx.get(f"{url}{API}/experiments/get-by-name", params={"experiment_name": "nx"})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_ajax_prefix_and_wire_format(url: str) -> None:
    run_id = _run_id(url)
    body: dict[str, Any] = {
        "run_id": run_id,
        "key": "m",
        "value": "NaN",
        "timestamp": "5",
        "step": "2",
    }
    assert httpx.post(f"{url}/ajax-api/2.0/mlflow/runs/log-metric", json=body).status_code == 200
    body = {"run_id": run_id, "key": "m", "value": "-Infinity", "timestamp": 6, "step": 3}
    assert httpx.post(f"{url}{API}/runs/log-metric", json=body).status_code == 200
    response = httpx.get(
        f"{url}/ajax-api/2.0/mlflow/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m"},
    )
    assert response.json()["metrics"] == [
        {"key": "m", "value": "NaN", "timestamp": 5, "step": 2},
        {"key": "m", "value": "-Infinity", "timestamp": 6, "step": 3},
    ]
    info = httpx.get(f"{url}{API}/runs/get", params={"run_id": run_id}).json()["run"]["info"]
    assert info["run_id"] == info["run_uuid"] == run_id
    assert info["status"] == "RUNNING"
    assert "end_time" not in info
    bulk = httpx.get(
        f"{url}{API}/metrics/get-history-bulk-interval",
        params={"run_ids": [run_id], "metric_key": "m", "start_step": 0, "end_step": 2},
    )
    assert bulk.json()["metrics"] == [
        {"key": "m", "value": "NaN", "timestamp": 5, "step": 2, "run_id": run_id}
    ]


def test_error_statuses_are_mlflows(url: str, client: Any) -> None:
    import httpx

    name = _name("dup")
    client.create_experiment(name)
    api = f"{url}/api/2.0/mlflow"
    duplicate = httpx.post(f"{api}/experiments/create", json={"name": name})
    assert (duplicate.status_code, duplicate.json()["error_code"]) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    run_id = client.create_run(client.get_experiment_by_name(name).experiment_id).info.run_id
    client.delete_run(run_id)
    logged = httpx.post(
        f"{api}/runs/log-parameter", json={"run_id": run_id, "key": "a", "value": "1"}
    )
    assert (logged.status_code, logged.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    missing = httpx.get(f"{api}/runs/get", params={"run_id": "0" * 32})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
