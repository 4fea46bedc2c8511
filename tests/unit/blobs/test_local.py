"""Behaviour of ``LocalBlobStore`` beyond the shared contract: files, crashes, processes."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from conveyor.blobs import LocalBlobStore, open_blob_store, put_bytes, put_file, read_bytes
from conveyor.errors import BlobNotFoundError, InvalidArgumentError

_MiB = 1 << 20


class _BrokenStream:
    """Serve one chunk, then fail as a dropped connection or a full disk would."""

    def __init__(self) -> None:
        self._calls = 0

    def read(self, size: int = -1, /) -> bytes:
        self._calls += 1
        if self._calls > 1:
            msg = "connection reset mid-upload"
            raise ConnectionResetError(msg)
        return b"x" * size


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _files_under(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file())


def test_blob_lives_under_its_two_char_shard(store: LocalBlobStore) -> None:
    digest = put_bytes(store, b"sharded")
    assert (store.root / digest[:2] / digest[2:]).read_bytes() == b"sharded"


def test_put_leaves_no_temp_file(store: LocalBlobStore) -> None:
    put_bytes(store, b"one")
    put_bytes(store, b"one")  # the dedup path discards its temp file
    assert list((store.root / "tmp").iterdir()) == []


def test_put_fsyncs_before_the_blob_becomes_visible(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(any(_files_under(store.root / "tmp")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    put_bytes(store, b"durable")
    assert synced == [True]  # once, while the content was still a temp file


def test_stream_failure_mid_read_leaves_no_blob_and_no_temp_file(store: LocalBlobStore) -> None:
    with pytest.raises(ConnectionResetError, match="mid-upload"):
        store.put(cast(BinaryIO, _BrokenStream()))
    assert list(_files_under(store.root)) == []


def test_opening_a_store_creates_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "lazy")
    assert list(store.iter_digests()) == []
    assert not store.exists("0" * 64)
    assert not (tmp_path / "lazy").exists()


@pytest.mark.parametrize("digest", ["../../etc/passwd", "../secret", "/etc/passwd", "ab/../.."])
def test_path_traversal_is_rejected(tmp_path: Path, digest: str) -> None:
    (tmp_path / "secret").write_bytes(b"top secret")
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidArgumentError, match="invalid digest"):
        store.open(digest)
    with pytest.raises(InvalidArgumentError, match="invalid digest"):
        store.delete(digest)
    assert (tmp_path / "secret").read_bytes() == b"top secret"


def test_iter_digests_skips_temp_and_stray_files(store: LocalBlobStore) -> None:
    digest = put_bytes(store, b"real")
    (store.root / "tmp" / ("0" * 64)).write_bytes(b"half-written")
    (store.root / "README").write_text("not a blob")
    (store.root / "zz").write_text("a file where a shard would be")
    (store.root / digest[:2] / "notes.txt").write_text("not a blob either")
    assert list(store.iter_digests()) == [digest]


def test_open_of_deleted_blob_names_the_digest_and_store(store: LocalBlobStore) -> None:
    digest = put_bytes(store, b"gone soon")
    store.delete(digest)
    with pytest.raises(BlobNotFoundError, match=f"no blob {digest} in file://"):
        store.open(digest)


def test_put_file_streams_and_reports_progress(store: LocalBlobStore, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    data = os.urandom(2 * _MiB + 10)
    path.write_bytes(data)
    seen: list[int] = []
    digest = put_file(store, path, progress=seen.append)
    assert digest == hashlib.sha256(data).hexdigest()
    assert seen == [_MiB, _MiB, 10]
    assert read_bytes(store, digest) == data


def test_url_reopens_the_same_store(store: LocalBlobStore) -> None:
    digest = store.put(io.BytesIO(b"again"))
    assert store.url.startswith("file:///")
    assert read_bytes(open_blob_store(store.url), digest) == b"again"


def _put_when_all_ready(root: str, data: bytes, barrier: Barrier, results: Queue[str]) -> None:
    store = LocalBlobStore(root)
    barrier.wait(timeout=60)
    results.put(put_bytes(store, data))


def test_processes_putting_the_same_content_at_once_agree(store: LocalBlobStore) -> None:
    data = os.urandom(_MiB)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    results: Queue[str] = ctx.Queue()
    workers = [
        ctx.Process(target=_put_when_all_ready, args=(str(store.root), data, barrier, results))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    try:
        digests = {results.get(timeout=60) for _ in workers}
    finally:
        for worker in workers:
            worker.join(timeout=60)
        results.close()
        results.join_thread()
    assert [worker.exitcode for worker in workers] == [0] * 8
    assert digests == {hashlib.sha256(data).hexdigest()}
    assert list(store.iter_digests()) == list(digests)
    assert read_bytes(store, digests.pop()) == data
    assert list((store.root / "tmp").iterdir()) == []
