"""``Datasets``: log, look up and read dataset versions over the store and the blob store.

Logging computes the content's digest first. Content already stored under the dataset is the
existing version (no new row, no new blob); new content stores its blobs, then takes version
N+1 in one transaction together with the lineage edge and one audit event. Two writers racing
for the same N collide on the primary key, two writers of the same content on the
(dataset, digest) index; the loser retries and finds the next number, or the winner's version.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.blobs import BlobStore, put_bytes, put_file, read_bytes
from conveyor.data import snapshot
from conveyor.data.entities import (
    Dataset,
    DatasetDiff,
    DatasetVersion,
    Kind,
    ManifestFile,
    RunInput,
)
from conveyor.data.profile import profile_json, profile_table
from conveyor.data.refs import DatasetRef, parse_ref, validate_name, validate_version
from conveyor.errors import ConflictError, InvalidArgumentError, NotFoundError
from conveyor.store import events, read, schema, write

MAX_CONTEXT_LENGTH = 100  # run_inputs.context is String(100)
_WRITE_ATTEMPTS = 20
_d, _v, _ri, _runs = schema.datasets, schema.dataset_versions, schema.run_inputs, schema.runs
_VERSION_SELECT = select(_v, _d.c.name).join(_d, _d.c.dataset_id == _v.c.dataset_id)


@dataclass(frozen=True)
class _Content:
    """What a new version needs: digest and metadata up front, blob writes deferred."""

    kind: Kind
    digest: str
    columns: dict[str, str]
    row_count: int | None
    size_bytes: int
    store: Callable[[], str | None]  # writes the blobs, returns the profile's digest


def _subject(name: str, version: int) -> str:
    return f"datasets:/{name}/{version}"


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        kind=row.kind,
        columns=orjson.loads(row.schema),
        row_count=row.row_count,
        size_bytes=row.size_bytes,
        profile_digest=row.profile_digest,
        source=row.source,
        run_id=row.run_uuid,
        created_time=row.created_time,
    )


def check_context(context: object) -> str:
    """Return ``context`` if it can label a lineage edge (1-100 characters)."""
    if not isinstance(context, str) or not context.strip() or len(context) > MAX_CONTEXT_LENGTH:
        msg = (
            f"invalid context {context!r}: use 1-{MAX_CONTEXT_LENGTH} characters, "
            "e.g. training, validation or evaluation"
        )
        raise InvalidArgumentError(msg, field="context")
    return context


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it has the shape of a run id."""
    if not isinstance(run_id, str) or not run_id.isalnum() or len(run_id) > 32:
        msg = f"invalid run_id {run_id!r}: give the 32-character id of a run"
        raise InvalidArgumentError(msg, field="run_id")
    return run_id


