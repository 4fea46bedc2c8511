"""Decode and merge windows in their compact layout (``packed``), without per-column objects.

Merging ``W`` windows stacks their counter arrays into one ``W x n`` matrix and sums it once,
and combines every numeric column's moments in one vectorised Chan step. The KLL levels are
stored sorted: each window's runs are first halved on their own by strided slices, within a
variance budget (``runs``), and only the survivors are gathered by (column, level); each
column's levels are then compacted once, as ``KLLSketch.merge_many`` would. A merge whose
budget allows no halving (few windows, or windows stored before the sorted flag) equals merging
the decoded windows one by one; otherwise its quantiles come from other items, within the error
bound the merged sketch reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.sketches import runs
from conveyor.monitoring.sketches.categorical import CategoricalSketch
from conveyor.monitoring.sketches.frequent import FrequentItems
from conveyor.monitoring.sketches.kll import KLLParts, KLLSketch
from conveyor.monitoring.sketches.moments import Moments
from conveyor.monitoring.sketches.numeric import NumericSketch
from conveyor.monitoring.sketches.packed import FLOATS, NUMERIC_INTS, Layout, Packed
from conveyor.monitoring.sketches.runs import Runs

if TYPE_CHECKING:
    from conveyor.monitoring.sketches.window import ColumnSketch

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Offsets of fields after a numeric column's bin counts (see packed.NUMERIC_INTS).
_MOMENTS, _KLL, _STATE, _HEIGHT = (
    NUMERIC_INTS.index(f) for f in ("moments", "kll", "state", "height")
)
_N_FLOATS = len(FLOATS)
_MASK64 = (1 << 64) - 1


class WindowParts(NamedTuple):
    """Everything a ``WindowSketch`` holds."""

    start_ms: int
    end_ms: int
    rows: int
    columns: dict[str, ColumnSketch]
    unexpected: FrequentItems


def _record(state: object, capacity: int) -> FrequentItems:
    return FrequentItems.from_state(state) if isinstance(state, dict) else FrequentItems(capacity)


def unpack(packed: Packed, unexpected_capacity: int) -> WindowParts:
    """Build one window's sketch objects from its arrays (``WindowSketch.from_bytes``)."""
    layout, extras = packed.layout, packed.extras
    ints = packed.ints.copy()  # writable: updates add into the count slices in place
    scalars, floats = ints.tolist(), packed.floats.tolist()
    sizes, items = packed.levels.tolist(), packed.items
    columns: dict[str, ColumnSketch] = {}
    level_at = item_at = j = 0
    for i, prototype in enumerate(layout.prototypes):
        at = layout.fields[i]
        records = extras.get(str(i), {})
        types = _record(records.get("types"), prototype.mismatch_types.capacity)
        if isinstance(prototype, NumericSketch):
            mean, m2, variance, low, high = floats[_N_FLOATS * j : _N_FLOATS * (j + 1)]
            j += 1
            levels = []
            for size in sizes[level_at : level_at + scalars[at + _HEIGHT]]:
                levels.append(items[item_at : item_at + size])
                item_at += size
            level_at += len(levels)
            state = scalars[at + _STATE] & _MASK64
            parts = KLLParts(scalars[at + _KLL], state, variance, low, high, levels)
            quantiles = KLLSketch.assemble(prototype.quantiles.k, parts, is_sorted=packed.is_sorted)
            moments = Moments(scalars[at + _MOMENTS], mean, m2)
            column: ColumnSketch = prototype.restore(
                ints[layout.counts[i]], scalars[at : at + 4], moments, quantiles, types
            )
        else:
            assert isinstance(prototype, CategoricalSketch)  # noqa: S101 - layout decides the kind
            unseen = _record(records.get("unseen"), prototype.unseen.capacity)
            column = prototype.restore(ints[layout.counts[i]], scalars[at : at + 3], unseen, types)
        columns[layout.names[i]] = column
    unexpected = _record(extras.get("unexpected"), unexpected_capacity)
    return WindowParts(scalars[0], scalars[1], scalars[2], columns, unexpected)


