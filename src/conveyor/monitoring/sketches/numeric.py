"""Window sketch of one numeric column: bin counts on the reference edges, quantiles, moments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.monitoring.sketches.frequent import FrequentItems
from conveyor.monitoring.sketches.kll import DEFAULT_K, KLLSketch
from conveyor.monitoring.sketches.moments import Moments
from conveyor.monitoring.sketches.values import fold_open_ended, is_missing, value_family

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Distinct type names kept for a column's type-mismatch report.
_TYPE_NAMES = 8


class NumericSketch:
    """Counts for one numeric column over one window, in memory independent of the row count.

    * ``slot_counts``: one slot below the reference minimum (underflow), one per reference bin,
      one above the reference maximum (overflow); ``-inf``/``+inf`` land in the outer slots;
    * ``quantiles``: a KLL sketch of the finite values; ``moments``: their count, mean, M2;
    * ``missing`` (None/NaN), ``inf_count``, ``type_mismatch`` (strings, booleans, ... in a
      numeric column; not binned), ``absent`` (rows of batches that lacked the column).

    Examples:
        >>> import numpy as np
        >>> sketch = NumericSketch(np.array([0.0, 5.0, 10.0]))
        >>> _ = sketch.update(np.array([1.0, 6.0, 12.0, np.nan, np.inf]))
        >>> sketch.slot_counts.tolist(), sketch.missing, sketch.out_of_range
        ([0, 1, 1, 2], 1, 2)
        >>> sketch.bin_counts().tolist()
        [1, 3]
    """

    kind = "numeric"
    __slots__ = (
        "_inner",
        "_layout",
        "_top",
        "absent",
        "edges",
        "inf_count",
        "mismatch_types",
        "missing",
        "moments",
        "quantiles",
        "slot_counts",
        "type_mismatch",
    )

    def __init__(self, edges: FloatArray, *, k: int = DEFAULT_K, seed: int = 0) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self._inner = self.edges[:-1].copy()
        self._top = float(self.edges[-1])
        self.slot_counts: IntArray = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.quantiles = KLLSketch(k, seed=seed)
        self.moments = Moments()
        self.missing = 0
        self.inf_count = 0
        self.type_mismatch = 0
        self.mismatch_types = FrequentItems(_TYPE_NAMES)
        self.absent = 0
        self._layout: tuple[Any, ...] = (self.kind, tuple(self.edges.tolist()), self.quantiles.k)

    def empty_like(self) -> NumericSketch:
        """Return an empty sketch on the same edges."""
        return NumericSketch(self.edges, k=self.quantiles.k, seed=self.quantiles._state)

    def layout(self) -> tuple[Any, ...]:
        """What two sketches must share to be merged."""
        return self._layout

    # --- updates -------------------------------------------------------------------------

    def update(self, column: npt.NDArray[Any]) -> NumericSketch:
        """Count a 1-D batch of values (any dtype; non-numbers count as type mismatches)."""
        values = self._coerce(column)
        if values.size == 0:
            return self
        finite_mask = np.isfinite(values)
        if finite_mask.all():
            present = finite = values
        else:
            missing_mask = np.isnan(values)
            n_missing = int(missing_mask.sum())
            self.missing += n_missing
            present = values[~missing_mask] if n_missing else values
            finite = values[finite_mask]
            self.inf_count += present.size - finite.size
        if present.size:
            slots = np.searchsorted(self._inner, present, side="right")
            slots += present > self._top
            self.slot_counts += np.bincount(slots, minlength=self.slot_counts.size)
        self.moments.update(finite)
        self.quantiles.update(finite)
        return self

    def _coerce(self, column: npt.NDArray[Any]) -> FloatArray:
        kind = column.dtype.kind
        if kind in "iuf":
            return column.astype(np.float64, copy=False)
        if kind != "O":  # booleans, strings, datetimes: a whole batch of another type
            self.type_mismatch += column.size
            self.mismatch_types.update({str(column.dtype): column.size})
            return np.empty(0, dtype=np.float64)
        out: list[float] = []
        wrong: dict[str, int] = {}
        for value in column.tolist():
            if is_missing(value):
                out.append(math.nan)
            elif value_family(value) == "number":
                out.append(_to_float(value))
            else:
                wrong[type(value).__name__] = wrong.get(type(value).__name__, 0) + 1
        if wrong:
            self.type_mismatch += sum(wrong.values())
            self.mismatch_types.update(wrong)
        return np.array(out, dtype=np.float64)

    def merge(self, other: NumericSketch) -> NumericSketch:
        """Fold ``other`` (same edges) into this sketch, in place, and return it."""
        return self.merge_many([other])

    def merge_many(self, others: Sequence[NumericSketch]) -> NumericSketch:
        """Fold many sketches at once (one sum per counter array, one KLL compaction)."""
        if not others:
            return self
        self.slot_counts = self.slot_counts + np.sum([o.slot_counts for o in others], axis=0)
        self.quantiles.merge_many([o.quantiles for o in others])
        self.moments.merge_many([o.moments for o in others])
        for other in others:
            self.missing += other.missing
            self.inf_count += other.inf_count
            self.type_mismatch += other.type_mismatch
            self.absent += other.absent
            if other.mismatch_types.total:
                self.mismatch_types.merge(other.mismatch_types)
        return self

    def restore(
        self,
        slot_counts: IntArray,
        fields: Sequence[int],
        moments: Moments,
        quantiles: KLLSketch,
        mismatch_types: FrequentItems,
    ) -> NumericSketch:
        """Return a sketch on this one's edges holding the given state (used when decoding).

        ``fields`` are ``missing, inf_count, type_mismatch, absent``. The edges and layout are
        shared with this sketch, not copied: decoding 1,000 windows then builds no new edges.
        """
        sketch = object.__new__(NumericSketch)
        sketch.edges, sketch._inner, sketch._top = self.edges, self._inner, self._top
        sketch._layout = self._layout
        sketch.slot_counts = slot_counts
        sketch.missing, sketch.inf_count, sketch.type_mismatch, sketch.absent = map(int, fields)
        sketch.moments, sketch.quantiles, sketch.mismatch_types = moments, quantiles, mismatch_types
        return sketch

    # --- reading -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Values counted in the bins (finite and infinite, not missing, not mismatched)."""
        return int(self.slot_counts.sum())

    @property
    def rows(self) -> int:
        """Rows in which the column was present."""
        return self.count + self.missing + self.type_mismatch

    @property
    def out_of_range(self) -> int:
        """Values below the reference minimum or above its maximum (infinities included)."""
        return int(self.slot_counts[0] + self.slot_counts[-1])

    def bin_counts(self) -> IntArray:
        """Counts per reference bin with open-ended outer bins (for PSI, chi², ...)."""
        return fold_open_ended(self.slot_counts)

    @property
    def mean(self) -> float:
        """Mean of the finite values (NaN when there are none)."""
        return self.moments.mean if self.moments.count else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation of the finite values (NaN below two values)."""
        return self.moments.std()

    @property
    def min(self) -> float:
        """Smallest finite value (exact; NaN when there are none)."""
        return self.quantiles.min_value

    @property
    def max(self) -> float:
        """Largest finite value (exact; NaN when there are none)."""
        return self.quantiles.max_value

    # --- serialisation -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Return the sketch as JSON scalars and NumPy arrays (see ``codec``)."""
        return {
            "kind": self.kind,
            "edges": self.edges,
            "slot_counts": self.slot_counts,
            "quantiles": self.quantiles.to_state(),
            "moments": self.moments.to_state(),
            "missing": self.missing,
            "inf_count": self.inf_count,
            "type_mismatch": self.type_mismatch,
            "mismatch_types": self.mismatch_types.to_state(),
            "absent": self.absent,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NumericSketch:
        """Rebuild a sketch written by ``to_state``."""
        sketch = cls(np.asarray(state["edges"], dtype=np.float64), k=int(state["quantiles"]["k"]))
        sketch.slot_counts = np.asarray(state["slot_counts"], dtype=np.int64).copy()
        sketch.quantiles = KLLSketch.from_state(state["quantiles"])
        sketch.moments = Moments.from_state(state["moments"])
        sketch.missing = int(state["missing"])
        sketch.inf_count = int(state["inf_count"])
        sketch.type_mismatch = int(state["type_mismatch"])
        sketch.mismatch_types = FrequentItems.from_state(state["mismatch_types"])
        sketch.absent = int(state["absent"])
        return sketch


def _to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an integer beyond float range
        return math.inf if int(value) > 0 else -math.inf  # type: ignore[call-overload]