class Datasets:
    """The dataset service over one engine and blob store."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self._engine = engine
        self._blobs = blobs

    # writes
    def log_table(
        self,
        name: str,
        data: object,
        *,
        context: str = "training",
        run_id: str | None = None,
        description: str | None = None,
        source: str = "",
        actor: str | None = None,
    ) -> DatasetVersion:
        """Version a frame (DataFrame, Arrow table, 2-D array, dict of columns) as Parquet."""
        validate_name(name)
        table = snapshot.to_table(data)
        body = snapshot.parquet_bytes(table)

        def store() -> str:
            put_bytes(self._blobs, body)
            return put_bytes(self._blobs, profile_json(profile_table(table)))

        content = _Content(
            kind="parquet",
            digest=hashlib.sha256(body).hexdigest(),
            columns=snapshot.column_types(table),
            row_count=table.num_rows,
            size_bytes=len(body),
            store=store,
        )
        return self._log(name, content, context, run_id, description, source, actor)

    def log_parquet(self, name: str, body: bytes | Any, **kwargs: Any) -> DatasetVersion:
        """Version the table in a Parquet file (bytes or a binary file), rewritten canonically.

        Takes the keyword arguments of :meth:`log_table`.
        """
        validate_name(name)
        return self.log_table(name, snapshot.read_parquet(body), **kwargs)

    def log_path(
        self,
        name: str,
        path: str | Path,
        *,
        context: str = "training",
        run_id: str | None = None,
        description: str | None = None,
        source: str | None = None,
        actor: str | None = None,
    ) -> DatasetVersion:
        """Version a file or a directory as a manifest of its files, each stored as a blob."""
        validate_name(name)
        manifest, files = snapshot.manifest_of(Path(path))

        def store() -> None:
            for _, file in files:
                put_file(self._blobs, file)
            put_bytes(self._blobs, manifest)

        content = _Content(
            kind="files",
            digest=hashlib.sha256(manifest).hexdigest(),
            columns={},
            row_count=None,
            size_bytes=sum(entry.size for entry, _ in files),
            store=store,
        )
        origin = str(Path(path).resolve()) if source is None else source
        return self._log(name, content, context, run_id, description, origin, actor)

    def _log(  # noqa: PLR0917 - private: the public methods name every argument
        self,
        name: str,
        content: _Content,
        context: str,
        run_id: str | None,
        description: str | None,
        source: str,
        actor: str | None,
    ) -> DatasetVersion:
        check_context(context)
        if run_id is not None:
            check_run_id(run_id)
        existing = self._find_digest(name, content.digest)
        if existing is not None:
            if run_id is not None:
                self._record_use(existing, run_id, context, actor)
            return existing
        profile_digest = content.store()
        for _ in range(_WRITE_ATTEMPTS):
            try:
                with write(self._engine) as conn:
                    return self._insert_version(
                        conn, name, content, profile_digest, run_id, context, description, source,
                        actor,
                    )  # fmt: skip
            except IntegrityError:
                continue  # a concurrent writer took the number (or stored the same content)
        msg = f"could not log a version of dataset {name!r}: too many concurrent writers; retry"
        raise ConflictError(msg, field="name")

    def _insert_version(  # noqa: PLR0917 - one transaction's worth of arguments
        self,
        conn: Connection,
        name: str,
        content: _Content,
        profile_digest: str | None,
        run_id: str | None,
        context: str,
        description: str | None,
        source: str,
        actor: str | None,
    ) -> DatasetVersion:
        now = now_ms()
        if run_id is not None:
            _check_run(conn, run_id)
        dataset_id = _ensure_dataset(conn, name, description, now)
        found = conn.execute(
            _VERSION_SELECT.where(_v.c.dataset_id == dataset_id, _v.c.digest == content.digest)
        ).first()
        if found is not None:  # stored by a concurrent writer since we looked
            version = _version(found)
            if run_id is not None and _insert_edge(
                conn, dataset_id, version.version, run_id, context, now
            ):
                _use_event(conn, version, run_id, context, actor)
            return version
        number = 1 + int(
            conn.execute(
                select(func.coalesce(func.max(_v.c.version), 0)).where(
                    _v.c.dataset_id == dataset_id
                )
            ).scalar_one()
        )
        row = {
            "dataset_id": dataset_id,
            "version": number,
            "digest": content.digest,
            "kind": content.kind,
            "snapshot_digest": content.digest,
            "schema": orjson.dumps(content.columns).decode(),
            "row_count": content.row_count,
            "size_bytes": content.size_bytes,
            "profile_digest": profile_digest,
            "source": source,
            "run_uuid": run_id,
            "created_time": now,
        }
        conn.execute(insert(_v).values(**row))
        if run_id is not None:
            _insert_edge(conn, dataset_id, number, run_id, context, now)
        conn.execute(update(_d).where(_d.c.dataset_id == dataset_id).values(updated_time=now))
        payload = {
            "digest": content.digest,
            "kind": content.kind,
            "row_count": content.row_count,
            "size_bytes": content.size_bytes,
            "run_id": run_id,
            "context": context if run_id is not None else None,
        }
        events.append(
            conn, action="dataset.version_created", subject=_subject(name, number),
            payload=payload, actor=actor,
        )  # fmt: skip
        return _version(_Row(row, name))

    def _record_use(
        self, version: DatasetVersion, run_id: str, context: str, actor: str | None
    ) -> None:
        """Record that a run consumed an existing version (one event, only if new)."""
        for _ in range(_WRITE_ATTEMPTS):
            try:
                with write(self._engine) as conn:
                    _check_run(conn, run_id)
                    dataset_id = self._dataset_id(conn, version.name)
                    if _insert_edge(conn, dataset_id, version.version, run_id, context, now_ms()):
                        _use_event(conn, version, run_id, context, actor)
                    return
            except IntegrityError:
                continue  # the same edge was recorded concurrently: look again
        msg = f"could not record the input of run {run_id}: too many concurrent writers; retry"
        raise ConflictError(msg, field="run_id")

    # reads
    def _dataset_id(self, conn: Connection, name: str) -> int:
        found = conn.execute(select(_d.c.dataset_id).where(_d.c.name == name)).scalar()
        if found is None:
            msg = f"no dataset named {name!r}; see `conveyor data list`"
            raise NotFoundError(msg, field="name")
        return int(found)

    def _find_digest(self, name: str, digest: str) -> DatasetVersion | None:
        with read(self._engine) as conn:
            row = conn.execute(
                _VERSION_SELECT.where(_d.c.name == name, _v.c.digest == digest)
            ).first()
        return None if row is None else _version(row)

    def list_datasets(self) -> list[Dataset]:
        """Return every dataset with its latest version number, by name."""
        with read(self._engine) as conn:
            return [_dataset(row) for row in conn.execute(_datasets_select())]

    def get_dataset(self, name: str) -> Dataset:
        """Return one dataset."""
        validate_name(name)
        with read(self._engine) as conn:
            row = conn.execute(_datasets_select().where(_d.c.name == name)).first()
        if row is None:
            msg = f"no dataset named {name!r}; see `conveyor data list`"
            raise NotFoundError(msg, field="name")
        return _dataset(row)

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Return every version of a dataset, oldest first."""
        validate_name(name)
        with read(self._engine) as conn:
            dataset_id = self._dataset_id(conn, name)
            rows = conn.execute(
                _VERSION_SELECT.where(_v.c.dataset_id == dataset_id).order_by(_v.c.version)
            ).all()
        return [_version(r) for r in rows]

    def get_version(self, name: str, version: int | None = None) -> DatasetVersion:
        """Return one version (``None``: the latest)."""
        validate_name(name)
        if version is not None:
            validate_version(version)
        with read(self._engine) as conn:
            dataset_id = self._dataset_id(conn, name)
            stmt = _VERSION_SELECT.where(_v.c.dataset_id == dataset_id)
            if version is None:
                stmt = stmt.order_by(_v.c.version.desc()).limit(1)
            else:
                stmt = stmt.where(_v.c.version == version)
            row = conn.execute(stmt).first()
        if row is None:
            which = "no versions yet" if version is None else f"no version {version}"
            msg = f"dataset {name!r} has {which}; see `conveyor data versions {name}`"
            raise NotFoundError(msg, field="version")
        return _version(row)

    def resolve(self, ref: str | DatasetRef) -> DatasetVersion:
        """Return the version a reference (``NAME``, ``NAME@V``, ``data:NAME@V``) names."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        return self.get_version(parsed.name, parsed.version)

    def profile(self, version: DatasetVersion) -> dict[str, Any] | None:
        """Return the version's statistical profile (``None`` for file manifests)."""
        if version.profile_digest is None:
            return None
        loaded: dict[str, Any] = orjson.loads(read_bytes(self._blobs, version.profile_digest))
        return loaded

    def manifest(self, version: DatasetVersion) -> list[ManifestFile]:
        """Return the files of a ``files`` version."""
        _require_kind(version, "files")
        return snapshot.parse_manifest(read_bytes(self._blobs, version.digest))

    def snapshot_bytes(self, version: DatasetVersion) -> bytes:
        """Return the Parquet snapshot of a ``parquet`` version."""
        _require_kind(version, "parquet")
        return read_bytes(self._blobs, version.digest)

    def read_table(self, version: DatasetVersion) -> pa.Table:
        """Return the Arrow table of a ``parquet`` version."""
        return snapshot.read_parquet(self.snapshot_bytes(version), field="version")

    def materialize(self, version: DatasetVersion, dst: str | Path) -> Path:
        """Write the version under ``dst``: ``NAME-vN.parquet``, or the files of a manifest.

        Returns the Parquet file, or ``dst`` for files.
        """
        target = Path(dst)
        target.mkdir(parents=True, exist_ok=True)
        if version.kind == "parquet":
            out = target / f"{version.name}-v{version.version}.parquet"
            _copy_blob(self._blobs, version.digest, out)
            return out
        for entry in self.manifest(version):
            out = target / snapshot.safe_relative(entry.path)
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_blob(self._blobs, entry.sha256, out)
        return target

    # lineage
    def runs_of(self, name: str, version: int | None = None) -> list[RunInput]:
        """Return the runs that consumed a dataset (one version, or any), oldest first."""
        validate_name(name)
        stmt = (
            select(_ri, _d.c.name)
            .join(_d, _d.c.dataset_id == _ri.c.dataset_id)
            .where(_d.c.name == name)
            .order_by(_ri.c.created_time, _ri.c.run_uuid)
        )
        if version is not None:
            stmt = stmt.where(_ri.c.version == validate_version(version))
        with read(self._engine) as conn:
            self._dataset_id(conn, name)
            return [_run_input(r) for r in conn.execute(stmt)]

    def inputs_of(self, run_id: str) -> list[RunInput]:
        """Return the dataset versions a run consumed, oldest first."""
        check_run_id(run_id)
        stmt = (
            select(_ri, _d.c.name)
            .join(_d, _d.c.dataset_id == _ri.c.dataset_id)
            .where(_ri.c.run_uuid == run_id)
            .order_by(_ri.c.created_time, _d.c.name, _ri.c.version)
        )
        with read(self._engine) as conn:
            _check_run(conn, run_id)
            return [_run_input(r) for r in conn.execute(stmt)]

    def diff(self, old: str | DatasetRef, new: str | DatasetRef) -> DatasetDiff:
        """Compare two versions: rows, schema, files and per-column statistics."""
        from conveyor.data.diff import compare

        return compare(self, self.resolve(old), self.resolve(new))

    def diff_pair(
        self, name: str, old: str | int | None = None, new: str | int | None = None
    ) -> DatasetDiff:
        """Compare two versions of ``name``; each side a version number or a ref ``OTHER@V``.

        Without ``old`` the version before ``new`` is used; without either, the last two.
        """
        validate_name(name)
        if old is None and new is None:
            return self.diff(*(v.ref for v in self.last_two(name)))
        # Both sides are checked before either is looked up: a malformed one is the error.
        old_ref = None if old is None else _side(name, old, "from")
        new_ref = DatasetRef(name) if new is None else _side(name, new, "to")
        after = self.resolve(new_ref)
        if old_ref is not None:
            before = self.resolve(old_ref)
        elif after.version > 1:
            before = self.get_version(after.name, after.version - 1)
        else:
            msg = f"{after.ref} is the first version; name the version to compare it with"
            raise InvalidArgumentError(msg, field="from")
        from conveyor.data.diff import compare

        return compare(self, before, after)

    def last_two(self, name: str) -> tuple[DatasetVersion, DatasetVersion]:
        """Return the two newest versions (the default pair to compare)."""
        versions = self.list_versions(name)
        if len(versions) < 2:
            msg = f"dataset {name!r} has {len(versions)} version(s); a diff needs two"
            raise InvalidArgumentError(msg, field="name")
        return versions[-2], versions[-1]


