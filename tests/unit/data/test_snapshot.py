"""Snapshots are deterministic: same data, same bytes, whatever the producer's chunking."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.data.snapshot import (
    column_types,
    manifest_of,
    parquet_bytes,
    read_parquet,
    safe_relative,
    to_table,
)
from conveyor.errors import InvalidArgumentError


def _digest(data: object) -> str:
    return hashlib.sha256(parquet_bytes(to_table(data))).hexdigest()


def test_same_frame_gives_the_same_bytes() -> None:
    frame = pd.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000)})
    assert _digest(frame) == _digest(frame.copy())


def test_chunking_and_pandas_metadata_do_not_change_the_digest() -> None:
    frame = pd.DataFrame({"a": np.arange(100), "b": ["x"] * 100})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    chunked = pa.concat_tables([table.slice(0, 30), table.slice(30)])
    assert chunked.column("a").num_chunks == 2
    assert _digest(frame) == _digest(chunked) == _digest(table.replace_schema_metadata(None))


def test_a_different_value_changes_the_digest() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    assert _digest(frame) != _digest(pd.DataFrame({"a": [1, 2, 4]}))


def test_a_default_index_is_dropped_and_a_meaningful_one_kept() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    assert column_types(to_table(frame)) == {"a": "int64"}
    named = frame.set_axis(pd.Index(["x", "y"], name="key"))
    assert list(column_types(to_table(named))) == ["key", "a"]


def test_numpy_and_dict_inputs() -> None:
    assert column_types(to_table(np.zeros((3, 2)))) == {"0": "double", "1": "double"}
    assert column_types(to_table({"a": [1, 2]})) == {"a": "int64"}
    with pytest.raises(InvalidArgumentError, match="1-D or 2-D"):
        to_table(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidArgumentError, match="cannot version a set"):
        to_table({1, 2})
    with pytest.raises(InvalidArgumentError, match="no columns"):
        to_table(pd.DataFrame())
    with pytest.raises(InvalidArgumentError, match="cannot build a table"):
        to_table({"a": [1, 2], "b": [1]})


def test_parquet_round_trip_and_bad_bytes() -> None:
    table = to_table({"a": [1, None, 3]})
    assert read_parquet(parquet_bytes(table)).equals(table)
    with pytest.raises(InvalidArgumentError, match="not a readable Parquet file") as info:
        read_parquet(b"PAR1 nope")
    assert info.value.field == "body"


def test_manifest_is_canonical_and_lists_every_file(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("z")
    (tmp_path / "a.txt").write_text("aa")
    manifest, files = manifest_of(tmp_path)
    assert [f.path for f, _ in files] == ["a.txt", "b/z.txt"]
    assert files[0][0].sha256 == hashlib.sha256(b"aa").hexdigest()
    assert manifest == manifest_of(tmp_path)[0]
    assert manifest.startswith(b'{"files":[{"path":"a.txt"')
    with pytest.raises(InvalidArgumentError, match="no file or directory"):
        manifest_of(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="has no files"):
        manifest_of(tmp_path / "empty")


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", ""])
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidArgumentError, match="unsafe file path"):
        safe_relative(path)