def merge(packs: Sequence[Packed], unexpected_capacity: int) -> WindowParts:
    """Merge windows in their packed form, as ``WindowSketch.merge_all`` of them decoded would:
    the same counters, moments and extremes; the same KLL items when no run is halved, else
    other items within the error bound that the merged sketch reports (see ``runs``).

    Raises:
        InvalidArgumentError: no windows, or windows built on different references.
    """
    if not packs:
        msg = "sketch: merge_bytes needs at least one window, got none"
        raise InvalidArgumentError(msg, field="sketches")
    layout = packs[0].layout
    for pack in packs:
        if pack.layout is not layout and pack.layout.raw != layout.raw:
            msg = "sketch: cannot merge windows built on different references (columns "
            msg += f"{list(layout.names)} vs {list(pack.layout.names)}, or their edges or "
            msg += "categories differ); merge only windows of one monitor and one reference"
            raise InvalidArgumentError(msg, field="sketches")
    ints = np.array([p.ints for p in packs])  # windows x fields (np.stack checks more, slower)
    totals = ints.sum(axis=0)
    first = ints[0]
    stacked = np.array([p.floats for p in packs])
    moments = _moments(ints, stacked, layout.numeric, layout.fields)
    floats = stacked.reshape(len(packs), -1, _N_FLOATS)
    kll = _merge_runs(packs, ints, floats, layout)
    extras = [p.extras for p in packs if p.extras]  # most windows have no records at all
    columns: dict[str, ColumnSketch] = {}
    for i, prototype in enumerate(layout.prototypes):
        counts, at = totals[layout.counts[i]].copy(), layout.fields[i]
        types = _merged(extras, i, "types", prototype.mismatch_types.capacity)
        if isinstance(prototype, NumericSketch):
            j = layout.numeric.index(i)
            parts = KLLParts(
                int(totals[at + _KLL]),
                0,
                float(floats[:, j, 2].sum() + kll.variance[j]),
                float(min(floats[:, j, 3].min(), kll.low[j])),
                float(max(floats[:, j, 4].max(), kll.high[j])),
                kll.levels[j],
            )
            # The merged window is ``empty_like`` of the first: its KLL is seeded by their state.
            seed = int(first[at + _STATE]) & _MASK64
            quantiles = KLLSketch.assemble(prototype.quantiles.k, parts, seed=seed)
            fields = totals[at : at + 4].tolist()
            columns[layout.names[i]] = prototype.restore(
                counts, fields, moments[j], quantiles, types
            )
        else:
            assert isinstance(prototype, CategoricalSketch)  # noqa: S101 - layout decides the kind
            unseen = _merged(extras, i, "unseen", prototype.unseen.capacity)
            fields = totals[at : at + 3].tolist()
            columns[layout.names[i]] = prototype.restore(counts, fields, unseen, types)
    unexpected = FrequentItems(unexpected_capacity)
    for records in extras:
        state = records.get("unexpected")
        if state:
            unexpected.merge(FrequentItems.from_state(state))
    start, end = int(ints[:, 0].min()), int(ints[:, 1].max())
    return WindowParts(start, end, int(totals[2]), columns, unexpected)


def _merged(
    extras: Sequence[dict[str, Any]], column: int, key: str, capacity: int
) -> FrequentItems:
    """Merge one column's Misra-Gries record over the windows, in window order."""
    merged = FrequentItems(capacity)
    name = str(column)
    for window in extras:
        records = window.get(name)
        if records and key in records:
            merged.merge(FrequentItems.from_state(records[key]))
    return merged


def _moments(
    ints: IntArray, floats: FloatArray, numeric: Sequence[int], fields: Sequence[int]
) -> list[Moments]:
    """Chan's combination for every numeric column at once: ``M2 = sum M2_i + n_i d_i**2``."""
    if not numeric:
        return []
    counts = ints[:, [fields[i] + _MOMENTS for i in numeric]].astype(np.float64)
    values = floats.reshape(ints.shape[0], len(numeric), _N_FLOATS)
    means, m2s = values[:, :, 0], values[:, :, 1]
    total = counts.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    mean = np.where(total > 0, (counts * means).sum(axis=0) / safe, 0.0)
    spread = means - mean
    m2 = np.where(total > 0, m2s.sum(axis=0) + (counts * spread * spread).sum(axis=0), 0.0)
    return [Moments(int(n), float(mu), float(s)) for n, mu, s in zip(total, mean, m2, strict=True)]


def _merge_runs(
    packs: Sequence[Packed], ints: IntArray, floats: FloatArray, layout: Layout
) -> runs.Merged:
    """Halve and regroup every numeric column's KLL runs over the windows (see ``runs``)."""
    fields = [layout.fields[i] for i in layout.numeric]
    heights = ints[:, [at + _HEIGHT for at in fields]]
    items = [p.items for p in packs]
    sizes = np.concatenate([p.levels for p in packs])
    is_sorted = np.array([p.is_sorted for p in packs])
    numeric = [layout.prototypes[i] for i in layout.numeric]
    ks = [p.quantiles.k for p in numeric if isinstance(p, NumericSketch)]
    seeds = [int(ints[0, at + _STATE]) & _MASK64 for at in fields]
    merged = Runs(items, sizes, heights, is_sorted)
    return runs.merge(merged, ks, floats[:, :, 2].sum(axis=0), seeds)
