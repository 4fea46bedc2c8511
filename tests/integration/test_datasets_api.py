"""Datasets over real HTTP: the remote client logs, reads, diffs; bad input gets a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from conveyor.data.snapshot import parquet_bytes, to_table
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.tracking import LocalClient, Workspace
from conveyor.tracking.remote import HttpClient
from tests.servers import ThreadServer


@pytest.fixture
def served(workspace: Workspace) -> Iterator[tuple[HttpClient, LocalClient, str]]:
    with ThreadServer(workspace) as server:
        remote = HttpClient(server.url)
        yield remote, LocalClient(workspace=workspace), server.url
        remote.close()


PARQUET = {"content-type": "application/vnd.apache.parquet"}
TAR = {"content-type": "application/x-tar"}


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "plan": rng.choice(["a", "b"], n)})


def test_remote_and_local_logging_agree(served: tuple[HttpClient, LocalClient, str]) -> None:
    remote, local, _ = served
    run_id = local.create_run(local.get_or_create_experiment("e").experiment_id).info.run_id
    v1 = remote.log_dataset_table("churn", _frame(), run_id=run_id, description="train set")
    assert v1.ref == "churn@1"
    assert local.log_dataset_table("churn", _frame()) == v1  # same digest on both transports
    v2 = remote.log_dataset_table("churn", _frame(seed=1))
    assert v2.version == 2
    assert [d.name for d in remote.list_datasets()] == ["churn"]
    assert remote.get_dataset("churn").description == "train set"
    assert [v.version for v in remote.list_dataset_versions("churn")] == [1, 2]
    assert remote.get_dataset_version("churn") == v2
    profile = remote.get_dataset_profile("churn", 1)
    assert profile is not None
    assert profile["columns"]["x"]["count"] == 300
    pd.testing.assert_frame_equal(remote.read_dataset_table("churn", 1).to_pandas(), _frame())
    assert [(i.dataset, i.version) for i in remote.run_inputs(run_id)] == [("churn", 1)]
    assert [i.run_id for i in remote.dataset_runs("churn", 1)] == [run_id]
    diff = remote.diff_datasets("churn")
    assert (diff.old, diff.new, diff.rows_added, diff.rows_removed) == (
        "churn@1",
        "churn@2",
        300,
        300,
    )
    assert remote.diff_datasets("churn", 1, "churn@1").identical


def test_files_travel_as_tar_both_ways(
    served: tuple[HttpClient, LocalClient, str], tmp_path: Path
) -> None:
    remote, local, _ = served
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta")
    v = remote.log_dataset_files("docs", src)
    assert (v.kind, v.size_bytes) == ("files", 9)
    assert local.log_dataset_files("docs", src) == v
    out = remote.download_dataset("docs", 1, tmp_path / "out")
    assert (out / "sub" / "b.txt").read_text() == "beta"
    assert remote.get_dataset_profile("docs", 1) is None
    with pytest.raises(InvalidArgumentError, match="file manifest"):
        remote.read_dataset_table("docs", 1)
    parquet = remote.download_dataset("docs", 1, tmp_path / "o2")
    assert parquet.is_dir()


def test_one_request_logs_a_parquet_body(served: tuple[HttpClient, LocalClient, str]) -> None:
    _, _, url = served
    body = parquet_bytes(to_table(_frame()))
    with httpx.Client(base_url=f"{url}/api/v1") as api:
        created = api.post(
            "/datasets/churn/versions",
            params={"context": "validation"},
            content=body,
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 1
        snap = api.get("/datasets/churn/versions/1/snapshot")
        assert snap.content == body
        assert snap.headers["content-type"] == "application/vnd.apache.parquet"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        (
            "POST",
            "/datasets/bad%20name/versions",
            {"content": b"x", "headers": PARQUET},
            400,
            "name",
        ),
        (
            "POST",
            "/datasets/d/versions",
            {"content": b"not parquet", "headers": PARQUET},
            400,
            "body",
        ),
        ("POST", "/datasets/d/versions", {"content": b"{}"}, 400, "content-type"),
        ("POST", "/datasets/d/versions", {"content": b"not a tar", "headers": TAR}, 400, "body"),
        ("GET", "/datasets/nope", {}, 404, "name"),
        ("GET", "/datasets/nope/versions/1", {}, 404, "name"),
        ("GET", "/datasets/d/versions/zero", {}, 400, "version"),
        ("GET", "/datasets/d/diff", {"params": {"from": "d@x"}}, 400, "from"),
        ("GET", "/runs/nope/inputs", {}, 404, "run_id"),
    ],
)
def test_bad_requests_name_the_field(
    served: tuple[HttpClient, LocalClient, str],
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    field: str,
) -> None:
    _, _, url = served
    with httpx.Client(base_url=f"{url}/api/v1") as api:
        response = api.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_remote_errors_map_to_the_same_exceptions(
    served: tuple[HttpClient, LocalClient, str],
) -> None:
    remote, _, _ = served
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        remote.get_dataset_version("nope")
    with pytest.raises(InvalidArgumentError, match="invalid dataset name"):
        remote.log_dataset_table("bad name", _frame())
