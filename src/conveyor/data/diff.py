"""Compare two dataset versions: rows, schema, files and per-column statistics.

Rows are compared as multisets of row hashes over the columns both versions share with the
same type (pandas' ``hash_pandas_object``), when both versions have at most
:data:`MAX_ROWS_TO_HASH` rows; a column whose type changed is reported as such instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.data.entities import DatasetDiff, DatasetVersion, DtypeChange, StatChange, StatValue
from conveyor.data.profile import QUANTILES, quantile_name

if TYPE_CHECKING:
    import pyarrow as pa

    from conveyor.data.service import Datasets

MAX_ROWS_TO_HASH = 5_000_000
_SCALARS = ("count", "nulls", "distinct", "mean", "std", "min", "max", "infinite")


def compare(datasets: Datasets, old: DatasetVersion, new: DatasetVersion) -> DatasetDiff:
    """Build the diff of ``old`` -> ``new`` (any two versions, of one dataset or two)."""
    delta = (
        None if old.row_count is None or new.row_count is None else new.row_count - old.row_count
    )
    result = DatasetDiff(
        old=old.ref,
        new=new.ref,
        kind=new.kind,
        old_row_count=old.row_count,
        new_row_count=new.row_count,
        row_delta=delta,
    )
    if old.kind != new.kind:
        return result  # a frame and a file manifest share nothing to compare column-wise
    if new.kind == "files":
        return _files(datasets, old, new, result)
    shared = [c for c in old.columns if c in new.columns]
    result.columns_added = [c for c in new.columns if c not in old.columns]
    result.columns_removed = [c for c in old.columns if c not in new.columns]
    result.dtype_changes = [
        DtypeChange(column=c, old=old.columns[c], new=new.columns[c])
        for c in shared
        if old.columns[c] != new.columns[c]
    ]
    old_profile, new_profile = datasets.profile(old) or {}, datasets.profile(new) or {}
    for column in shared:
        result.stat_changes.extend(
            column_changes(
                column,
                old_profile.get("columns", {}).get(column, {}),
                new_profile.get("columns", {}).get(column, {}),
            )
        )
    same_type = [c for c in shared if old.columns[c] == new.columns[c]]
    fits = max(old.row_count or 0, new.row_count or 0) <= MAX_ROWS_TO_HASH
    if same_type and fits:
        old_hashes = row_hashes(datasets.read_table(old), same_type)
        new_hashes = row_hashes(datasets.read_table(new), same_type)
        result.rows_added, result.rows_removed = multiset_difference(old_hashes, new_hashes)
    return result


def _files(
    datasets: Datasets, old: DatasetVersion, new: DatasetVersion, result: DatasetDiff
) -> DatasetDiff:
    before = {f.path: f.sha256 for f in datasets.manifest(old)}
    after = {f.path: f.sha256 for f in datasets.manifest(new)}
    result.files_added = sorted(after.keys() - before.keys())
    result.files_removed = sorted(before.keys() - after.keys())
    result.files_changed = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    return result


def _flat(profile: dict[str, Any]) -> dict[str, StatValue]:
    """One column's profile as stat name -> value: scalars, ``p50``..., ``top[VALUE]`` counts."""
    flat: dict[str, StatValue] = {k: profile[k] for k in _SCALARS if k in profile}
    quantiles = profile.get("quantiles") or {}
    for q in QUANTILES:
        name = quantile_name(q)
        if name in quantiles:
            flat[name] = quantiles[name]
    for entry in profile.get("top") or ():
        flat[f"top[{entry['value']}]"] = entry["count"]
    return flat


def column_changes(column: str, old: dict[str, Any], new: dict[str, Any]) -> list[StatChange]:
    """Return the statistics of one column that differ, side by side (missing: ``None``)."""
    before, after = _flat(old), _flat(new)
    names = list(before) + [k for k in after if k not in before]
    return [
        StatChange(column=column, stat=k, old=before.get(k), new=after.get(k))
        for k in names
        if before.get(k) != after.get(k)
    ]


def row_hashes(table: pa.Table, columns: list[str]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Return one 64-bit hash per row over ``columns`` (in that order)."""
    import pandas as pd

    frame = table.select(columns).to_pandas()
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return np.asarray(hashed, dtype=np.uint64)


def multiset_difference(
    old: np.ndarray[Any, np.dtype[np.uint64]], new: np.ndarray[Any, np.dtype[np.uint64]]
) -> tuple[int, int]:
    """Return (rows in ``new`` not in ``old``, rows in ``old`` not in ``new``), with repeats."""
    values, inverse = np.unique(np.concatenate([old, new]), return_inverse=True)
    old_counts = np.bincount(inverse[: len(old)], minlength=len(values))
    new_counts = np.bincount(inverse[len(old) :], minlength=len(values))
    added = int(np.clip(new_counts - old_counts, 0, None).sum())
    removed = int(np.clip(old_counts - new_counts, 0, None).sum())
    return added, removed
