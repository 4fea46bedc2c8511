"""Content-addressed blob storage: bytes in, SHA-256 digest out.

Artifacts, datasets and model files are stored once per distinct content and named by the
lowercase hex SHA-256 of their bytes::

    store = open_blob_store("s3://bucket/conveyor")   # or a path, file://..., mem://
    digest = put_file(store, "model.pkl")
    with store.open(digest) as file:
        ...

Backends: :class:`LocalBlobStore` (a directory), :class:`MemoryBlobStore` (tests),
:class:`FsspecBlobStore` (S3, GCS, Azure and any other fsspec URL). All pass
``conveyor.testing.BlobStoreContract``.
"""

from __future__ import annotations

from conveyor.blobs.base import BlobStore, is_digest, put_bytes, put_file, read_bytes
from conveyor.blobs.fsspec_store import FsspecBlobStore
from conveyor.blobs.local import LocalBlobStore
from conveyor.blobs.memory import MemoryBlobStore
from conveyor.blobs.registry import open_blob_store

__all__ = [
    "BlobStore",
    "FsspecBlobStore",
    "LocalBlobStore",
    "MemoryBlobStore",
    "is_digest",
    "open_blob_store",
    "put_bytes",
    "put_file",
    "read_bytes",
]
