"""Content snapshots: frames as deterministic Parquet, paths as a manifest of their files.

Same data, same bytes, same digest: the Parquet writer's options are pinned (format version,
codec, row-group size, statistics, no page index or checksums), chunking is undone before
writing, and pandas' metadata (library versions, how the index was written) is dropped. The
Parquet footer still names the pyarrow that wrote it: digests are stable for one pyarrow release.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.data.entities import ManifestFile
from conveyor.errors import InvalidArgumentError

ROW_GROUP_ROWS = 1 << 20
_HASH_CHUNK = 1 << 20
_PANDAS_META = b"pandas"
_WRITE_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
    "store_schema": True,
    "write_page_index": False,
    "write_page_checksum": False,
    "use_compliant_nested_type": True,
}


def _from_pandas(frame: Any) -> pa.Table:
    import pandas as pd

    index = frame.index
    default_index = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if not default_index or index.name is not None:
        frame = frame.reset_index()  # a meaningful index becomes columns
    return pa.Table.from_pandas(frame, preserve_index=False)


def _from_numpy(array: np.ndarray[Any, Any]) -> pa.Table:
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        msg = f"a numpy dataset must be 1-D or 2-D (rows x columns), got {array.ndim}-D"
        raise InvalidArgumentError(msg, field="data")
    return pa.table({str(i): array[:, i] for i in range(array.shape[1])})


def to_table(data: object) -> pa.Table:
    """Convert a frame-like object to an Arrow table.

    Accepts a pandas DataFrame (a non-default index is kept as columns), a pyarrow Table, a
    numpy 1-D or 2-D array (columns named ``"0"``, ``"1"``, ...) or a mapping of column name to
    values.

    Raises:
        InvalidArgumentError: another type, or a table without columns.
    """
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, np.ndarray):
        table = _from_numpy(data)
    elif isinstance(data, Mapping):
        try:
            table = pa.table({str(k): v for k, v in data.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            msg = f"cannot build a table from the columns given: {exc}"
            raise InvalidArgumentError(msg, field="data") from exc
    elif type(data).__name__ == "DataFrame" and hasattr(data, "index"):
        table = _from_pandas(data)
    else:
        msg = (
            f"cannot version a {type(data).__name__}: give a pandas DataFrame, a pyarrow Table, "
            "a 2-D numpy array, a dict of columns, or a path to a file or directory"
        )
        raise InvalidArgumentError(msg, field="data")
    if table.num_columns == 0:
        msg = "the dataset has no columns; give at least one column"
        raise InvalidArgumentError(msg, field="data")
    return _canonical(table)


def _canonical(table: pa.Table) -> pa.Table:
    """Drop pandas' metadata and undo chunking (it shapes the pages).

    pandas' metadata names library versions and records how the frame's index was written, so
    the same rows written by two tools would differ; the Arrow schema alone keeps the types.
    """
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != _PANDAS_META}
    return table.replace_schema_metadata(metadata or None).combine_chunks()


def parquet_bytes(table: pa.Table) -> bytes:
    """Write ``table`` as Parquet with pinned options: the same table gives the same bytes."""
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **_WRITE_OPTIONS)
    return sink.getvalue()


def read_parquet(data: bytes | Any, *, field: str = "body") -> pa.Table:
    """Read a Parquet file (bytes or a binary file object) into a table.

    Raises:
        InvalidArgumentError: the content is not a readable Parquet file.
    """
    source = pa.BufferReader(data) if isinstance(data, bytes) else data
    try:
        return pq.read_table(source)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        msg = f"the content is not a readable Parquet file ({exc}); send the bytes of one"
        raise InvalidArgumentError(msg, field=field) from exc


def column_types(table: pa.Table) -> dict[str, str]:
    """Return the schema as column name -> Arrow type name, in column order."""
    return {f.name: str(f.type) for f in table.schema}


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex of a file, read in chunks."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def files_of(path: Path) -> list[tuple[str, Path]]:
    """List (relative POSIX path, file) under ``path`` (a file or a directory), sorted.

    Raises:
        InvalidArgumentError: nothing at ``path``, or a directory without files.
    """
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        msg = f"no file or directory at {str(path)!r}"
        raise InvalidArgumentError(msg, field="path")
    found = sorted((f.relative_to(path).as_posix(), f) for f in path.rglob("*") if f.is_file())
    if not found:
        msg = f"the directory {str(path)!r} has no files to version"
        raise InvalidArgumentError(msg, field="path")
    return found


def manifest_of(path: Path) -> tuple[bytes, list[tuple[ManifestFile, Path]]]:
    """Hash every file under ``path``; return the canonical manifest JSON and the files."""
    entries = [
        (ManifestFile(path=rel, size=file.stat().st_size, sha256=sha256_file(file)), file)
        for rel, file in files_of(path)
    ]
    return manifest_json([e for e, _ in entries]), entries


def manifest_json(files: list[ManifestFile]) -> bytes:
    """Serialise a manifest canonically (sorted paths, sorted keys, no whitespace)."""
    ordered = sorted(files, key=lambda f: f.path)
    body = {"files": [f.model_dump() for f in ordered]}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def parse_manifest(data: bytes) -> list[ManifestFile]:
    """Read a manifest written by :func:`manifest_json`."""
    return [ManifestFile.model_validate(f) for f in orjson.loads(data)["files"]]


def safe_relative(path: str) -> str:
    """Return ``path`` if it stays inside its root (no absolute path, no ``..``).

    Raises:
        InvalidArgumentError: the path would escape the directory it is written under.
    """
    parts = Path(path).parts
    if not path or Path(path).is_absolute() or ".." in parts or "\\" in path:
        msg = f"unsafe file path {path!r} in a dataset: paths must be relative, without '..'"
        raise InvalidArgumentError(msg, field="path")
    return path
