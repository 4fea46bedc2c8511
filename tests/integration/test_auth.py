"""``conveyor server --auth`` over real HTTP: tokens, roles, projects, and what never leaks."""

from __future__ import annotations

import base64
import importlib
import logging
import pkgutil
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from conveyor.governance import Projects, Tokens, Users
from conveyor.server import create_app, mlflow_compat
from conveyor.server.mlflow_compat import ARTIFACT_PREFIXES, TRACKING_PREFIXES
from conveyor.settings import get_settings
from conveyor.tracking import Workspace
from tests.servers import ThreadServer

READS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Setup:
    url: str
    workspace: Workspace
    tokens: dict[str, str]  # user -> secret


def _bootstrap(ws: Workspace) -> dict[str, str]:
    """alice: admin; viewer: viewer in default; bob, carol: editors of a, b; dave: viewer of a."""
    users, projects, tokens = Users(ws.engine), Projects(ws.engine), Tokens(ws.engine)
    users.create("alice", is_admin=True, actor="owner")
    for name in ("viewer", "bob", "carol", "dave"):
        users.create(name, actor="owner")
    projects.create("a", actor="owner")
    projects.create("b", actor="owner")
    projects.grant("default", "viewer", "viewer", actor="owner")
    projects.grant("a", "bob", "editor", actor="owner")
    projects.grant("b", "carol", "editor", actor="owner")
    projects.grant("a", "dave", "viewer", actor="owner")
    names = ("alice", "viewer", "bob", "carol", "dave")
    return {name: tokens.create(name, actor="owner").token for name in names}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("auth")
    ws = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    tokens = _bootstrap(ws)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVEYOR_AUTH_CACHE_TTL_S", "0.2")
        get_settings.cache_clear()
        with ThreadServer(ws, auth=True, monitor_interval_s=0, webhook_interval_s=0) as server:
            yield Setup(server.url, ws, tokens)
    get_settings.cache_clear()
    ws.close()


