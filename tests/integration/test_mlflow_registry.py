"""The unmodified ``mlflow`` client's model registry against ``conveyor server``, both databases."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.registry.approvals import Approvals
from conveyor.registry.service import Registry
from conveyor.server.mlflow_compat.registry import parse_filter
from conveyor.store.events import list_events
from conveyor.tracking import Workspace
from tests.servers import ThreadServer

mlflow = pytest.importorskip("mlflow")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
with warnings.catch_warnings():  # pyfunc's import warns about its own type hints
    warnings.simplefilter("ignore")
    import mlflow.pyfunc
    import mlflow.sklearn
from mlflow.exceptions import MlflowException  # noqa: E402

API = "/api/2.0/mlflow"
X = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 0.9], [0.9, 1.1]])
Y = np.array([0, 0, 1, 1])


@pytest.fixture
def url(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server over a fresh workspace (SQLite and PostgreSQL), with mlflow pointed at it."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    with ThreadServer(workspace) as server:
        mlflow.set_tracking_uri(server.url)
        mlflow.set_registry_uri(server.url)
        try:
            yield server.url
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
            mlflow.tracking.fluent._active_experiment_id = None


@pytest.fixture
def client(url: str) -> Any:
    return mlflow.MlflowClient(url, registry_uri=url)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def _run_with_files(client: Any) -> str:
    """A finished run with a (non-MLflow) file under ``model/``: a registrable source."""
    run = client.create_run("0")
    client.log_text(run.info.run_id, "weights", "model/weights.txt")
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def _fit() -> Any:
    return sklearn_linear.LogisticRegression().fit(X, Y)


def test_registered_model_lifecycle(client: Any) -> None:
    name = _name("churn")
    created = client.create_registered_model(
        name, tags={"team": "risk"}, description="predicts churn"
    )
    assert (created.name, created.description, created.tags) == (
        name,
        "predicts churn",
        {"team": "risk"},
    )
    assert created.creation_timestamp > 0
    client.update_registered_model(name, description="v2")
    client.set_registered_model_tag(name, "tier", "gold")
    client.delete_registered_model_tag(name, "team")
    model = client.get_registered_model(name)
    assert (model.description, model.tags, model.latest_versions) == ("v2", {"tier": "gold"}, [])
    client.rename_registered_model(name, f"{name}-b")
    assert client.get_registered_model(f"{name}-b").description == "v2"
    with pytest.raises(MlflowException) as exc:
        client.get_registered_model(name)
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model(f"{name}-b")
    assert client.search_registered_models(filter_string=f"name = '{name}-b'") == []


def test_errors_use_mlflow_codes(client: Any, url: str) -> None:
    name = _name("dup")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        client.create_registered_model(name)
    assert _code(exc) == "RESOURCE_ALREADY_EXISTS"
    response = httpx.post(f"{url}{API}/registered-models/create", json={"name": name})
    assert (response.status_code, response.json()["error_code"]) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    missing = httpx.get(f"{url}{API}/model-versions/get", params={"name": name, "version": "7"})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    bad = httpx.get(f"{url}{API}/registered-models/search", params={"filter": "owner = 'x'"})
    assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "filter" in bad.json()["message"]
    with pytest.raises(MlflowException) as exc:
        client.get_model_version_by_alias(name, "production")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as exc:
        client.create_model_version(name, "runs:/0123456789abcdef/model", run_id="0123456789abcdef")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.filterwarnings("ignore:.*Model registry stages:FutureWarning")
def test_versions_stages_tags_and_search(client: Any) -> None:
    name = _name("fraud")
    client.create_registered_model(name)
    run_id = _run_with_files(client)
    first = client.create_model_version(
        name, f"runs:/{run_id}/model", run_id=run_id, tags={"data": "v1"}, description="first"
    )
    second = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert (first.version, second.version) == ("1", "2")
    assert (first.run_id, first.current_stage, first.status) == (run_id, "None", "READY")
    assert (first.tags, first.description) == ({"data": "v1"}, "first")

    client.transition_model_version_stage(name, "1", "Production")
    moved = client.transition_model_version_stage(
        name, "2", "production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    assert {v.version for v in client.get_registered_model(name).latest_versions} == {"1", "2"}

    client.update_model_version(name, "2", description="better")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.delete_model_version_tag(name, "1", "data")
    version = client.get_model_version(name, "2")
    assert (version.description, version.tags) == ("better", {"validated": "yes"})
    assert client.get_model_version(name, "1").tags == {}

    by_name = client.search_model_versions(f"name = '{name}'")
    assert [v.version for v in by_name] == ["2", "1"]
    by_run = client.search_model_versions(f"run_id = '{run_id}'")
    assert {(v.name, v.version) for v in by_run} == {(name, "1"), (name, "2")}
    tagged = client.search_model_versions(f"name = '{name}' AND tags.validated = 'yes'")
    assert [v.version for v in tagged] == ["2"]
    page = client.search_model_versions(f"name = '{name}'", max_results=1)
    assert len(page) == 1
    assert page.token
    rest = client.search_model_versions(f"name = '{name}'", max_results=1, page_token=page.token)
    assert [v.version for v in rest] == ["1"]

    assert client.get_model_version_download_uri(name, "1").endswith(f"/{run_id}/artifacts/model")
    client.delete_model_version(name, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["2"]


def test_search_registered_models(client: Any) -> None:
    prefix = _name("search")
    for suffix in ("alpha", "beta", "Gamma"):
        client.create_registered_model(f"{prefix}-{suffix}", tags={"k": suffix})

    def names(filter_string: str, **kwargs: Any) -> list[str]:
        found = client.search_registered_models(filter_string=filter_string, **kwargs)
        return [m.name.removeprefix(f"{prefix}-") for m in found]

    assert names(f"name LIKE '{prefix}-%'") == ["Gamma", "alpha", "beta"]
    assert names(f"name ILIKE '{prefix}-g%'") == ["Gamma"]
    assert names(f"name = '{prefix}-beta'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%' AND tags.k = 'alpha'") == ["alpha"]
    assert names(f"name LIKE '{prefix}-%'", order_by=["name DESC"]) == ["beta", "alpha", "Gamma"]
    first = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2)
    assert len(first) == 2
    rest = client.search_registered_models(
        f"name LIKE '{prefix}-%'", max_results=2, page_token=first.token
    )
    assert [m.name for m in rest] == [f"{prefix}-beta"]


def test_aliases(client: Any, workspace: Workspace) -> None:
    name = _name("aliased")
    client.create_registered_model(name)
    run_id = _run_with_files(client)
    for _ in range(2):
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(name, "production", "1")
    client.set_registered_model_alias(name, "challenger", 2)
    assert client.get_model_version_by_alias(name, "production").version == "1"
    model = client.get_registered_model(name)
    assert model.aliases == {"challenger": "2", "production": "1"}
    assert client.get_model_version(name, "2").aliases == ["challenger"]
    client.set_registered_model_alias(name, "production", "2")
    assert client.get_model_version_by_alias(name, "production").aliases == [
        "challenger",
        "production",
    ]
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"production": "2"}
    events = [e.action for e in list_events(workspace.engine, subject=f"models:/{name}")]
    assert events.count("registry.alias_set") == 3
    assert "registry.alias_deleted" in events


def test_alias_under_approval_policy_is_refused(client: Any, workspace: Workspace) -> None:
    name = _name("guarded")
    client.create_registered_model(name)
    run_id = _run_with_files(client)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    Approvals(Registry(workspace.engine)).set_policy(name, "production", required=1)
    with pytest.raises(MlflowException) as exc:
        client.set_registered_model_alias(name, "production", "1")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    assert "approval" in str(exc.value)


def test_log_model_register_alias_and_load(client: Any) -> None:
    """MLflow 3's log_model (logged models) + registry + models:/name@alias, end to end."""
    name = _name("churn")
    mlflow.set_experiment(_name("exp"))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            _fit(), name="model", registered_model_name=name, pip_requirements=["scikit-learn"]
        )
    assert info.registered_model_version == "1"
    version = client.get_model_version(name, "1")
    assert (version.run_id, version.source) == (run.info.run_id, f"runs:/{run.info.run_id}/model")
    logged = client.get_logged_model(info.model_id)
    assert (logged.source_run_id, logged.name) == (run.info.run_id, "model")
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string="name = 'model'"
    )
    assert [m.model_id for m in found] == [info.model_id]

    client.set_registered_model_alias(name, "production", "1")
    assert client.get_model_version_by_alias(name, "production").version == "1"
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@production")
    assert list(loaded.predict(X)) == list(Y)
    sk = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert list(sk.predict(X)) == list(Y)

    again = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert (again.version, again.run_id) == ("2", run.info.run_id)
    client.set_registered_model_alias(name, "production", "2")
    reloaded = mlflow.pyfunc.load_model(f"models:/{name}@production")
    assert list(reloaded.predict(X)) == list(Y)


