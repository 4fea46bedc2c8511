"""``FsspecBlobStore``: blobs on any fsspec filesystem (S3, GCS, Azure, ``memory://``, ...).

fsspec and its implementations (s3fs, gcsfs) are imported here only, when a store is opened, so
``import conveyor.blobs`` stays cheap.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from conveyor.blobs.base import blob_not_found_message, copy_hashed, is_digest, validate_digest
from conveyor.errors import BlobNotFoundError, InvalidArgumentError

_TMP_DIR = "tmp"


class FsspecBlobStore:
    """Keep blobs under a prefix of any fsspec URL, as ``prefix/ab/cdef...``.

    ``put`` streams to ``prefix/tmp/<uuid>``, hashing as it writes, then moves the object to its
    digest key. On object stores a move is a server-side copy plus a delete: slower than a rename,
    but a copy of a finished object is itself atomic, so the digest key only ever appears with
    the whole content, and readers never need to know a write is in flight. A failed ``put``
    removes its temporary object; one killed outright leaves it under ``tmp/``, never under a
    digest, and a bucket lifecycle rule on ``prefix/tmp/`` can expire such leftovers.

    Args:
        url: Where the blobs live, e.g. ``"s3://bucket/prefix"`` or ``"memory://scratch"``.
        **storage_options: Passed to the fsspec filesystem, e.g.
            ``client_kwargs={"endpoint_url": ...}`` for s3fs.

    Raises:
        InvalidArgumentError: No fsspec implementation is known or installed for the scheme.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        # Imported here, not at module level: only stores on fsspec URLs pay for it.
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(url, **storage_options)
        except (ValueError, ImportError) as exc:
            msg = (
                f"blobs: cannot open {url!r}: {exc}; install the fsspec package for the scheme "
                "(e.g. `pip install s3fs`), or use a local path or mem://"
            )
            raise InvalidArgumentError(msg, field="url") from exc
        self.url = url
        self.fs: Any = fs
        self._prefix = str(path).rstrip("/")

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> FsspecBlobStore:
        """Open the store at ``url``; the same as the constructor, for the backend table."""
        return cls(url, **storage_options)

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.url!r})"

    def _key(self, digest: str) -> str:
        validate_digest(digest)
        return f"{self._prefix}/{digest[:2]}/{digest[2:]}"

    def put(self, stream: BinaryIO) -> str:
        """Stream ``stream`` into the store and return its digest; see :class:`BlobStore`."""
        tmp = f"{self._prefix}/{_TMP_DIR}/{uuid.uuid4().hex}"
        try:
            with self._open_for_write(tmp) as file:
                digest = copy_hashed(stream, file)
            final = self._key(digest)
            if self.fs.exists(final):
                self.fs.rm(tmp)  # dedup: identical bytes are already there
            else:
                self._move(tmp, final)
        except BaseException:
            self._discard(tmp)
            raise
        return digest

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; see :class:`BlobStore`."""
        try:
            return cast(BinaryIO, self.fs.open(self._key(digest), "rb"))
        except FileNotFoundError:
            raise BlobNotFoundError(blob_not_found_message(digest, self.url)) from None

    def exists(self, digest: str) -> bool:
        """Tell whether a blob is stored under ``digest``."""
        return bool(self.fs.exists(self._key(digest)))

    def size(self, digest: str) -> int:
        """Return the blob's length in bytes; see :class:`BlobStore`."""
        try:
            return int(self.fs.size(self._key(digest)))
        except FileNotFoundError:
            raise BlobNotFoundError(blob_not_found_message(digest, self.url)) from None

    def delete(self, digest: str) -> None:
        """Remove the blob if present."""
        key = self._key(digest)
        try:
            self.fs.rm(key)
        except FileNotFoundError:
            return

    def iter_digests(self) -> Iterator[str]:
        """Yield every stored digest, in sorted order."""
        start = len(self._prefix) + 1
        try:
            paths = self.fs.find(self._prefix)
        except FileNotFoundError:  # nothing was ever put
            return
        for path in sorted(paths):
            shard, _, name = str(path)[start:].partition("/")
            # The length check skips tmp/ (and stray objects) before is_digest does.
            if len(shard) == 2 and is_digest(shard + name):
                yield shard + name

    def _open_for_write(self, path: str) -> Any:
        # Object stores have no directories; filesystems that do (local, sftp) need the parent.
        try:
            return self.fs.open(path, "wb")
        except FileNotFoundError:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            return self.fs.open(path, "wb")

    def _move(self, source: str, target: str) -> None:
        try:
            self.fs.mv(source, target)
        except FileNotFoundError:
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(source, target)

    def _discard(self, path: str) -> None:
        # Best effort while another error propagates: that error is the one worth reporting,
        # and a leftover under tmp/ is harmless.
        with contextlib.suppress(Exception):
            self.fs.rm(path)
