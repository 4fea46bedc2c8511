"""Turn a window's ``Served`` records into rows: one per model input row, columns named.

Shared by the sinks that keep rows (monitor feed, request log). A record's inputs are what its
version's plan built: a DataFrame, the fast path's matrix (named by the plan's columns), or a
dict of 1-D arrays. Records are grouped by layout and each group is concatenated once, so the
cost is a few NumPy calls per group plus a small constant per record, never per row.

A request of ``n > 1`` rows gets the row ids ``"<request id>:<i>"`` (``i`` from 0); a one-row
request keeps its request id, so a label posted for ``x-request-id`` joins it directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from conveyor.serving.recorder import Served
from conveyor.serving.routes import RouteTable

if TYPE_CHECKING:
    from conveyor.serving.replica import Replica

log = logging.getLogger(__name__)

ColumnsOf = Callable[[RouteTable, int], Sequence[str] | None]
"""The matrix column names a served version's plan uses (None when not on the matrix path)."""


def no_columns(_table: RouteTable, _version: int) -> None:
    """A ``ColumnsOf`` that knows no plan (unnamed matrices are then skipped or numbered)."""
    return


def plan_columns(replica: Replica) -> ColumnsOf:
    """Column names from the plans of the versions ``replica`` holds, remembered once seen.

    Versions never change their signature, so names stay valid after a version is retired.
    """
    known: dict[tuple[str, int], tuple[str, ...] | None] = {}

    def columns_of(table: RouteTable, version: int) -> Sequence[str] | None:
        key = (table.deployment, version)
        if key not in known:
            host = replica.hosts.get(table.deployment)
            loaded = None if host is None else host.versions.get(version)
            if loaded is None:
                return None  # not loaded (yet, or any more): ask again next time
            known[key] = loaded.plan.columns
        return known[key]

    return columns_of


def row_ids(request_id: str, n: int) -> list[str]:
    """One id per row of a request.

    Examples:
        >>> row_ids("r1", 1), row_ids("r1", 3)
        (['r1'], ['r1:0', 'r1:1', 'r1:2'])
    """
    if n == 1:
        return [request_id]
    return [f"{request_id}:{i}" for i in range(n)]


@dataclass
class Rows:
    """Rows of many records, aligned: ``inputs``, ``predictions`` and ``request_ids``.

    ``records`` and ``counts`` say which record each run of rows came from (grouped by layout,
    so not in arrival order).
    """

    records: list[Served]
    counts: np.ndarray[Any, Any]
    inputs: pd.DataFrame
    predictions: np.ndarray[Any, Any]
    request_ids: list[str]

    def __len__(self) -> int:
        return len(self.request_ids)


@dataclass
class _Group:
    columns: tuple[str, ...] | None  # None: DataFrames (pandas aligns their columns)
    parts: list[Any]
    predictions: list[np.ndarray[Any, Any]]
    records: list[Served]


def served_rows(
    records: Sequence[Served],
    columns_of: ColumnsOf = no_columns,
    *,
    all_outputs: bool = False,
    number_unnamed: bool = False,
) -> Rows:
    """The rows of ``records`` that have inputs and predictions.

    Args:
        records: answered requests (records without inputs or predictions are left out).
        columns_of: names the matrix columns of a version's plan.
        all_outputs: keep every output of a multi-output model (a list per row); else the
            first output column, as the traffic summaries do.
        number_unnamed: name an unsigned matrix's columns ``input_0``, ``input_1``...; else
            such records are left out (their columns cannot be matched to a reference).
    """
    groups: dict[Any, _Group] = {}
    for r in records:
        if r.inputs is None or r.predictions is None:
            continue
        placed = _place(r, columns_of, number_unnamed)
        if placed is None:
            continue
        key, columns, part = placed
        prediction = per_row(r.predictions, _length(part), all_outputs=all_outputs)
        if prediction is None:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(columns, [], [], [])
        group.parts.append(part)
        group.predictions.append(prediction)
        group.records.append(r)
    return _assemble(list(groups.values()))