def test_register_model_from_run_artifacts(client: Any, tmp_path: Any) -> None:
    """An MLflow 2 style model (files under the run's artifacts) registers by runs:/ URI."""
    name = _name("legacy")
    model_dir = tmp_path / "model"
    mlflow.sklearn.save_model(_fit(), model_dir, pip_requirements=["scikit-learn"])
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    client.set_registered_model_alias(name, "champion", "1")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict(X)) == list(Y)


def test_ajax_prefix_serves_the_registry(client: Any, url: str) -> None:
    name = _name("ui")
    client.create_registered_model(name)
    response = httpx.get(f"{url}/ajax-api/2.0/mlflow/registered-models/get", params={"name": name})
    assert response.status_code == 200
    body = response.json()["registered_model"]
    assert (body["name"], body["tags"], body["aliases"]) == (name, [], [])


def test_filter_grammar() -> None:
    """The registry filter: MLflow's keys, comparators, quoting and IN lists."""
    keys = frozenset({"name", "run_id"})
    clauses = parse_filter(
        "name ILIKE 'Churn%' and tag.`mlflow.prompt.is_prompt` != 'true' "
        "AND run_id IN ('a', \"b\") AND tags.team = 'it''s'",
        keys,
    )
    assert [(c.key, c.op, c.values) for c in clauses] == [
        ("name", "ILIKE", ("Churn%",)),
        ("tags.mlflow.prompt.is_prompt", "!=", ("true",)),
        ("run_id", "IN", ("a", "b")),
        ("tags.team", "=", ("it's",)),
    ]
    assert clauses[0].matches("churn-v2")
    assert not clauses[0].matches("fraud")
    assert clauses[1].matches(None)
    assert clauses[2].matches("b")
    assert not clauses[2].matches("c")
    assert parse_filter("", keys) == []
    for bad in ("owner = 'x'", "name = 'x' OR name = 'y'", "run_id IN 'a'", "name = x"):
        with pytest.raises(InvalidArgumentError, match="filter"):
            parse_filter(bad, keys)
