"""How ``open_blob_store`` maps URLs to backends."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path

import pytest

from conveyor.blobs import (
    FsspecBlobStore,
    LocalBlobStore,
    MemoryBlobStore,
    open_blob_store,
    registry,
)
from conveyor.errors import InvalidArgumentError


def test_plain_path_opens_a_local_store(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path


def test_file_url_opens_a_local_store(tmp_path: Path) -> None:
    store = open_blob_store(tmp_path.as_uri())
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path
    assert store.url == tmp_path.as_uri()


def test_file_url_with_a_remote_host_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="names host 'server'"):
        open_blob_store("file://server/share/blobs")


def test_local_store_rejects_storage_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="takes no storage options"):
        open_blob_store(str(tmp_path), anon=True)


def test_mem_url_opens_a_fresh_in_library_memory_store() -> None:
    first, second = open_blob_store("mem://"), open_blob_store("mem://")
    assert isinstance(first, MemoryBlobStore)
    assert first is not second


def test_other_schemes_go_to_fsspec() -> None:
    store = open_blob_store("memory://registry-test")
    assert isinstance(store, FsspecBlobStore)
    assert store.url == "memory://registry-test"


def test_unknown_scheme_is_rejected_with_the_url() -> None:
    with pytest.raises(InvalidArgumentError, match=r"cannot open 'nosuch://x'.*Protocol not known"):
        open_blob_store("nosuch://x")


def test_empty_url_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="empty blob store URL"):
        open_blob_store("")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_ENDPOINT_URL": "http://aws:9000"}, "http://aws:9000"),
        ({"CONVEYOR_S3_ENDPOINT_URL": "http://conveyor:9000"}, "http://conveyor:9000"),
        (
            {"AWS_ENDPOINT_URL": "http://aws:9000", "CONVEYOR_S3_ENDPOINT_URL": "http://c:9000"},
            "http://c:9000",
        ),
    ],
)
def test_s3_endpoint_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name in ("AWS_ENDPOINT_URL", "CONVEYOR_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = open_blob_store("s3://bucket/prefix", client_kwargs={"region_name": "eu-west-1"})
    assert isinstance(store, FsspecBlobStore)
    assert store.fs.client_kwargs == {"region_name": "eu-west-1", "endpoint_url": expected}


def test_explicit_s3_endpoint_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_S3_ENDPOINT_URL", "http://from-env:9000")
    store = open_blob_store("s3://bucket", client_kwargs={"endpoint_url": "http://explicit:9000"})
    assert isinstance(store, FsspecBlobStore)
    assert store.fs.client_kwargs == {"endpoint_url": "http://explicit:9000"}


def _entry_points_with(*points: EntryPoint) -> object:
    def entry_points(*, group: str) -> EntryPoints:
        return EntryPoints(point for point in points if point.group == group)

    return entry_points


def test_entry_points_add_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = EntryPoint("plugin", "conveyor.blobs.memory:MemoryBlobStore", "conveyor.blobs")
    monkeypatch.setattr(registry, "entry_points", _entry_points_with(plugin))
    assert isinstance(open_blob_store("plugin://anything"), MemoryBlobStore)


def test_built_in_schemes_win_over_entry_points(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hijack = EntryPoint("file", "conveyor.blobs.memory:MemoryBlobStore", "conveyor.blobs")
    monkeypatch.setattr(registry, "entry_points", _entry_points_with(hijack))
    assert isinstance(open_blob_store(tmp_path.as_uri()), LocalBlobStore)


def test_entry_point_without_from_url_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "conveyor.errors:ConveyorError", "conveyor.blobs")
    monkeypatch.setattr(registry, "entry_points", _entry_points_with(broken))
    with pytest.raises(TypeError, match="has no from_url"):
        open_blob_store("broken://x")


def test_importing_blobs_does_not_import_fsspec() -> None:
    code = "import sys, conveyor.blobs; sys.exit('fsspec' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == 0, "conveyor.blobs imported fsspec eagerly"
