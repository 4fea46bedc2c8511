"""Data drift between a reference and a current data set, column by column.

``detect_drift`` picks each column's test as Evidently 0.7 does (see ``drift_selection``),
unless told otherwise per column, and reports the share of drifted columns. Bad input never
yields a silent number: a column missing from the current data, a type change or a column with
no usable values gets ``drifted=None`` and a ``reason``; NaN and +/-inf are dropped and counted
(``reference_missing``/``current_missing``); an empty current data set, a reference with fewer
than two rows, unknown columns or tests raise ``InvalidArgumentError``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.drift_columns import (
    ColumnTask,
    categorical_drift,
    numeric_drift,
    skipped,
)
from conveyor.monitoring.drift_report import ColumnDrift, DriftReport
from conveyor.monitoring.drift_selection import STATTESTS, Kind

Data = pd.DataFrame | Mapping[str, Any]
T = TypeVar("T")

INTEGER_CARDINALITY_LIMIT = 10
"""An integer column with at most this many distinct values is categorical (Evidently's rule)."""
MAX_THREADS = 8


def detect_drift(
    reference: Data,
    current: Data,
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    numerical: Sequence[str] | None = None,
    stattest: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
) -> DriftReport:
    """Test every column of ``columns`` (default: all of the reference's) for drift.

    ``reference`` and ``current`` are DataFrames or mappings of column name to 1-D array.
    A column's kind is ``categorical``/``numerical`` when listed there, else inferred from the
    reference as Evidently infers it: floats are numeric, integers numeric unless they have at
    most 10 distinct values, strings, booleans and categoricals categorical. ``stattest`` and
    ``threshold`` apply to every column, or per column when given as mappings (columns left out
    keep the automatic choice and the test's default threshold). A column whose share of
    drifted columns reaches ``drift_share`` makes ``dataset_drift`` true.
    """
    _check_share(drift_share)
    names = _column_names(reference, columns)
    _check_rows(reference, current, names)
    tests = _per_column(stattest, names, "stattest")
    thresholds = _per_column(threshold, names, "threshold")
    _check_overrides(tests, thresholds)
    forced = _forced_kinds(names, categorical, numerical)
    jobs = [(name, tests.get(name), thresholds.get(name), forced.get(name)) for name in names]

    def run(job: tuple[str, str | None, float | None, Kind | None]) -> ColumnDrift:
        name, test, limit, kind = job
        return _column_drift(reference, current, name, test, limit, kind)

    workers = min(MAX_THREADS, os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        results = [run(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, jobs))
    return DriftReport(columns=tuple(results), drift_share=drift_share)


def _column_drift(
    reference: Data,
    current: Data,
    name: str,
    test: str | None,
    limit: float | None,
    kind: Kind | None,
) -> ColumnDrift:
    ref = _values(reference, name)
    if name not in current:
        reason = f"column {name!r} is missing from the current data"
        return skipped(name, reason, (len(ref), 0, 0, 0))
    cur = _values(current, name)
    if cur.ndim != 1 or ref.ndim != 1:
        msg = f"column {name!r} must be 1-D on both sides"
        raise InvalidArgumentError(msg, field=name)
    kind = kind or infer_kind(ref)
    if kind is None:
        reason = f"column {name!r} has dtype {ref.dtype}, which has no drift test; exclude it"
        return skipped(name, reason, (len(ref), len(cur), 0, 0))
    task = ColumnTask(name, kind, test, limit)
    if kind == "numeric":
        return numeric_drift(task, ref, cur)
    return categorical_drift(task, ref, cur)


def infer_kind(values: npt.NDArray[Any]) -> Kind | None:
    """Evidently 0.7's ``infer_column_type``, minus text: None for unsupported dtypes."""
    kind = values.dtype.kind
    if kind == "f":
        return "numeric"
    if kind in "iu":
        distinct = pd.unique(values).size
        return "categorical" if distinct <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if kind in "bOUS":
        return "categorical"
    return None


def _values(data: Data, name: str) -> Any:
    """The column as a NumPy array, or a pandas extension array for non-numeric columns
    (Arrow-backed strings factorise faster as they are than converted to objects)."""
    column = data[name]
    if isinstance(column, pd.Series):
        dtype = column.dtype
        if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        if pd.api.types.is_extension_array_dtype(dtype):
            return column.array
        return column.to_numpy()
    return np.asarray(column)


def _check_share(drift_share: float) -> None:
    if not isinstance(drift_share, int | float) or not 0 < drift_share <= 1:
        msg = f"drift_share must be in (0, 1], got {drift_share!r}"
        raise InvalidArgumentError(msg, field="drift_share")


def _column_names(reference: Data, columns: Sequence[str] | None) -> list[str]:
    _check_data(reference, "reference")
    available = [str(c) for c in reference]
    if columns is None:
        names = available
    else:
        if isinstance(columns, str):
            msg = "columns must be a list of column names, not one string"
            raise InvalidArgumentError(msg, field="columns")
        names = list(columns)
        unknown = [c for c in names if c not in reference]
        if unknown:
            msg = f"columns {unknown} are not in the reference; reference has {available}"
            raise InvalidArgumentError(msg, field="columns")
    if not names:
        msg = "no columns to test: the reference has none, or columns=[] was given"
        raise InvalidArgumentError(msg, field="columns")
    return names


def _check_data(data: object, field: str) -> None:
    if not isinstance(data, pd.DataFrame | Mapping):
        kind = type(data).__name__
        msg = f"{field} must be a DataFrame or a mapping of column name to array, not {kind}"
        raise InvalidArgumentError(msg, field=field)


def _row_count(data: Data, names: Sequence[str]) -> int:
    if isinstance(data, pd.DataFrame):
        return len(data)
    present = [name for name in names if name in data]
    return max((len(data[name]) for name in present), default=0)


def _check_rows(reference: Data, current: Data, names: Sequence[str]) -> None:
    _check_data(current, "current")
    ref_rows = _row_count(reference, names)
    if ref_rows < 2:
        msg = f"the reference has {ref_rows} row(s); drift needs a reference of at least 2 rows"
        raise InvalidArgumentError(msg, field="reference")
    if _row_count(current, names) == 0:
        msg = "the current data is empty (0 rows); wait for a window with data"
        raise InvalidArgumentError(msg, field="current")


def _per_column(
    value: T | Mapping[str, T] | None, names: Sequence[str], field: str
) -> dict[str, T]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            msg = f"{field} names columns {unknown} that are not being tested"
            raise InvalidArgumentError(msg, field=field)
        return dict(value)
    return dict.fromkeys(names, value)


def _check_overrides(tests: Mapping[str, Any], thresholds: Mapping[str, Any]) -> None:
    for name, test in tests.items():
        if test not in STATTESTS:
            msg = f"unknown stattest {test!r} for column {name!r}; choose one of "
            msg += ", ".join(sorted(STATTESTS))
            raise InvalidArgumentError(msg, field="stattest")
    for name, limit in thresholds.items():
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not math.isfinite(limit)
        ):
            msg = f"threshold for column {name!r} must be a finite number, got {limit!r}"
            raise InvalidArgumentError(msg, field="threshold")


def _forced_kinds(
    names: Sequence[str], categorical: Sequence[str] | None, numerical: Sequence[str] | None
) -> dict[str, Kind]:
    forced: dict[str, Kind] = {}
    for kind, listed, field in (
        ("categorical", categorical, "categorical"),
        ("numeric", numerical, "numerical"),
    ):
        for name in listed or ():
            if name not in names:
                msg = f"{field} lists {name!r}, which is not among the columns tested"
                raise InvalidArgumentError(msg, field=field)
            if name in forced:
                msg = f"column {name!r} is listed as both categorical and numerical"
                raise InvalidArgumentError(msg, field=field)
            forced[name] = kind  # type: ignore[assignment]
    return forced
