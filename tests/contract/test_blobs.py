"""Run the ``BlobStore`` contract on every built-in backend, S3 included (moto on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from conveyor.blobs import (
    BlobStore,
    FsspecBlobStore,
    LocalBlobStore,
    MemoryBlobStore,
    open_blob_store,
)
from conveyor.testing import BlobStoreContract

BUCKET = "conveyor-contract"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Serve a fake S3 on a free loopback port, with one bucket, for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)  # a developer's profile must not leak in
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
            yield endpoint
        finally:
            server.stop()


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