def _side(name: str, side: str | int, field: str) -> DatasetRef:
    """A diff side: a version number of ``name``, or a reference ``OTHER@V``."""
    if isinstance(side, int) and not isinstance(side, bool):
        return DatasetRef(name, validate_version(side, field=field))
    text = str(side).strip()
    if text.isascii() and text.isdigit():
        return DatasetRef(name, validate_version(int(text), field=field))
    return parse_ref(text, field=field)


class _Row:
    """Attribute access over an inserted row's values, for :func:`_version`."""

    def __init__(self, values: dict[str, Any], name: str) -> None:
        self.__dict__.update(values, name=name)


def _datasets_select() -> Any:
    """Datasets with their latest version number and version count, by name."""
    stats = (
        select(_v.c.dataset_id, func.max(_v.c.version).label("latest"), func.count().label("n"))
        .group_by(_v.c.dataset_id)
        .subquery()
    )
    return (
        select(_d, stats.c.latest, stats.c.n)
        .outerjoin(stats, stats.c.dataset_id == _d.c.dataset_id)
        .order_by(_d.c.name)
    )


def _dataset(row: Any) -> Dataset:
    return Dataset(
        name=row.name,
        project=row.project,
        description=row.description,
        created_time=row.created_time,
        updated_time=row.updated_time,
        latest_version=row.latest,
        version_count=row.n or 0,
    )


