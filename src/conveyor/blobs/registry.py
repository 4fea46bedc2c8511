"""Pick a ``BlobStore`` backend from a URL's scheme.

Built-in backends sit in :data:`BACKENDS` as ``"module:attr"`` strings, imported only when used.
Other packages add schemes through the ``conveyor.blobs`` entry point group, naming a class
that has a ``from_url(url, **storage_options)`` classmethod::

    [project.entry-points."conveyor.blobs"]
    azureml = "my_pkg.blobs:AzureMLBlobStore"

Any other scheme goes to :class:`~conveyor.blobs.fsspec_store.FsspecBlobStore`.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any, cast
from urllib.parse import urlsplit

from conveyor.blobs.base import BlobStore
from conveyor.errors import InvalidArgumentError

BACKENDS: dict[str, str] = {
    "file": "conveyor.blobs.local:LocalBlobStore",
    "mem": "conveyor.blobs.memory:MemoryBlobStore",
}
"""Built-in schemes; they take precedence over entry points."""

FALLBACK = "conveyor.blobs.fsspec_store:FsspecBlobStore"
"""The backend for every scheme nobody registered: fsspec knows most storage services."""

ENTRY_POINT_GROUP = "conveyor.blobs"

# Checked in order: the Conveyor-specific name wins over the one boto itself also reads.
_S3_ENDPOINT_ENV = ("CONVEYOR_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")


def open_blob_store(url: str, **storage_options: Any) -> BlobStore:
    """Open the blob store named by ``url``.

    Args:
        url: A local path or ``file://`` URL, ``mem://`` for a fresh in-memory store, a scheme
            registered under the ``conveyor.blobs`` entry points, or any fsspec URL such as
            ``s3://bucket/prefix``.
        **storage_options: Backend options, e.g. ``client_kwargs`` for s3fs. For ``s3://``,
            ``$CONVEYOR_S3_ENDPOINT_URL`` or ``$AWS_ENDPOINT_URL`` supplies
            ``client_kwargs["endpoint_url"]`` unless one is given.

    Returns:
        The opened store.

    Raises:
        InvalidArgumentError: The URL is empty or no backend can open it.

    Examples:
        >>> open_blob_store("mem://")
        MemoryBlobStore(<0 blobs>)
    """
    if not url:
        msg = "blobs: empty blob store URL; pass a directory, mem:// or e.g. s3://bucket/prefix"
        raise InvalidArgumentError(msg, field="url")
    scheme = urlsplit(url).scheme.lower() if "://" in url else "file"
    if scheme in ("s3", "s3a"):
        storage_options = _with_s3_endpoint(storage_options)
    backend = _resolve(scheme)
    if not callable(getattr(backend, "from_url", None)):
        msg = (
            f"blobs: backend {backend!r} for scheme {scheme!r} has no from_url(url, **options) "
            "classmethod; add one to the class registered under the conveyor.blobs entry points"
        )
        raise TypeError(msg)
    return cast(BlobStore, backend.from_url(url, **storage_options))


def _resolve(scheme: str) -> Any:
    if scheme in BACKENDS:
        return _import(BACKENDS[scheme])
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == scheme:
            return entry_point.load()
    return _import(FALLBACK)


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _with_s3_endpoint(storage_options: dict[str, Any]) -> dict[str, Any]:
    # Lets MinIO / LocalStack / moto work from the environment alone, as the AWS CLI does.
    endpoint = next((os.environ[name] for name in _S3_ENDPOINT_ENV if os.environ.get(name)), None)
    client_kwargs = dict(storage_options.get("client_kwargs") or {})
    if endpoint is None or "endpoint_url" in client_kwargs:
        return storage_options
    client_kwargs["endpoint_url"] = endpoint
    return {**storage_options, "client_kwargs": client_kwargs}
