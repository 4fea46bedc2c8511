"""The dataset service on SQLite and PostgreSQL: versioning, dedup, lineage, events, reads."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.data import Datasets
from conveyor.data.snapshot import parquet_bytes, to_table
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.store import events
from conveyor.tracking import Workspace


@pytest.fixture
def datasets(workspace: Workspace) -> Datasets:
    return Datasets(workspace.engine, workspace.blobs)


def _frame(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"age": rng.normal(40, 10, n), "plan": rng.choice(["basic", "pro"], n), "id": range(n)}
    )


def _run_id(workspace: Workspace) -> str:
    exp = workspace.experiments.create("e")
    return workspace.runs.create(exp.experiment_id).info.run_id


def test_first_log_is_version_1_with_schema_rows_and_profile(datasets: Datasets) -> None:
    v = datasets.log_table("churn-train", _frame())
    assert (v.name, v.version, v.kind, v.row_count) == ("churn-train", 1, "parquet", 100)
    assert v.columns == {"age": "double", "plan": "large_string", "id": "int64"}
    assert v.digest == hashlib.sha256(datasets.snapshot_bytes(v)).hexdigest()
    assert v.size_bytes == len(datasets.snapshot_bytes(v))
    profile = datasets.profile(v)
    assert profile is not None
    assert profile["columns"]["id"]["max"] == 99


def test_identical_data_is_the_same_version_and_stores_no_blob(
    datasets: Datasets, workspace: Workspace
) -> None:
    first = datasets.log_table("d", _frame())
    blobs_before = set(workspace.blobs.iter_digests())
    again = datasets.log_table("d", _frame())
    assert again == first
    assert set(workspace.blobs.iter_digests()) == blobs_before
    assert len(datasets.list_versions("d")) == 1
    assert events.count(workspace.engine) == 1


def test_new_content_is_the_next_version_with_one_event(
    datasets: Datasets, workspace: Workspace
) -> None:
    datasets.log_table("d", _frame(seed=0))
    second = datasets.log_table("d", _frame(seed=1))
    assert second.version == 2
    logged = events.list_events(workspace.engine, subject="datasets:/d/*")
    assert [(e.action, e.subject) for e in logged] == [
        ("dataset.version_created", "datasets:/d/1"),
        ("dataset.version_created", "datasets:/d/2"),
    ]
    assert logged[1].payload["digest"] == second.digest
    assert [d.name for d in datasets.list_datasets()] == ["d"]
    assert datasets.get_dataset("d").latest_version == 2
    assert datasets.get_dataset("d").version_count == 2


def test_same_content_under_two_names_is_two_datasets(datasets: Datasets) -> None:
    a = datasets.log_table("a", _frame())
    b = datasets.log_table("b", _frame())
    assert (a.version, b.version) == (1, 1)
    assert a.digest == b.digest


def test_run_lineage_is_recorded_both_ways(datasets: Datasets, workspace: Workspace) -> None:
    run_id = _run_id(workspace)
    v = datasets.log_table("d", _frame(), run_id=run_id)
    datasets.log_table("d", _frame(), run_id=run_id, context="validation")  # existing version
    assert v.run_id == run_id
    assert [(i.dataset, i.version, i.context) for i in datasets.inputs_of(run_id)] == [
        ("d", 1, "training"),
        ("d", 1, "validation"),
    ]
    assert {i.run_id for i in datasets.runs_of("d", 1)} == {run_id}
    assert datasets.runs_of("d", 2) == []
    actions = [e.action for e in events.list_events(workspace.engine, action_prefix="dataset.")]
    assert actions == ["dataset.version_created", "dataset.used"]
    before = events.count(workspace.engine)
    datasets.log_table("d", _frame(), run_id=run_id, context="validation")  # nothing new
    assert events.count(workspace.engine) == before


def test_unknown_run_is_rejected_and_nothing_is_written(
    datasets: Datasets, workspace: Workspace
) -> None:
    with pytest.raises(NotFoundError, match="no run with id") as info:
        datasets.log_table("d", _frame(), run_id="0" * 32)
    assert info.value.field == "run_id"
    assert datasets.list_datasets() == []
    assert events.count(workspace.engine) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "bad name"}, "name"),
        ({"name": "x@1"}, "name"),
        ({"name": "d", "context": ""}, "context"),
        ({"name": "d", "run_id": "../x"}, "run_id"),
    ],
)
def test_bad_arguments_name_the_field(
    datasets: Datasets, kwargs: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid") as info:
        datasets.log_table(data=_frame(), **kwargs)
    assert info.value.field == field


def test_lookups_of_missing_things_say_how_to_find_them(datasets: Datasets) -> None:
    with pytest.raises(NotFoundError, match="conveyor data list"):
        datasets.get_version("nope")
    datasets.log_table("d", _frame())
    with pytest.raises(NotFoundError, match="has no version 7"):
        datasets.get_version("d", 7)
    with pytest.raises(InvalidArgumentError, match="version after '@'"):
        datasets.resolve("d@x")


def test_files_are_versioned_as_a_manifest(datasets: Datasets, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01")
    v = datasets.log_path("images", src)
    assert (v.kind, v.row_count, v.size_bytes, v.profile_digest) == ("files", None, 7, None)
    assert [(f.path, f.size) for f in datasets.manifest(v)] == [("a.txt", 5), ("sub/b.bin", 2)]
    assert datasets.log_path("images", src) == v  # same files: same version
    out = datasets.materialize(v, tmp_path / "out")
    assert (out / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    (src / "a.txt").write_text("changed")
    assert datasets.log_path("images", src).version == 2
    with pytest.raises(InvalidArgumentError, match="not a Parquet snapshot"):
        datasets.read_table(v)


def test_parquet_snapshot_round_trips(datasets: Datasets, tmp_path: Path) -> None:
    frame = _frame()
    v = datasets.log_table("d", frame)
    pd.testing.assert_frame_equal(datasets.read_table(v).to_pandas(), frame)
    path = datasets.materialize(v, tmp_path)
    assert path.name == "d-v1.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_uploaded_parquet_is_rewritten_canonically(datasets: Datasets) -> None:
    frame = _frame()
    local = datasets.log_table("d", frame)
    foreign = frame.to_parquet(compression="snappy")  # other writer options, same data
    assert datasets.log_parquet("d", foreign) == local
    with pytest.raises(InvalidArgumentError, match="not a readable Parquet file"):
        datasets.log_parquet("d", b"not parquet")


def test_concurrent_logs_get_distinct_versions_and_dedup(datasets: Datasets) -> None:
    frames = [_frame(seed=i) for i in range(4)] * 2  # 4 contents, each logged twice
    results: list[int] = []
    errors: list[BaseException] = []

    def log(frame: pd.DataFrame) -> None:
        try:
            results.append(datasets.log_table("race", frame).version)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(f,)) for f in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = datasets.list_versions("race")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert len({v.digest for v in versions}) == 4
    assert sorted(results) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_digest_matches_the_standalone_snapshot(datasets: Datasets) -> None:
    frame = _frame()
    v = datasets.log_table("d", frame)
    assert v.digest == hashlib.sha256(parquet_bytes(to_table(frame))).hexdigest()
