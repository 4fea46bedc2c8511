"""``/api/v1`` over real HTTP: whole error bodies, size limits, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conveyor.tracking import Workspace
from tests.servers import ThreadServer


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("api")
    workspace = Workspace(f"sqlite:///{tmp}/conveyor.db", str(tmp / "blobs"))
    with (
        ThreadServer(workspace, max_request_bytes=1 << 20) as server,
        httpx.Client(base_url=f"{server.url}/api/v1") as http,
    ):
        yield http
    workspace.close()


def test_not_found_body(api: httpx.Client) -> None:
    response = api.get(f"/runs/{'0' * 32}")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "RESOURCE_DOES_NOT_EXIST",
            "message": f"no run with id {'0' * 32!r}; see `conveyor runs list`",
            "field": "run_id",
        }
    }


def test_conflict_body(api: httpx.Client) -> None:
    assert api.post("/experiments", json={"name": "dup"}).status_code == 201
    response = api.post("/experiments", json={"name": "dup"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "RESOURCE_ALREADY_EXISTS"
    assert response.json()["error"]["field"] == "name"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b'{"experiment_id": "0", "tags": "x"}', "tags"),
        (b'{"experiment_id": 5}', "experiment_id"),
        (b"[]", None),
    ],
)
def test_malformed_bodies_are_400(api: httpx.Client, body: bytes, field: str | None) -> None:
    response = api.post("/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PARAMETER_VALUE"
    if field:
        assert error["field"] == field


def test_bad_metric_values_name_the_field(api: httpx.Client) -> None:
    run_id = api.post("/runs", json={"experiment_id": "0"}).json()["info"]["run_id"]
    response = api.post(f"/runs/{run_id}/batch", json={"metrics": [["m", "abc", 1, 0]]})
    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("metrics")
    response = api.post(f"/runs/{run_id}/batch", json={"metrics": [["m", "NaN", 1, 0]]})
    assert response.status_code == 200
    history = api.get(f"/runs/{run_id}/metrics/m").json()["metrics"]
    assert history == [{"key": "m", "value": "NaN", "timestamp": 1, "step": 0}]


def test_oversized_body_is_413(api: httpx.Client) -> None:
    run_id = api.post("/runs", json={"experiment_id": "0"}).json()["info"]["run_id"]
    big = {"metrics": [["m", 1.0, 1, i] for i in range(60_000)]}  # > 1 MiB of JSON
    response = api.post(f"/runs/{run_id}/batch", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_artifact_uploads_stream_past_the_body_limit(api: httpx.Client) -> None:
    run_id = api.post("/runs", json={"experiment_id": "0"}).json()["info"]["run_id"]
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB, above the 1 MiB JSON limit
    assert api.put(f"/runs/{run_id}/artifacts/big.bin", content=payload).status_code == 201
    assert api.get(f"/runs/{run_id}/artifacts/big.bin").content == payload


def test_unknown_route_is_json_404(api: httpx.Client) -> None:
    response = api.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"


def test_openapi_documents_the_api(api: httpx.Client) -> None:
    spec = api.get("/../../openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/v1/runs", "/api/v1/runs/search", "/api/v1/runs/{run_id}/batch"} <= paths
    assert not any(p.startswith("/api/2.0") for p in paths)
