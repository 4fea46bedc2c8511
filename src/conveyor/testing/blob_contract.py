"""``BlobStoreContract``: the behaviour every ``BlobStore`` backend must show.

Subclass it in a test module and override the ``store`` fixture; pytest collects the inherited
tests for the subclass (the Litestar store suite and SQLAlchemy's dialect suite work the same way).
"""

# ruff: noqa: S101 -- this module is a pytest suite shipped in the package; assert is how it checks

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, cast

import pytest

from conveyor.blobs import BlobStore, put_bytes, read_bytes
from conveyor.errors import BlobNotFoundError, InvalidArgumentError

_MiB = 1 << 20
_UNKNOWN = hashlib.sha256(b"conveyor: never stored by the contract suite").hexdigest()
_MALFORMED = [
    "../../etc/passwd",
    "ab/../../" + "0" * 55,
    "",
    "0" * 63,
    "0" * 65,
    "A" * 64,
    "g" * 64,
]


class _GeneratedStream:
    """A read-only stream of ``size`` bytes made on demand, recording every ``read`` request.

    The bytes never exist all at once, so a backend that slurps the stream still gets the right
    content but shows up in ``requests``; ``fail_after`` raises once that many bytes were served.
    """

    def __init__(self, size: int, *, fail_after: int | None = None) -> None:
        self.requests: list[int | None] = []
        self.sha256 = hashlib.sha256()
        self._pieces = self._generate(size)
        self._pending = b""
        self._served = 0
        self._fail_after = fail_after

    @staticmethod
    def _generate(size: int) -> Iterator[bytes]:
        counter = 0
        while size > 0:
            piece = hashlib.sha512(counter.to_bytes(8, "big")).digest() * 1024  # 64 KiB
            counter += 1
            yield piece[:size]
            size -= len(piece)

    def read(self, size: int | None = -1, /) -> bytes:
        self.requests.append(size)
        if self._fail_after is not None and self._served >= self._fail_after:
            msg = "stream broke: disk on fire"
            raise OSError(msg)
        limit = size if size is not None and size >= 0 else 1 << 62
        while len(self._pending) < limit:
            piece = next(self._pieces, b"")
            if not piece:
                break
            self._pending += piece
        chunk, self._pending = self._pending[:limit], self._pending[limit:]
        self._served += len(chunk)
        self.sha256.update(chunk)
        return chunk


def _as_stream(stream: _GeneratedStream) -> BinaryIO:
    # put() only calls read(); the stand-in lets the suite see how it is called.
    return cast(BinaryIO, stream)


def _sha256_of_blob(store: BlobStore, digest: str) -> str:
    sha = hashlib.sha256()
    with store.open(digest) as file:
        while chunk := file.read(_MiB):
            sha.update(chunk)
    return sha.hexdigest()


class BlobStoreContract:
    """Tests that any :class:`~conveyor.blobs.BlobStore` implementation must pass.

    Subclasses provide a ``store`` fixture returning an empty store, fresh for each test.
    """

    @pytest.fixture
    def store(self) -> BlobStore:
        """Override to return an empty store of the backend under test."""
        msg = f"{type(self).__name__} must override the `store` fixture to return an empty store"
        raise NotImplementedError(msg)

    def test_store_satisfies_the_protocol(self, store: BlobStore) -> None:
        assert isinstance(store, BlobStore)
        assert isinstance(store.url, str)
        assert store.url

    def test_put_then_open_returns_the_same_bytes(self, store: BlobStore) -> None:
        digest = put_bytes(store, b"hello, conveyor")
        with store.open(digest) as file:
            assert file.read() == b"hello, conveyor"

    def test_digest_is_the_lowercase_sha256_of_the_content(self, store: BlobStore) -> None:
        data = os.urandom(4096)
        assert put_bytes(store, data) == hashlib.sha256(data).hexdigest()

    def test_same_content_is_stored_once(self, store: BlobStore) -> None:
        first = put_bytes(store, b"twice")
        second = store.put(io.BytesIO(b"twice"))
        assert first == second
        assert list(store.iter_digests()) == [first]
        assert read_bytes(store, first) == b"twice"

    def test_empty_blob_round_trips(self, store: BlobStore) -> None:
        digest = put_bytes(store, b"")
        assert digest == hashlib.sha256(b"").hexdigest()
        assert store.exists(digest)
        assert store.size(digest) == 0
        assert read_bytes(store, digest) == b""

    def test_large_blob_is_streamed_in_bounded_chunks(self, store: BlobStore) -> None:
        stream = _GeneratedStream(5 * _MiB + 123)
        digest = store.put(_as_stream(stream))
        assert digest == stream.sha256.hexdigest()
        unbounded = [size for size in stream.requests if size is None or size < 0]
        assert not unbounded, "put() must read the stream in chunks, never all at once"
        assert len(stream.requests) > 1
        assert store.size(digest) == 5 * _MiB + 123
        assert _sha256_of_blob(store, digest) == digest

    def test_exists_follows_put_and_delete(self, store: BlobStore) -> None:
        digest = put_bytes(store, b"here and gone")
        assert store.exists(digest)
        store.delete(digest)
        assert not store.exists(digest)
        assert not store.exists(_UNKNOWN)

    def test_size_is_the_byte_count(self, store: BlobStore) -> None:
        digest = put_bytes(store, b"x" * 1000)
        assert store.size(digest) == 1000

    def test_delete_is_idempotent(self, store: BlobStore) -> None:
        digest = put_bytes(store, b"delete me")
        store.delete(digest)
        store.delete(digest)
        store.delete(_UNKNOWN)
        assert list(store.iter_digests()) == []

    def test_open_of_unknown_digest_raises_blob_not_found(self, store: BlobStore) -> None:
        with pytest.raises(BlobNotFoundError, match=_UNKNOWN):
            store.open(_UNKNOWN)

    def test_size_of_unknown_digest_raises_blob_not_found(self, store: BlobStore) -> None:
        with pytest.raises(BlobNotFoundError, match=_UNKNOWN):
            store.size(_UNKNOWN)

    @pytest.mark.parametrize("method", ["open", "exists", "size", "delete"])
    @pytest.mark.parametrize("digest", _MALFORMED)
    def test_malformed_digest_is_rejected(self, store: BlobStore, method: str, digest: str) -> None:
        call: Callable[[str], object] = getattr(store, method)
        with pytest.raises(InvalidArgumentError, match="invalid digest") as info:
            call(digest)
        assert info.value.field == "digest"

    def test_concurrent_puts_of_the_same_content_agree(self, store: BlobStore) -> None:
        data = os.urandom(256 * 1024)
        with ThreadPoolExecutor(max_workers=8) as pool:
            digests = set(pool.map(lambda _: put_bytes(store, data), range(8)))
        assert digests == {hashlib.sha256(data).hexdigest()}
        assert list(store.iter_digests()) == list(digests)
        assert read_bytes(store, digests.pop()) == data

    def test_iter_digests_lists_each_blob_once(self, store: BlobStore) -> None:
        assert list(store.iter_digests()) == []
        expected = {put_bytes(store, f"blob {i}".encode()) for i in range(5)}
        put_bytes(store, b"blob 0")
        listed = list(store.iter_digests())
        assert sorted(listed) == sorted(expected)

    def test_failed_put_stores_nothing(self, store: BlobStore) -> None:
        stream = _GeneratedStream(3 * _MiB, fail_after=_MiB)
        with pytest.raises(OSError, match="disk on fire"):
            store.put(_as_stream(stream))
        assert list(store.iter_digests()) == []