def _api(setup: Setup, user: str | None) -> httpx.Client:
    headers = {} if user is None else {"Authorization": f"Bearer {setup.tokens[user]}"}
    return httpx.Client(base_url=setup.url, headers=headers, timeout=30)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _mlflow_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the MLflow API: each ``mlflow_compat`` module's router."""
    found: list[tuple[str, str]] = []
    for info in pkgutil.iter_modules(mlflow_compat.__path__):
        module = importlib.import_module(f"{mlflow_compat.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            continue
        prefixes = ARTIFACT_PREFIXES if info.name == "artifacts" else TRACKING_PREFIXES
        found += [
            (m, prefix + r.path)
            for prefix in prefixes
            for r in router.routes
            if isinstance(r, APIRoute)
            for m in r.methods or ()
        ]
    return found


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI document plus the MLflow API."""
    ws = Workspace(f"sqlite:///{tmp_path}/routes.db", str(tmp_path / "blobs"))
    app = create_app(ws, auth=True, monitor_interval_s=0, webhook_interval_s=0)
    found = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    found += [("GET", "/metrics"), ("GET", "/openapi.json"), *_mlflow_routes()]
    ws.close()
    return sorted({(m, _concrete(p)) for m, p in found})


def test_every_route_without_a_token_is_401(setup: Setup, tmp_path: Path) -> None:
    routes = _routes(tmp_path)
    assert len(routes) > 60  # native, MLflow (two prefixes), artifacts, identity, webhooks
    assert any(p.startswith("/api/2.0/mlflow/") for _, p in routes)
    with _api(setup, None) as api:
        for method, path in routes:
            response = api.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert api.get("/health").status_code == 200


def test_every_write_route_with_a_viewer_token_is_403(setup: Setup, tmp_path: Path) -> None:
    writes = [(m, p) for m, p in _routes(tmp_path) if m not in READS and not p.endswith("search")]
    assert len(writes) > 30
    # Self-managed objects that do not exist for the caller answer 404, not 403.
    hidden = ("/api/v1/tokens/", "/api/v1/webhooks/")
    with _api(setup, "viewer") as api:
        for method, path in writes:
            response = api.request(method, path, json={})
            expected = 404 if path.startswith(hidden) else 403
            assert response.status_code == expected, (method, path, response.text)


def test_a_user_of_one_project_sees_nothing_of_another(setup: Setup) -> None:
    with _api(setup, "bob") as bob, _api(setup, "carol") as carol:
        exp = bob.post("/api/v1/experiments", json={"name": "secret-a", "project": "a"})
        assert exp.status_code == 201, exp.text
        exp_id = exp.json()["experiment_id"]
        run = bob.post("/api/v1/runs", json={"experiment_id": exp_id}).json()
        run_id = run["info"]["run_id"]
        batch = {"metrics": [["loss", 0.5, 1, 0]]}
        assert bob.post(f"/api/v1/runs/{run_id}/batch", json=batch).status_code == 200

        listed = carol.get("/api/v1/experiments").json()["experiments"]
        assert exp_id not in {e["experiment_id"] for e in listed}
        assert carol.get(f"/api/v1/experiments/{exp_id}").status_code == 404
        assert carol.get("/api/v1/experiments/by-name/secret-a").status_code == 404
        assert carol.get(f"/api/v1/runs/{run_id}").status_code == 404
        assert carol.post(f"/api/v1/runs/{run_id}/batch", json=batch).status_code == 404
        found = carol.post("/api/v1/runs/search", json={"experiment_ids": [exp_id]})
        assert found.status_code == 200
        assert found.json()["runs"] == []
        # The MLflow API hides it the same way.
        mlflow_get = carol.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
        assert mlflow_get.status_code == 404
        assert mlflow_get.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        searched = carol.post(
            "/api/2.0/mlflow/experiments/search", json={"max_results": 1000}
        ).json()
        assert "secret-a" not in {e["name"] for e in searched.get("experiments", [])}
        runs = carol.post("/api/2.0/mlflow/runs/search", json={"experiment_ids": [exp_id]})
        assert runs.json().get("runs", []) == []
        artifacts = carol.get(f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/x")
        assert artifacts.status_code == 404
        # Creating in a project where one holds no role is refused.
        other = carol.post("/api/v1/experiments", json={"name": "sneak", "project": "a"})
        assert other.status_code == 403
        assert bob.get(f"/api/v1/runs/{run_id}").status_code == 200


def test_a_viewer_of_a_project_reads_but_does_not_write(setup: Setup) -> None:
    with _api(setup, "bob") as bob, _api(setup, "dave") as dave:
        exp_id = bob.post("/api/v1/experiments", json={"name": "shared-a", "project": "a"}).json()[
            "experiment_id"
        ]
        run_id = bob.post("/api/v1/runs", json={"experiment_id": exp_id}).json()["info"]["run_id"]
        assert dave.get(f"/api/v1/runs/{run_id}").status_code == 200
        batch = {"params": {"lr": "0.1"}}
        denied = dave.post(f"/api/v1/runs/{run_id}/batch", json=batch)
        # dave holds no editor role anywhere: the coarse rule answers before the route.
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "PERMISSION_DENIED"


def test_an_editor_elsewhere_cannot_write_to_a_project_they_only_view(setup: Setup) -> None:
    Projects(setup.workspace.engine).grant("b", "dave", "editor", actor="test")
    try:
        time.sleep(0.3)  # the server's token cache (TTL 0.2 s here) picks up the new role
        with _api(setup, "bob") as bob, _api(setup, "dave") as dave:
            exp_id = bob.post(
                "/api/v1/experiments", json={"name": "view-only-a", "project": "a"}
            ).json()["experiment_id"]
            run_id = bob.post("/api/v1/runs", json={"experiment_id": exp_id}).json()["info"][
                "run_id"
            ]
            denied = dave.post(f"/api/v1/runs/{run_id}/batch", json={"params": {"x": "1"}})
            assert denied.status_code == 403
            assert "project 'a'" in denied.json()["error"]["message"]
            mlflow_denied = dave.post(
                "/api/2.0/mlflow/runs/log-parameter",
                json={"run_id": run_id, "key": "x", "value": "1"},
            )
            assert mlflow_denied.status_code == 403
            assert mlflow_denied.json()["error_code"] == "PERMISSION_DENIED"
    finally:
        Projects(setup.workspace.engine).revoke("b", "dave", actor="test")


def test_revoked_and_expired_tokens_are_401(setup: Setup) -> None:
    tokens = Tokens(setup.workspace.engine)
    used = tokens.create("bob", actor="test")
    with httpx.Client(base_url=setup.url, timeout=30) as api:
        auth = {"Authorization": f"Bearer {used.token}"}
        assert api.get("/api/v1/users/me", headers=auth).status_code == 200
        tokens.revoke(used.info.token_id, actor="test")
        time.sleep(0.3)  # past the cache TTL
        assert api.get("/api/v1/users/me", headers=auth).status_code == 401

        short = tokens.create("bob", expires_in_s=0.3, actor="test")
        short_auth = {"Authorization": f"Bearer {short.token}"}
        assert api.get("/api/v1/users/me", headers=short_auth).status_code == 200
        time.sleep(0.4)
        assert api.get("/api/v1/users/me", headers=short_auth).status_code == 401
        forged = used.token[:-4] + "AAAA"
        assert (
            api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code
            == 401
        )
        assert (
            api.get("/api/v1/users/me", headers={"Authorization": "Bearer nonsense"}).status_code
            == 401
        )


def test_basic_auth_with_the_token_as_password(setup: Setup) -> None:
    credentials = base64.b64encode(f"bob:{setup.tokens['bob']}".encode()).decode()
    with httpx.Client(base_url=setup.url, timeout=30) as api:
        me = api.get("/api/v1/users/me", headers={"Authorization": f"Basic {credentials}"})
        assert me.status_code == 200
        assert me.json() == {"name": "bob", "is_admin": False, "roles": {"a": "editor"}}


def test_token_secrets_never_leak(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with _api(setup, "alice") as alice, _api(setup, "bob") as bob:
        created = alice.post("/api/v1/tokens", json={"user": "bob", "description": "ci"})
        assert created.status_code == 201
        secret = created.json()["token"]
        assert secret.startswith("cvy_")
        token_id = created.json()["info"]["token_id"]
        bodies = [
            alice.get("/api/v1/tokens").text,
            alice.get("/api/v1/tokens", params={"user": "bob"}).text,
            bob.get("/api/v1/tokens").text,
            alice.get("/api/v1/audit/events").text,  # not a route today; must not echo anything
        ]
        used = httpx.get(
            f"{setup.url}/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}
        )
        assert used.status_code == 200
        listed = {t["token_id"]: t for t in bob.get("/api/v1/tokens").json()["tokens"]}
        assert listed[token_id]["prefix"] == f"cvy_{token_id}_"
        assert set(listed[token_id]) == {
            "token_id",
            "user",
            "prefix",
            "description",
            "created_time",
            "expires_time",
            "revoked_time",
            "last_used_time",
        }
        revoked = bob.delete(f"/api/v1/tokens/{token_id}")
        assert revoked.status_code == 200
        bodies.append(revoked.text)
    secret_part = secret.rsplit("_", 1)[1]
    for text in [*bodies, caplog.text]:
        assert secret_part not in text
    with setup.workspace.engine.connect() as conn:
        from sqlalchemy import select

        from conveyor.store import schema

        events = conn.execute(select(schema.events.c.payload)).scalars().all()
        stored = conn.execute(select(schema.tokens.c.token_hash)).scalars().all()
    assert not any(secret_part in p for p in events)
    assert not any(secret_part in h for h in stored)


def test_users_manage_only_their_own_tokens(setup: Setup) -> None:
    with _api(setup, "bob") as bob, _api(setup, "carol") as carol:
        bob_tokens = bob.get("/api/v1/tokens").json()["tokens"]
        assert bob_tokens
        assert all(t["user"] == "bob" for t in bob_tokens)
        assert carol.get("/api/v1/tokens", params={"user": "bob"}).status_code == 403
        assert carol.delete(f"/api/v1/tokens/{bob_tokens[0]['token_id']}").status_code == 404
        assert carol.post("/api/v1/tokens", json={"user": "carol"}).status_code == 403
        assert carol.get("/api/v1/users").status_code == 403
        assert carol.get("/api/v1/projects").json()["projects"][0]["name"] == "b"


def test_admins_manage_users_projects_and_members(setup: Setup) -> None:
    with _api(setup, "alice") as alice:
        assert alice.post("/api/v1/users", json={"name": "erin"}).status_code == 201
        assert alice.post("/api/v1/projects", json={"name": "c"}).status_code == 201
        granted = alice.put("/api/v1/projects/c/members/erin", json={"role": "approver"})
        assert granted.json()["role"] == "approver"
        members = alice.get("/api/v1/projects/c/members").json()["members"]
        assert [(m["user"], m["role"]) for m in members] == [("erin", "approver")]
        bad = alice.put("/api/v1/projects/c/members/erin", json={"role": "owner"})
        assert bad.status_code == 400
        assert alice.post("/api/v1/users/erin/disable").json()["active"] is False
        with_token = alice.post("/api/v1/tokens", json={"user": "erin"})
        assert with_token.status_code == 400
        assert "disabled" in with_token.json()["error"]["message"]


def test_the_mlflow_client_works_with_a_tracking_token(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", setup.tokens["bob"])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = mlflow.MlflowClient(setup.url)
    exp_id = client.create_experiment("mlflow-a", tags={"conveyor.project": "a"})
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "acc", 0.9)
    assert client.get_run(run.info.run_id).data.metrics == {"acc": 0.9}
    with _api(setup, "carol") as carol:
        assert carol.get(f"/api/v1/experiments/{exp_id}").status_code == 404
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", setup.tokens["carol"])
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"RESOURCE_DOES_NOT_EXIST|no run"):
        mlflow.MlflowClient(setup.url).get_run(run.info.run_id)
