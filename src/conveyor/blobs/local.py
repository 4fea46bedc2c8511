"""``LocalBlobStore``: blobs as files under a directory, ``root/ab/cdef...``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from conveyor.blobs.base import blob_not_found_message, copy_hashed, is_digest, validate_digest
from conveyor.errors import BlobNotFoundError, InvalidArgumentError

_TMP_DIR = "tmp"


class LocalBlobStore:
    """Keep blobs as files in a local directory.

    A blob lives at ``root/<first two hex chars>/<other 62>``, which keeps directories small.
    ``put`` writes to ``root/tmp/`` (same filesystem, so the final ``os.replace`` is an atomic
    rename), fsyncs, then renames. Concurrent writers of the same content, threads or processes,
    all rename complete files with identical bytes, so whichever lands last the blob is intact.
    Directories are created on first write; opening a store never touches the disk.

    Args:
        root: The directory holding the blobs.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = self.root.as_uri()

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> LocalBlobStore:
        """Open the store named by a plain path or a ``file://`` URL.

        Raises:
            InvalidArgumentError: The URL names a remote host, or options were given.
        """
        if storage_options:
            msg = (
                f"blobs: {url!r} is a local store and takes no storage options, got "
                f"{sorted(storage_options)}; drop them"
            )
            raise InvalidArgumentError(msg, field="storage_options")
        if "://" not in url:
            return cls(url)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            msg = f"blobs: {url!r} names host {parts.netloc!r}; use file:///absolute/path"
            raise InvalidArgumentError(msg, field="url")
        return cls(url2pathname(parts.path))

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, digest: str) -> Path:
        validate_digest(digest)
        return self.root / digest[:2] / digest[2:]

    def put(self, stream: BinaryIO) -> str:
        """Stream ``stream`` into the store and return its digest; see :class:`BlobStore`."""
        tmp_dir = self.root / _TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        # os.open with 0o666 lets the umask decide permissions, as for any file the user writes
        # (mkstemp would force 0o600 and hide blobs from a shared group).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                digest = copy_hashed(stream, file)
                file.flush()
                # Durable before visible: after a power cut a blob is whole or absent.
                os.fsync(file.fileno())
            final = self.root / digest[:2] / digest[2:]
            if final.exists():
                tmp.unlink()  # dedup: identical bytes are already in place
            else:
                final.parent.mkdir(exist_ok=True)
                tmp.replace(final)  # atomic: same filesystem as root/tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; see :class:`BlobStore`."""
        try:
            return self._path(digest).open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(blob_not_found_message(digest, self.url)) from None

    def exists(self, digest: str) -> bool:
        """Tell whether a blob is stored under ``digest``."""
        return self._path(digest).is_file()

    def size(self, digest: str) -> int:
        """Return the blob's length in bytes; see :class:`BlobStore`."""
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(blob_not_found_message(digest, self.url)) from None

    def delete(self, digest: str) -> None:
        """Remove the blob if present."""
        self._path(digest).unlink(missing_ok=True)

    def iter_digests(self) -> Iterator[str]:
        """Yield every stored digest, in sorted order."""
        try:
            shards = sorted(self.root.iterdir())
        except FileNotFoundError:  # nothing was ever put: the root is created lazily
            return
        for shard in shards:
            # Skips tmp/ and anything else a person may have dropped under the root.
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            try:
                names = sorted(entry.name for entry in shard.iterdir())
            except FileNotFoundError:  # removed by a concurrent cleanup
                continue
            yield from (shard.name + name for name in names if is_digest(shard.name + name))