def _place(
    r: Served, columns_of: ColumnsOf, number_unnamed: bool
) -> tuple[Any, tuple[str, ...] | None, Any] | None:
    """The group key, column names and input part of one record (None: not usable)."""
    data = r.inputs
    if isinstance(data, pd.DataFrame):
        return "frame", None, data
    if isinstance(data, np.ndarray) and data.ndim == 2:
        names = columns_of(r.table, r.version)
        if names is None or len(names) != data.shape[1]:
            if not number_unnamed:
                _warn_once(r, data.shape[1])
                return None
            names = [f"input_{i}" for i in range(data.shape[1])]
        columns = tuple(names)
        return ("matrix", columns, data.dtype.str), columns, data
    if isinstance(data, dict) and data and all(_is_column(v) for v in data.values()):
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in data.items()})
        return "frame", None, frame
    _warn_once(r, None)
    return None


_warned: set[tuple[str, int]] = set()


def _warn_once(r: Served, width: int | None) -> None:
    key = (r.deployment, r.version)
    if key in _warned:
        return
    _warned.add(key)
    what = f"an unnamed {width}-column matrix" if width is not None else "tensors"
    log.warning(
        "serving: %s version %s takes %s; its inputs cannot be matched to named columns, so "
        "they are not fed to monitors (log the model with a column signature)",
        r.deployment,
        r.version,
        what,
    )


def _is_column(value: Any) -> bool:
    shape = getattr(value, "shape", None)
    return shape is not None and len(shape) == 1


def _length(part: Any) -> int:
    return int(part.shape[0]) if hasattr(part, "shape") else len(part)


def per_row(predictions: Any, n: int, *, all_outputs: bool = False) -> np.ndarray[Any, Any] | None:
    """One prediction per row (None when the output's length is not ``n``).

    A model with several outputs per row (a matrix, a multi-column frame, a dict of arrays) is
    reduced to its first output, or to one list per row with ``all_outputs``.

    Examples:
        >>> per_row(np.array([[0.2, 0.8], [0.6, 0.4]]), 2).tolist()
        [0.2, 0.6]
        >>> per_row(np.array([[0.2, 0.8]]), 1, all_outputs=True).tolist()
        [[0.2, 0.8]]
        >>> per_row(np.array([1, 2, 3]), 2) is None
        True
    """
    if isinstance(predictions, dict):
        if not predictions:
            return None
        predictions = next(iter(predictions.values()))
    values = np.asarray(predictions.to_numpy() if hasattr(predictions, "to_numpy") else predictions)
    if values.ndim == 0 or len(values) != n:
        return None
    if values.ndim == 1:
        return values
    flat = values.reshape(n, -1)
    if flat.shape[1] == 1 or not all_outputs:
        return flat[:, 0]
    return _objects(flat.tolist())


def _assemble(groups: list[_Group]) -> Rows:
    frames, predictions, records, counts, ids = [], [], [], [], []
    for g in groups:
        if g.columns is None:
            frame = pd.concat(g.parts, ignore_index=True) if len(g.parts) > 1 else g.parts[0]
        else:
            frame = pd.DataFrame(np.concatenate(g.parts), columns=list(g.columns))
        frames.append(frame.reset_index(drop=True))
        predictions.append(_concat(g.predictions))
        for r, part in zip(g.records, g.parts, strict=True):
            n = _length(part)
            counts.append(n)
            ids.extend(row_ids(r.request_id, n))
        records.extend(g.records)
    if not frames:
        return Rows([], np.zeros(0, dtype=np.int64), pd.DataFrame(), np.zeros(0), [])
    inputs = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return Rows(records, np.asarray(counts, dtype=np.int64), inputs, _concat(predictions), ids)


def _concat(arrays: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    if len(arrays) == 1:
        return arrays[0]
    if any(a.dtype == object for a in arrays):  # lists per row must stay lists
        return _objects([v for a in arrays for v in a])
    return np.concatenate(arrays)


def _objects(values: list[Any]) -> np.ndarray[Any, Any]:
    """A 1-D object array holding ``values`` as they are (NumPy would stack equal-length lists)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out
