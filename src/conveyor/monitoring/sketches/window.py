"""A window's sketches: one per reference column, for the time range ``[start_ms, end_ms)``.

Serving replicas keep one ``WindowSketch`` per deployment, ``update`` it with every request
batch, and flush it (``to_bytes``) when the window closes; the monitor merges the windows of all
replicas and rolls them up in time (``rollup``). Its size depends on the reference (columns,
bins, categories), never on how many rows went through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.sketches import bulk, codec, packed
from conveyor.monitoring.sketches.categorical import CategoricalSketch
from conveyor.monitoring.sketches.frequent import FrequentItems
from conveyor.monitoring.sketches.kll import DEFAULT_K
from conveyor.monitoring.sketches.numeric import NumericSketch

if TYPE_CHECKING:
    from conveyor.monitoring.reference import ReferenceProfile

ColumnSketch = NumericSketch | CategoricalSketch
Batch = pd.DataFrame | Mapping[str, Any]

# Names of unexpected columns remembered per window (Misra-Gries counters, weighted by rows).
_UNEXPECTED_CAPACITY = 32


class WindowSketch:
    """Per-column sketches of one time window, mergeable across replicas and time.

    Examples:
        >>> import numpy as np, pandas as pd
        >>> from conveyor.monitoring.reference import ReferenceProfile
        >>> profile = ReferenceProfile.from_frame(pd.DataFrame({"x": np.arange(100.0)}))
        >>> window = WindowSketch.for_profile(profile, 0, 60_000)
        >>> _ = window.update({"x": np.array([5.0, 250.0]), "new": np.array([1, 2])})
        >>> window.rows, window.columns["x"].out_of_range, window.unexpected.top()
        (2, 1, [('new', 2)])
        >>> WindowSketch.from_bytes(window.to_bytes()).columns["x"].count
        2
    """

    __slots__ = ("_layout", "columns", "end_ms", "rows", "start_ms", "unexpected")

    def __init__(self, start_ms: int, end_ms: int, columns: Mapping[str, ColumnSketch]) -> None:
        _check_range(start_ms, end_ms)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.columns: dict[str, ColumnSketch] = dict(columns)
        # Computed once: the column set never changes after construction.
        self._layout = tuple((name, sketch.layout()) for name, sketch in self.columns.items())
        self.rows = 0
        self.unexpected = FrequentItems(_UNEXPECTED_CAPACITY)

    @classmethod
    def for_profile(
        cls,
        profile: ReferenceProfile,
        start_ms: int,
        end_ms: int,
        *,
        k: int = DEFAULT_K,
        seed: int = 0,
    ) -> WindowSketch:
        """Return an empty window laid out on the profile's edges and categories.

        ``seed`` makes the KLL compactions reproducible (column ``i`` uses ``seed + i``).
        """
        columns: dict[str, ColumnSketch] = {}
        for i, (name, column) in enumerate(profile.columns.items()):
            if column.kind == "numeric":
                edges = np.asarray(column.edges, dtype=np.float64)
                columns[name] = NumericSketch(edges, k=k, seed=seed + i)
            else:
                columns[name] = CategoricalSketch(column.categories, value_type=column.value_type)
        return cls(start_ms, end_ms, columns)

    def empty_like(self, start_ms: int | None = None, end_ms: int | None = None) -> WindowSketch:
        """Return an empty window with the same layout (optionally another time range)."""
        return WindowSketch(
            self.start_ms if start_ms is None else start_ms,
            self.end_ms if end_ms is None else end_ms,
            {name: sketch.empty_like() for name, sketch in self.columns.items()},
        )

    def layout(self) -> tuple[Any, ...]:
        """What two windows must share to be merged: column names, kinds, edges, categories."""
        return self._layout

    # --- updates -------------------------------------------------------------------------

    def update(self, batch: Batch) -> WindowSketch:
        """Count one request batch: a DataFrame or a mapping of column name to 1-D array.

        Columns of the reference that the batch lacks are counted as ``absent`` for its rows;
        columns the reference does not know are recorded in ``unexpected``. An empty batch
        changes nothing.

        Raises:
            InvalidArgumentError: the batch is not a DataFrame or mapping, has no columns, or
                holds arrays that are not 1-D or differ in length. Nothing is counted then.
        """
        arrays, rows = _columns_of(batch)
        if rows == 0:
            return self
        for name, sketch in self.columns.items():
            column = arrays.get(name)
            if column is None:
                sketch.absent += rows
            else:
                sketch.update(column)
        extra = [name for name in arrays if name not in self.columns]
        if extra:
            self.unexpected.update(dict.fromkeys(extra, rows))
        self.rows += rows
        return self

    def merge(self, other: WindowSketch) -> WindowSketch:
        """Fold ``other`` into this window (in place); the time range becomes their union."""
        return self.merge_many([other])

    def merge_many(self, others: Sequence[WindowSketch]) -> WindowSketch:
        """Fold many windows into this one, one vectorised merge per column.

        Raises:
            InvalidArgumentError: a window was built on another reference (other columns,
                kinds, bin edges or categories).
        """
        layout = self.layout()
        for other in others:
            if other._layout is not layout and other.layout() != layout:
                msg = "sketch: cannot merge windows built on different references "
                msg += f"({_layout_difference(layout, other.layout())}); merge only windows "
                msg += "of one monitor and one reference profile"
                raise InvalidArgumentError(msg, field="sketches")
        if not others:
            return self
        tables = [other.columns for other in others]
        for name, sketch in self.columns.items():
            peers = [table[name] for table in tables]
            # Equal layouts guarantee the peers are of the same kind as ``sketch``.
            if isinstance(sketch, NumericSketch):
                sketch.merge_many(cast("list[NumericSketch]", peers))
            else:
                sketch.merge_many(cast("list[CategoricalSketch]", peers))
        for other in others:
            self.rows += other.rows
            if other.unexpected.total:
                self.unexpected.merge(other.unexpected)
        self.start_ms = min([self.start_ms] + [o.start_ms for o in others])
        self.end_ms = max([self.end_ms] + [o.end_ms for o in others])
        return self

    @classmethod
    def merge_all(cls, sketches: Sequence[WindowSketch]) -> WindowSketch:
        """Return a new window holding all of ``sketches`` merged (the inputs are unchanged)."""
        if not sketches:
            msg = "sketch: merge_all needs at least one window, got none"
            raise InvalidArgumentError(msg, field="sketches")
        first = sketches[0]
        start = min(s.start_ms for s in sketches)
        end = max(s.end_ms for s in sketches)
        return first.empty_like(start, end).merge_many(sketches)

    # --- serialisation -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Encode the window for the store (format version 2: a few contiguous arrays; see
        ``packed``)."""
        return packed.encode(self.start_ms, self.end_ms, self.rows, self.unexpected, self.columns)

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowSketch:
        """Decode a window written by ``to_bytes`` (format version 2, or version 1 of earlier
        releases)."""
        if data[4:5] == bytes([codec.VERSION]):
            return cls._from_state(data)
        return cls._from_parts(bulk.unpack(packed.decode(data), _UNEXPECTED_CAPACITY))

    @classmethod
    def merge_bytes(cls, blobs: Sequence[bytes]) -> WindowSketch:
        """Merge encoded windows without building their sketches: one stacked sum for the
        counters, one vectorised pass for the moments and the KLL levels (see ``bulk``).

        Like ``merge_all([from_bytes(b) for b in blobs])``: the same counters, counts, moments
        (up to the last bits of their floating-point sums) and extremes. Its quantiles may come
        from other KLL items: many windows' sorted runs are halved before they are merged
        (``runs``), within the error bound the merged sketch reports, which this grows by at
        most 6 %.

        Raises:
            InvalidArgumentError: no blobs, a blob that is not a serialised window, or windows
                built on different references.
        """
        packs = packed.decode_many([_current(blob) for blob in blobs])
        return cls._from_parts(bulk.merge(packs, _UNEXPECTED_CAPACITY))

    @classmethod
    def _from_parts(cls, parts: bulk.WindowParts) -> WindowSketch:
        window = cls(parts.start_ms, parts.end_ms, parts.columns)
        window.rows = parts.rows
        window.unexpected = parts.unexpected
        return window

    @classmethod
    def _from_state(cls, data: bytes) -> WindowSketch:
        """Decode the version-1 format (JSON header + one array per field)."""
        state = codec.unpack(data)
        columns: dict[str, ColumnSketch] = {}
        for name, column in state["columns"]:
            kind = column["kind"]
            columns[name] = (
                NumericSketch.from_state(column)
                if kind == "numeric"
                else CategoricalSketch.from_state(column)
            )
        window = cls(int(state["start_ms"]), int(state["end_ms"]), columns)
        window.rows = int(state["rows"])
        window.unexpected = FrequentItems.from_state(state["unexpected"])
        return window