def _run_input(row: Any) -> RunInput:
    return RunInput(
        run_id=row.run_uuid,
        dataset=row.name,
        version=row.version,
        context=row.context,
        created_time=row.created_time,
    )


def _require_kind(version: DatasetVersion, kind: Kind) -> None:
    if version.kind != kind:
        what = "a Parquet snapshot" if kind == "parquet" else "a file manifest"
        msg = (
            f"dataset {version.ref} is {version.kind!r}, not {what}; "
            f"use `conveyor data download {version.ref} DIR`"
        )
        raise InvalidArgumentError(msg, field="version")


def _copy_blob(blobs: BlobStore, digest: str, out: Path) -> None:
    partial = out.with_name(f".{out.name}.partial")
    with blobs.open(digest) as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    partial.replace(out)


def _check_run(conn: Connection, run_id: str) -> None:
    if conn.execute(select(_runs.c.run_pk).where(_runs.c.run_uuid == run_id)).first() is None:
        msg = f"no run with id {run_id!r}; see `conveyor runs list`"
        raise NotFoundError(msg, field="run_id")


def _ensure_dataset(conn: Connection, name: str, description: str | None, now: int) -> int:
    found = conn.execute(select(_d.c.dataset_id).where(_d.c.name == name)).scalar()
    if found is None:
        values = {"name": name, "description": description or "", "created_time": now}
        stmt = insert(_d).values(**values, updated_time=now).returning(_d.c.dataset_id)
        return int(conn.execute(stmt).scalar_one())
    if description is not None:
        conn.execute(update(_d).where(_d.c.dataset_id == found).values(description=description))
    return int(found)


def _insert_edge(
    conn: Connection, dataset_id: int, version: int, run_id: str, context: str, now: int
) -> bool:
    key = (
        (_ri.c.run_uuid == run_id)
        & (_ri.c.dataset_id == dataset_id)
        & (_ri.c.version == version)
        & (_ri.c.context == context)
    )
    if conn.execute(select(_ri.c.version).where(key)).first() is not None:
        return False
    values = {"run_uuid": run_id, "dataset_id": dataset_id, "version": version}
    conn.execute(insert(_ri).values(**values, context=context, created_time=now))
    return True


def _use_event(
    conn: Connection, version: DatasetVersion, run_id: str, context: str, actor: str | None
) -> None:
    payload = {"digest": version.digest, "run_id": run_id, "context": context}
    events.append(
        conn, action="dataset.used", subject=_subject(version.name, version.version),
        payload=payload, actor=actor,
    )  # fmt: skip
