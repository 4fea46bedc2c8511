"""``MemoryBlobStore``: blobs in a dict, for tests and throwaway sessions."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from conveyor.blobs.base import blob_not_found_message, copy_hashed, validate_digest
from conveyor.errors import BlobNotFoundError, InvalidArgumentError


class MemoryBlobStore:
    """Keep blobs in a process-local dict; every instance starts empty.

    Safe to share between threads: the dict is only touched under a lock, and ``put`` hashes
    into a private buffer first so that slow streams do not hold the lock.
    """

    def __init__(self) -> None:
        self.url = "mem://"
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> MemoryBlobStore:
        """Open a fresh, empty store for a ``mem://`` URL.

        Raises:
            InvalidArgumentError: Storage options were given.
        """
        if storage_options:
            msg = (
                f"blobs: {url!r} is an in-memory store and takes no storage options, got "
                f"{sorted(storage_options)}; drop them"
            )
            raise InvalidArgumentError(msg, field="storage_options")
        return cls()

    def __repr__(self) -> str:
        return f"MemoryBlobStore(<{len(self._blobs)} blobs>)"

    def put(self, stream: BinaryIO) -> str:
        """Read ``stream`` into the store and return its digest; see :class:`BlobStore`."""
        buffer = io.BytesIO()
        digest = copy_hashed(stream, buffer)
        with self._lock:
            self._blobs.setdefault(digest, buffer.getvalue())
        return digest

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; see :class:`BlobStore`."""
        return io.BytesIO(self._get(digest))

    def exists(self, digest: str) -> bool:
        """Tell whether a blob is stored under ``digest``."""
        validate_digest(digest)
        with self._lock:
            return digest in self._blobs

    def size(self, digest: str) -> int:
        """Return the blob's length in bytes; see :class:`BlobStore`."""
        return len(self._get(digest))

    def delete(self, digest: str) -> None:
        """Remove the blob if present."""
        validate_digest(digest)
        with self._lock:
            self._blobs.pop(digest, None)

    def iter_digests(self) -> Iterator[str]:
        """Yield every stored digest, in sorted order."""
        with self._lock:
            digests = sorted(self._blobs)  # a snapshot: callers may delete while iterating
        yield from digests

    def _get(self, digest: str) -> bytes:
        validate_digest(digest)
        with self._lock:
            data = self._blobs.get(digest)
        if data is None:
            raise BlobNotFoundError(blob_not_found_message(digest, self.url))
        return data
