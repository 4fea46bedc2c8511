"""The registry over real HTTP (``/api/v1``) on both databases, through the HTTP registry client."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from conveyor.errors import ConflictError, InvalidArgumentError, NotFoundError
from conveyor.registry.client import HttpRegistryClient, registry_client
from conveyor.tracking import Workspace
from conveyor.tracking.remote import HttpClient
from tests.servers import ThreadServer


@pytest.fixture
def server(workspace: Workspace) -> Iterator[str]:
    with ThreadServer(workspace) as running:
        yield running.url


@pytest.fixture
def http(server: str) -> Iterator[HttpClient]:
    client = HttpClient(server)
    yield client
    client.close()


def test_register_alias_resolve_and_lineage_over_http(http: HttpClient) -> None:
    registry = registry_client(http)
    assert isinstance(registry, HttpRegistryClient)
    exp = http.get_or_create_experiment("reg-http")
    run = http.create_run(exp.experiment_id)
    http.log_batch(run.info.run_id, params={"C": "1.0"})
    version = registry.create_version("churn", f"runs:/{run.info.run_id}/model")
    assert (version.version, version.run_id) == (1, run.info.run_id)
    assert registry.set_alias("churn", "production", 1) is None
    assert registry.resolve("models:/churn@production").source == f"runs:/{run.info.run_id}/model"
    model = registry.get_model("churn")
    assert model.aliases == {"production": 1}
    graph = registry.lineage("models:/churn@production")
    assert graph["run"]["run_id"] == run.info.run_id
    assert graph["run"]["params"] == {"C": "1.0"}
    back = registry.lineage(f"runs:/{run.info.run_id}")
    assert [v["uri"] for v in back["model_versions"]] == ["models:/churn/1"]
    assert back["model_versions"][0]["aliases"] == ["production"]


def test_errors_name_the_field(http: HttpClient, server: str) -> None:
    registry = registry_client(http)
    with pytest.raises(NotFoundError) as err:
        registry.get_model("nope")
    assert err.value.field == "name"
    with pytest.raises(InvalidArgumentError) as err:
        registry.resolve("models:/x")
    assert err.value.field == "model_uri"
    registry.create_version("m", "/models/m", create_model=True)
    with pytest.raises(InvalidArgumentError) as err:
        registry.set_alias("m", "latest", 1)
    assert err.value.field == "alias"
    raw = httpx.put(f"{server}/api/v1/models/m/aliases/prod", json={"version": "x"})
    assert raw.status_code == 400
    assert "version" in raw.text
    raw = httpx.get(f"{server}/api/v1/models-resolve", params={"uri": "models:/m/99"})
    assert raw.status_code == 404
    assert raw.json()["error"]["field"] == "version"


def test_approval_flow_over_http(http: HttpClient, server: str) -> None:
    registry = registry_client(http)
    registry.create_version("m", "/models/1", create_model=True)
    registry.create_version("m", "/models/2")
    registry.set_policy("m", "production")
    with pytest.raises(ConflictError, match="approval"):
        registry.set_alias("m", "production", 1)
    promotion = registry.promote("m", 2, "production", comment="ship it")
    assert promotion.state == "pending"
    assert promotion.request is not None
    # the same local user requested it: self-approval is refused with 403
    raw = httpx.post(f"{server}/api/v1/approvals/{promotion.request.request_id}/approve", json={})
    assert raw.status_code == 403
    assert "cannot approve" in raw.json()["error"]["message"]
    assert [r.request_id for r in registry.requests(state="pending")] == [
        promotion.request.request_id
    ]
    assert registry.cancel_request(promotion.request.request_id).state == "cancelled"
    assert [p.alias for p in registry.policies("m")] == ["production"]


def test_parallel_promotions_over_http_have_one_winner(server: str) -> None:
    setup = HttpClient(server)
    registry = registry_client(setup)
    for i in range(3):
        registry.create_version("race", f"/models/{i}", create_model=True)
    registry.set_alias("race", "production", 1)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def promote(version: int, seen: int) -> None:
        client = HttpClient(server)
        try:
            barrier.wait()
            body = {"version": version, "alias": "production", "expected_version": seen}
            response = client._http.post("/models/race/promote", json=body)
            outcomes.append(response.status_code)
        finally:
            client.close()

    # each round, two clients that both saw the alias at `start` race to move it
    for _ in range(3):
        outcomes.clear()
        barrier.reset()
        start = registry.resolve("models:/race@production").version
        target = tuple(v for v in (1, 2, 3) if v != start)
        threads = [threading.Thread(target=promote, args=(v, start)) for v in target]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == [200, 409]
        assert registry.resolve("models:/race@production").version in target
    setup.close()
