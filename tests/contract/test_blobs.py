"""Run the ``BlobStore`` contract on every built-in backend, S3 included (moto on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.blobs import (
    BlobStore,
    FsspecBlobStore,
    LocalBlobStore,
    MemoryBlobStore,
    open_blob_store,
)
from conveyor.testing import BlobStoreContract
from tests.conftest import S3_BUCKET as BUCKET


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path / "blobs")


class TestMemoryBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self) -> BlobStore:
        return MemoryBlobStore()


class TestFsspecMemoryBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        # fsspec's memory filesystem is process-global: a unique root isolates each test.
        name = f"bucket-{uuid.uuid4().hex}"
        root = f"/{name}"  # how fsspec's memory filesystem spells memory://<name>
        store = FsspecBlobStore(f"memory://{name}")
        yield store
        if store.fs.exists(root):
            store.fs.rm(root, recursive=True)


class TestFsspecS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, s3_endpoint: str) -> BlobStore:
        return open_blob_store(
            f"s3://{BUCKET}/{uuid.uuid4().hex}", client_kwargs={"endpoint_url": s3_endpoint}
        )
