"""The ``BlobStore`` seam: content-addressed, write-once bytes keyed by their SHA-256.

A blob's name is the lowercase hex SHA-256 of its content, so a digest is both the key and the
integrity check. Backends share three rules, which the contract suite in
``conveyor.testing.BlobStoreContract`` checks:

- ``put`` streams: it reads :data:`CHUNK_SIZE` bytes at a time, hashes while writing to a
  temporary object and moves it into place only once complete, so a reader never sees a partial
  blob and a crashed writer leaves nothing behind under a digest.
- Writing the same content twice stores it once (dedup) and returns the same digest.
- Every method taking a digest validates it first (:func:`validate_digest`), so a caller-supplied
  string such as ``"../../etc/passwd"`` can never become a path or an object key.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, cast, runtime_checkable

from conveyor.errors import InvalidArgumentError

CHUNK_SIZE = 1 << 20
"""Bytes read from a stream per call: large enough to amortise calls, small enough for memory."""

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


@runtime_checkable
class BlobStore(Protocol):
    """Store and fetch immutable blobs by the SHA-256 of their content.

    Attributes:
        url: The URL the store was opened from; ``open_blob_store(store.url, **same_options)``
            reopens it.
    """

    url: str

    def put(self, stream: BinaryIO) -> str:
        """Store everything read from ``stream`` and return its digest.

        Args:
            stream: A binary file object, read in chunks of :data:`CHUNK_SIZE` until EOF.

        Returns:
            The lowercase hex SHA-256 of the bytes read.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for reading; the caller closes it.

        Raises:
            InvalidArgumentError: ``digest`` is not 64 lowercase hex characters.
            BlobNotFoundError: No blob is stored under ``digest``.
        """
        ...

    def exists(self, digest: str) -> bool:
        """Tell whether a blob is stored under ``digest``."""
        ...

    def size(self, digest: str) -> int:
        """Return the blob's length in bytes.

        Raises:
            BlobNotFoundError: No blob is stored under ``digest``.
        """
        ...

    def delete(self, digest: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob once, in no promised order."""
        ...


def is_digest(value: str) -> bool:
    """Tell whether ``value`` is a blob digest: exactly 64 lowercase hex characters.

    Examples:
        >>> is_digest("0" * 64)
        True
        >>> is_digest("../../etc/passwd")
        False
    """
    return isinstance(value, str) and _DIGEST_RE.fullmatch(value) is not None


def validate_digest(digest: str) -> str:
    """Return ``digest`` unchanged if it is well formed.

    Raises:
        InvalidArgumentError: ``digest`` is not 64 lowercase hex characters (``field="digest"``).
    """
    if not is_digest(digest):
        msg = (
            f"blobs: invalid digest {digest!r}; expected the 64 lowercase hex characters of a "
            "SHA-256, as returned by BlobStore.put"
        )
        raise InvalidArgumentError(msg, field="digest")
    return digest


def blob_not_found_message(digest: str, url: str) -> str:
    """Build the one message every backend raises ``BlobNotFoundError`` with."""
    return (
        f"blobs: no blob {digest} in {url}; check the digest, or put the content again "
        "if it was deleted"
    )


def copy_hashed(source: BinaryIO, target: BinaryIO) -> str:
    """Copy ``source`` to ``target`` chunk by chunk and return the SHA-256 hex of the bytes.

    This is the streaming core shared by the backends: memory stays bounded by
    :data:`CHUNK_SIZE` whatever the blob size.
    """
    sha = hashlib.sha256()
    while chunk := source.read(CHUNK_SIZE):
        sha.update(chunk)
        target.write(chunk)
    return sha.hexdigest()


class _ProgressReader:
    """Pass ``read`` through to a file, reporting how many bytes each call returned."""

    def __init__(self, source: BinaryIO, progress: Callable[[int], None]) -> None:
        self._source = source
        self._progress = progress

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._source.read(size)
        if chunk:
            self._progress(len(chunk))
        return chunk


def put_bytes(store: BlobStore, data: bytes) -> str:
    """Store ``data`` and return its digest.

    Examples:
        >>> from conveyor.blobs import MemoryBlobStore
        >>> put_bytes(MemoryBlobStore(), b"")[:16]
        'e3b0c44298fc1c14'
    """
    return store.put(io.BytesIO(data))


def put_file(
    store: BlobStore, path: str | Path, progress: Callable[[int], None] | None = None
) -> str:
    """Stream the file at ``path`` into ``store`` and return its digest.

    Args:
        store: The store to write to.
        path: The file to read; it is never loaded whole into memory.
        progress: Called with the number of bytes read after each chunk, e.g. to drive a bar.

    Returns:
        The digest of the file's content.
    """
    with Path(path).open("rb") as file:
        if progress is None:
            return store.put(file)
        # Only ``read`` is ever called on the stream, so the thin wrapper stands in for the file.
        return store.put(cast(BinaryIO, _ProgressReader(file, progress)))


def read_bytes(store: BlobStore, digest: str) -> bytes:
    """Return the whole content of a blob; for large blobs prefer ``store.open``.

    Raises:
        BlobNotFoundError: No blob is stored under ``digest``.
    """
    with store.open(digest) as file:
        return file.read()
