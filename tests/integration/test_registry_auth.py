"""Registry and audit with ``--auth``: roles per project, no self-approval, actors recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conveyor.errors import PermissionDeniedError
from conveyor.governance import Projects, Tokens, Users
from conveyor.registry.client import registry_client
from conveyor.settings import get_settings
from conveyor.store import events
from conveyor.tracking import Workspace
from conveyor.tracking.remote import HttpClient
from tests.servers import ThreadServer


@dataclass
class Setup:
    url: str
    workspace: Workspace
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("registry-auth")
    ws = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    users, projects, tokens = Users(ws.engine), Projects(ws.engine), Tokens(ws.engine)
    for name in ("ed", "ann", "val", "otto"):
        users.create(name, actor="owner")
    users.create("root", is_admin=True, actor="owner")
    projects.create("fraud", actor="owner")
    projects.grant("default", "ed", "editor", actor="owner")
    projects.grant("default", "ann", "approver", actor="owner")
    projects.grant("default", "val", "viewer", actor="owner")
    projects.grant("fraud", "otto", "editor", actor="owner")
    secrets = {
        u: tokens.create(u, actor="owner").token for u in ("ed", "ann", "val", "otto", "root")
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVEYOR_AUTH_CACHE_TTL_S", "0.2")
        get_settings.cache_clear()
        with ThreadServer(ws, auth=True, monitor_interval_s=0, webhook_interval_s=0) as server:
            yield Setup(server.url, ws, secrets)
    get_settings.cache_clear()
    ws.close()


def _client(setup: Setup, user: str, monkeypatch: pytest.MonkeyPatch) -> HttpClient:
    monkeypatch.setenv("CONVEYOR_TOKEN", setup.tokens[user])
    get_settings.cache_clear()
    try:
        return HttpClient(setup.url)
    finally:
        monkeypatch.delenv("CONVEYOR_TOKEN")
        get_settings.cache_clear()


def test_promotion_needs_another_approver_and_records_who(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    ed = _client(setup, "ed", monkeypatch)
    run = ed.create_run(ed.get_or_create_experiment("churn-auth").experiment_id)
    ed.log_batch(run.info.run_id, params={"C": "0.5"})
    reg = registry_client(ed)
    reg.create_version("churn-auth", f"runs:/{run.info.run_id}/model")
    root = registry_client(_client(setup, "root", monkeypatch))
    root.set_policy("churn-auth", "production")
    with pytest.raises(PermissionDeniedError):  # a project admin sets policies, not an editor
        reg.set_policy("churn-auth", "staging")
    request = reg.promote("churn-auth", 1, "production").request
    assert request is not None
    assert request.requester == "ed"
    val = registry_client(_client(setup, "val", monkeypatch))
    assert val.get_model("churn-auth").name == "churn-auth"  # a viewer reads
    with pytest.raises(PermissionDeniedError):
        val.decide(request.request_id, approve=True)
    with pytest.raises(PermissionDeniedError):
        reg.decide(request.request_id, approve=True)  # an editor is not an approver
    ann = registry_client(_client(setup, "ann", monkeypatch))
    assert ann.decide(request.request_id, approve=True, comment="ok").state == "applied"
    assert val.resolve("models:/churn-auth@production").version == 1
    trail = events.list_events(setup.workspace.engine, subject="models:/churn-auth")
    by_action = {e.action: e.actor for e in trail}
    assert by_action["registry.version_created"] == "ed"
    assert by_action["registry.policy_set"] == "root"
    assert by_action["registry.approval_granted"] == "ann"
    assert by_action["registry.alias_set"] == "ann"
    run_events = events.list_events(setup.workspace.engine, subject=f"runs:/{run.info.run_id}")
    assert [e.action for e in run_events] == ["run.created", "run.logged"]
    assert {e.actor for e in run_events} == {"ed"}
    assert events.verify(setup.workspace.engine).ok


def test_other_projects_models_are_invisible(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    root = registry_client(_client(setup, "root", monkeypatch))
    root.create_model("fraud-model", project="fraud")
    root.create_version("fraud-model", "/models/f1")
    headers = {"Authorization": f"Bearer {setup.tokens['ed']}"}
    with httpx.Client(base_url=f"{setup.url}/api/v1", headers=headers) as ed:
        assert ed.get("/models/fraud-model").status_code == 404
        names = [m["name"] for m in ed.get("/models").json()["models"]]
        assert "fraud-model" not in names
        got = ed.get("/models-resolve", params={"uri": "models:/fraud-model/1"})
        assert got.status_code == 404
        moved = ed.put("/models/fraud-model/aliases/prod", json={"version": 1})
        assert moved.status_code == 404
    headers = {"Authorization": f"Bearer {setup.tokens['otto']}"}
    with httpx.Client(base_url=f"{setup.url}/api/v1", headers=headers) as otto:
        assert otto.put("/models/fraud-model/aliases/prod", json={"version": 1}).status_code == 200
        assert otto.post("/models", json={"name": "x", "project": "default"}).status_code == 403
    with httpx.Client(base_url=f"{setup.url}/api/v1") as anonymous:
        assert anonymous.post("/models", json={"name": "y"}).status_code == 401
