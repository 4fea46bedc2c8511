"""Artifacts: logical paths mapped to content-addressed blobs.

A path is "<experiment>/<run>/artifacts/<file>", the same tree the MLflow artifact proxy uses,
so files uploaded by the mlflow client and by Conveyor's SDK are one listing.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine, and_, select, text

from conveyor._time import now_ms
from conveyor.blobs import BlobStore, put_file
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.store import events, read, schema, write
from conveyor.tracking.entities import FileInfo

ARTIFACT_SCHEME = "mlflow-artifacts:"

_UPSERT = text(
    "INSERT INTO artifacts (path, digest, size_bytes, created_time) "
    "VALUES (:path, :digest, :size, :now) ON CONFLICT (path) DO UPDATE SET "
    "digest = excluded.digest, size_bytes = excluded.size_bytes, "
    "created_time = excluded.created_time"
)


def clean_path(path: str, *, field: str = "path") -> str:
    """Normalise an artifact path, refusing absolute paths and ``..`` escapes."""
    raw = path.replace("\\", "/").strip("/")
    norm = posixpath.normpath(raw) if raw else ""
    if norm == ".":
        norm = ""
    if norm.startswith("../") or norm == ".." or "\x00" in norm or len(norm) > 900:
        msg = f"invalid artifact {field} {path!r}: use a relative path without '..'"
        raise InvalidArgumentError(msg, field=field)
    return norm


def _file_path(path: str) -> str:
    norm = clean_path(path)
    if not norm:
        msg = "artifact path must name a file, got an empty path"
        raise InvalidArgumentError(msg, field="path")
    return norm


def root_of(artifact_uri: str) -> str:
    """Return the artifact tree root for a run's ``artifact_uri``."""
    if not artifact_uri.startswith(ARTIFACT_SCHEME):
        msg = f"artifact_uri {artifact_uri!r} is not managed by Conveyor"
        raise InvalidArgumentError(msg, field="artifact_uri")
    return clean_path(artifact_uri[len(ARTIFACT_SCHEME) :])


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _audit(conn: Connection, action: str, path: str, values: dict[str, object]) -> None:
    """Append an artifact event; paths are "<experiment>/<run>/artifacts/<file>"."""
    parts = path.split("/", 3)
    project = None
    if parts[0].isdigit():
        e = schema.experiments
        project = conn.execute(
            select(e.c.project).where(e.c.experiment_id == int(parts[0]))
        ).scalar()
    subject = f"runs:/{parts[1]}/{'/'.join(parts[2:])}" if len(parts) > 2 else f"artifacts:/{path}"
    events.append(
        conn, action=action, subject=subject, payload={"project": project, "path": path, **values}
    )


class Artifacts:
    """Artifact operations over one engine and one blob store."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self._engine = engine
        self._blobs = blobs
        self._stored: set[str] = set()  # digests this process has seen stored (blobs are immutable)

    def stage_bytes(self, data: bytes) -> tuple[str, int]:
        """Store small ``data`` as a blob (once per process) and return ``(digest, size)``.

        The caller links it to a path in its own transaction (see ``Runs.create``).
        """
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._stored:
            if not self._blobs.exists(digest):
                self._blobs.put(io.BytesIO(data))
            self._stored.add(digest)
        return digest, len(data)

    def put(self, path: str, stream: BinaryIO) -> FileInfo:
        """Store ``stream`` under ``path`` (replacing what was there)."""
        path = _file_path(path)
        digest = self._blobs.put(stream)
        return self._link(path, digest, self._blobs.size(digest))

    def put_bytes(self, path: str, data: bytes) -> FileInfo:
        """Store small ``data`` under ``path``; content already stored is only linked."""
        digest, size = self.stage_bytes(data)
        return self._link(_file_path(path), digest, size)

    def _link(self, path: str, digest: str, size: int) -> FileInfo:
        with write(self._engine) as conn:
            conn.execute(_UPSERT, {"path": path, "digest": digest, "size": size, "now": now_ms()})
            _audit(conn, "artifact.stored", path, {"digest": digest, "size": size})
        return FileInfo(path=path, is_dir=False, file_size=size)

    def put_file(
        self, path: str, local: Path, progress: Callable[[int], None] | None = None
    ) -> FileInfo:
        """Upload one local file, streamed (``progress`` gets the bytes read per chunk)."""
        path = _file_path(path)
        digest = put_file(self._blobs, local, progress)
        return self._link(path, digest, self._blobs.size(digest))

    def open(self, path: str) -> BinaryIO:
        """Open the artifact at ``path`` for reading."""
        path = clean_path(path)
        a = schema.artifacts
        with read(self._engine) as conn:
            digest = conn.execute(select(a.c.digest).where(a.c.path == path)).scalar()
        if digest is None:
            msg = f"no artifact at {path!r}; list the run's artifacts to see what exists"
            raise NotFoundError(msg, field="path")
        return self._blobs.open(digest)

    def list(self, path: str = "") -> list[FileInfo]:
        """Return the direct children of ``path`` (files with sizes, then directories)."""
        prefix = clean_path(path)
        a = schema.artifacts
        lower = f"{prefix}/" if prefix else ""
        stmt = select(a.c.path, a.c.size_bytes)
        if lower:
            # A range instead of LIKE so both dialects use the primary key index: '0' follows '/'.
            stmt = stmt.where(and_(a.c.path >= lower, a.c.path < f"{prefix}0"))
        with read(self._engine) as conn:
            rows = conn.execute(stmt.order_by(a.c.path)).all()
        files: list[FileInfo] = []
        dirs: dict[str, None] = {}
        for full, size in rows:
            rest = full[len(lower) :]
            head, sep, _ = rest.partition("/")
            if sep:
                dirs[_join(prefix, head)] = None
            else:
                files.append(FileInfo(path=full, is_dir=False, file_size=size))
        return files + [FileInfo(path=d, is_dir=True) for d in dirs]

    def delete(self, path: str) -> int:
        """Delete the artifact at ``path`` or everything under it; return how many."""
        prefix = clean_path(path)
        a = schema.artifacts
        with write(self._engine) as conn:
            result = conn.execute(
                a.delete().where(
                    (a.c.path == prefix) | and_(a.c.path >= f"{prefix}/", a.c.path < f"{prefix}0")
                )
            )
            if result.rowcount:
                _audit(conn, "artifact.deleted", prefix, {"count": int(result.rowcount)})
        return int(result.rowcount)