def _current(blob: bytes) -> bytes:
    """Return ``blob`` in the current format (a version-1 window is decoded and re-encoded)."""
    if blob[4:5] == bytes([codec.VERSION]):
        return WindowSketch.from_bytes(blob).to_bytes()
    return blob


def _check_range(start_ms: int, end_ms: int) -> None:
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            msg = f"sketch: {name} must be integer milliseconds since the epoch, got {value!r}"
            raise InvalidArgumentError(msg, field=name)
    if end_ms <= start_ms:
        msg = f"sketch: a window needs start_ms < end_ms, got [{start_ms}, {end_ms})"
        raise InvalidArgumentError(msg, field="end_ms")


def _columns_of(batch: object) -> tuple[dict[str, npt.NDArray[Any]], int]:
    if isinstance(batch, pd.DataFrame):
        arrays = {str(name): batch[name].to_numpy() for name in batch.columns}
        return arrays, len(batch)
    if not isinstance(batch, Mapping):
        msg = "sketch: a batch is a DataFrame or a mapping of column -> array, got "
        msg += f"{type(batch).__name__}"
        raise InvalidArgumentError(msg, field="batch")
    if not batch:
        msg = "sketch: the batch has no columns; send at least one column (it may have 0 rows)"
        raise InvalidArgumentError(msg, field="batch")
    arrays = {str(name): _as_column(name, values) for name, values in batch.items()}
    lengths = {name: column.size for name, column in arrays.items()}
    if len(set(lengths.values())) > 1:
        msg = f"sketch: batch columns differ in length {lengths}; send one value per row"
        raise InvalidArgumentError(msg, field="batch")
    return arrays, next(iter(lengths.values()))


def _as_column(name: object, values: Any) -> npt.NDArray[Any]:
    column = values if isinstance(values, np.ndarray) else np.asarray(values)
    if column.dtype.kind in "US" and not isinstance(values, np.ndarray):
        # numpy turns [1, "a"] into strings; keep the original objects and their types
        column = np.empty(len(values), dtype=object)
        column[:] = list(values)
    if column.ndim != 1:
        msg = f"sketch: column {name!r} must be a 1-D array of values, got shape {column.shape}"
        raise InvalidArgumentError(msg, field=str(name))
    return column


def _layout_difference(mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> str:
    names, other_names = [n for n, _ in mine], [n for n, _ in theirs]
    if names != other_names:
        return f"columns {names} vs {other_names}"
    for (name, a), (_, b) in zip(mine, theirs, strict=True):
        if a != b:
            return f"column {name!r} differs: {a[0]} layout {a[1:]!r} vs {b[0]} {b[1:]!r}"
    return "unknown difference"
