"""Diffs: row counts and row sets, schema changes, statistics side by side, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.data import Datasets
from conveyor.data.diff import column_changes, multiset_difference
from conveyor.errors import InvalidArgumentError
from conveyor.tracking import Workspace


@pytest.fixture
def datasets(sqlite_workspace: Workspace) -> Datasets:
    return Datasets(sqlite_workspace.engine, sqlite_workspace.blobs)


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"age": rng.normal(40, 10, n), "plan": rng.choice(["a", "b"], n)})


def test_rows_schema_and_statistics(datasets: Datasets) -> None:
    old = _frame()
    new = old.iloc[10:].copy()  # 10 rows removed
    new = pd.concat([new, new.iloc[:3]], ignore_index=True)  # 3 duplicated rows added
    new["plan"] = new["plan"].astype("category")  # a type change
    new["score"] = 1.0
    datasets.log_table("d", old)
    datasets.log_table("d", new)
    diff = datasets.diff_pair("d")
    assert (diff.old, diff.new) == ("d@1", "d@2")
    assert (diff.old_row_count, diff.new_row_count, diff.row_delta) == (200, 193, -7)
    assert (diff.rows_added, diff.rows_removed) == (3, 10)  # compared on 'age' only
    assert diff.columns_added == ["score"]
    assert [(c.column, c.old, c.new) for c in diff.dtype_changes] == [
        ("plan", "large_string", "dictionary<values=large_string, indices=int8, ordered=0>")
    ]
    mean = next(c for c in diff.stat_changes if (c.column, c.stat) == ("age", "mean"))
    assert mean.old == pytest.approx(old["age"].mean())
    assert mean.new == pytest.approx(new["age"].mean())
    assert not diff.identical


def test_identical_content_under_two_names_has_no_differences(datasets: Datasets) -> None:
    datasets.log_table("a", _frame())
    datasets.log_table("b", _frame())
    diff = datasets.diff("a@1", "b@1")
    assert diff.identical
    assert (diff.rows_added, diff.rows_removed) == (0, 0)


def test_sides_default_to_the_previous_and_latest(datasets: Datasets) -> None:
    for n in (10, 20, 30):
        datasets.log_table("d", _frame(n))
    assert (datasets.diff_pair("d").old, datasets.diff_pair("d").new) == ("d@2", "d@3")
    assert datasets.diff_pair("d", new=2).old == "d@1"
    assert datasets.diff_pair("d", old="1").new == "d@3"
    with pytest.raises(InvalidArgumentError, match="first version"):
        datasets.diff_pair("d", new=1)
    datasets.log_table("single", _frame())
    with pytest.raises(InvalidArgumentError, match="a diff needs two"):
        datasets.diff_pair("single")


def test_file_manifests_compare_files(datasets: Datasets, tmp_path: Path) -> None:
    src = tmp_path / "files"
    src.mkdir()
    (src / "keep").write_text("same")
    (src / "edit").write_text("one")
    (src / "drop").write_text("x")
    datasets.log_path("f", src)
    (src / "edit").write_text("two")
    (src / "drop").unlink()
    (src / "add").write_text("new")
    datasets.log_path("f", src)
    diff = datasets.diff_pair("f")
    assert (diff.files_added, diff.files_removed, diff.files_changed) == (
        ["add"],
        ["drop"],
        ["edit"],
    )
    assert diff.row_delta is None


def test_column_changes_list_only_what_differs() -> None:
    old = {"count": 3, "mean": 1.0, "quantiles": {"p50": 1.0}, "top": [{"value": "a", "count": 2}]}
    new = {"count": 3, "mean": 2.0, "quantiles": {"p50": 1.0}, "top": [{"value": "b", "count": 2}]}
    changes = [(c.stat, c.old, c.new) for c in column_changes("x", old, new)]
    assert changes == [("mean", 1.0, 2.0), ("top[a]", 2, None), ("top[b]", None, 2)]


def test_multiset_difference_counts_repeats() -> None:
    old = np.array([1, 1, 2, 3], dtype=np.uint64)
    new = np.array([1, 2, 2, 4], dtype=np.uint64)
    assert multiset_difference(old, new) == (2, 2)
