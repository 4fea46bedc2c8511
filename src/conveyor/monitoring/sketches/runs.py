"""Halve each window's sorted KLL runs before a merge of many windows sorts whole levels.

``bulk.merge`` concatenates, per numeric column, the level-``h`` items of every window and then
compacts level by level. At 1,000 windows of 1,000 rows that is 300k items per column, each
sorted at least once on its way up. But a compaction is valid on any sorted subset of a level:
it moves the rank of any point by 0 or ``+-2**h`` with equal odds, whatever else the level holds
(Karnin et al. 2016, section 3). Stored windows keep their levels sorted
(``packed.SORTED_LEVELS``), so halving one window's run ``t`` times is a strided slice: no sort,
and only the survivors are gathered. Windows stored before that flag are not halved: their runs
go to the plain merge as they are.

Each such halving adds ``4**h`` to the sketch's variance like any compaction, so the reported
error bound stays true. Runs are halved up to the highest level ``L`` at which the merged
sketch's variance stays within ``1 + BUDGET`` times what the plain merge would end with: both
are computed exactly from the level sizes alone (which items a compaction keeps is random, how
many is not; ``kll.compress_variance``). So the bound grows by at most ``sqrt(1 + BUDGET)``
(6 %), while the items left to sort shrink by ``2**(L - h)``. A merge that compacts nothing has
no budget and halves nothing: it is exactly the plain merge.

References:
    Z. Karnin, K. Lang, E. Liberty, "Optimal Quantile Approximation in Streams", FOCS 2016.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from conveyor.monitoring.sketches.joined import Joined
from conveyor.monitoring.sketches.kll import compress_variance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BUDGET = 0.125
# Levels a run may climb; 2**64 items per run is beyond any window.
_MAX_LEVEL = 64
_POW4 = 4.0 ** np.arange(2 * _MAX_LEVEL)


class Runs(NamedTuple):
    """KLL levels of many windows, as stored: window after window, column, level."""

    items: Sequence[FloatArray]  # per window: its runs back to back (column, then level)
    sizes: IntArray  # items per run, over all windows
    heights: IntArray  # windows x columns: each window's level count per column
    is_sorted: BoolArray  # per window: its runs are sorted (only those are halved)


class Merged(NamedTuple):
    """Per column: levels to compact, and what the halvings changed."""

    levels: list[list[FloatArray]]  # each level: the runs that end there
    variance: FloatArray  # sum of 4**h over the halvings
    low: FloatArray  # smallest item of a halved run (inf when none was halved)
    high: FloatArray  # largest item of a halved run (-inf when none)


class _Columns(NamedTuple):
    """Per column: the KLL ``k``, the windows' summed variance, the tallest window's height."""

    ks: Sequence[int]
    variances: FloatArray
    heights: list[int]


class _Pieces(NamedTuple):
    """Strided slices of the windows' items: ``first + stride * i`` for ``i < size``."""

    first: IntArray  # offset in the window's items
    stride: IntArray
    size: IntArray
    column: IntArray
    level: IntArray
    window: IntArray


def merge(runs: Runs, ks: Sequence[int], variances: FloatArray, seeds: Sequence[int]) -> Merged:
    """Halve every run within the variance budget and regroup the rest by (column, level).

    ``ks``, ``variances`` and ``seeds`` are per column: the KLL ``k``, the sum of the windows'
    own variances, and the 64-bit seed of the halvings' random bits.
    """
    n_columns = runs.heights.shape[1]
    if not n_columns:
        return Merged([], np.zeros(0), np.zeros(0), np.zeros(0))
    joined = Joined(runs.items)
    column, level, window = _segments(runs.heights)
    start = np.cumsum(runs.sizes) - runs.sizes - joined.starts[window]
    heights = runs.heights.max(axis=0) if runs.heights.size else np.ones(n_columns, np.int64)
    columns = _Columns(ks, variances, heights.tolist())
    halvable = runs.is_sorted[window] & (runs.sizes >= 2)
    targets = _targets(column, level, runs.sizes, halvable, columns)
    steps = np.where(halvable, np.maximum(targets[column] - level, 0), 0)
    halved = np.flatnonzero(steps)
    pieces = _Pieces(start, np.ones_like(start), runs.sizes.copy(), column, level.copy(), window)
    ends = _ends(pieces, halved)  # read before the halving moves the pieces
    # One random stream per (column, window, level): the column's seed offset by the run.
    run_id = (window[halved] * _MAX_LEVEL + level[halved]).astype(np.uint64)
    seed = np.asarray(seeds, dtype=np.uint64)[column[halved]] + run_id
    leftovers, variance = _halve(pieces, halved, steps[halved], seed, n_columns)
    grouped, top = _grouped(_concat([pieces, *leftovers]))
    with joined:
        values = _take(joined, _concat([grouped, ends]))
    n = int(grouped.size.sum())
    # Halving drops items: keep the extremes exact (a sorted run starts at its min).
    low, high = np.full(n_columns, np.inf), np.full(n_columns, -np.inf)
    np.minimum.at(low, column[halved], values[n : n + halved.size])
    np.maximum.at(high, column[halved], values[n + halved.size :])
    return Merged(_split(values[:n], grouped, top, columns.heights), variance, low, high)


def _ends(pieces: _Pieces, index: IntArray) -> _Pieces:
    """Return the first items of runs ``index``, then their last items (one-item pieces)."""
    first = pieces.first[index]
    last = first + pieces.size[index] - 1
    ones = np.ones(2 * index.size, dtype=np.int64)
    twice = [np.tile(field[index], 2) for field in (pieces.column, pieces.level, pieces.window)]
    return _Pieces(np.concatenate((first, last)), ones, ones, *twice)


def _segments(heights: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Return each run's column, level and window, from the windows' level counts."""
    n_windows, n_columns = heights.shape
    flat = heights.ravel()
    column = np.repeat(np.tile(np.arange(n_columns), n_windows), flat)
    window = np.repeat(np.arange(n_windows).repeat(n_columns), flat)
    level = np.arange(flat.sum()) - np.repeat(np.cumsum(flat) - flat, flat)
    return column, level, window


def _targets(
    column: IntArray, level: IntArray, sizes: IntArray, halvable: BoolArray, columns: _Columns
) -> IntArray:
    """Return per column the level up to which runs are halved (see the module docstring).

    The first guess counts the halvings' variance only; the exact variance also counts the
    compaction that follows, which can need one more compaction at the top when the items
    kept behind by odd runs tip the levels over their capacity: lower the level until the
    whole fits the budget (no halving, the plain merge, always does).
    """
    plain = _variance_after(column, level, sizes, np.zeros_like(sizes), columns)
    top = int(level.max()) + 1 if level.size else 1
    n_columns = len(columns.ks)
    runs_at = np.bincount(column * top + level, weights=halvable, minlength=n_columns * top)
    runs_at = runs_at.reshape(n_columns, top)
    guesses = [_target(runs_at[j], BUDGET * plain[j]) for j in range(n_columns)]
    targets = np.array(guesses, dtype=np.int64)
    while True:
        steps = np.where(halvable, np.maximum(targets[column] - level, 0), 0)
        over = _variance_after(column, level, sizes, steps, columns) > (1 + BUDGET) * plain
        if not over.any():
            return targets
        targets[over] -= 1


def _variance_after(
    column: IntArray, level: IntArray, sizes: IntArray, steps: IntArray, columns: _Columns
) -> FloatArray:
    """Return per column the merged sketch's variance if each run is halved ``steps`` times.

    Exact without touching an item: a run of ``m`` items halved ``t`` times keeps ``m >> t``
    and leaves one item behind at level ``h + s`` where bit ``s`` of ``m`` is set; a halving
    needs two items, so there are at most ``bit_length(m) - 1`` of them.
    """
    n_columns = len(columns.ks)
    done = np.minimum(steps, np.maximum(np.frexp(sizes.astype(np.float64))[1] - 1, 0))
    top = int((level + done).max()) + 1 if level.size else 1
    base = column * top + level
    totals = np.bincount(base + done, weights=sizes >> done, minlength=n_columns * top)
    for step in range(int(done.max(initial=0))):
        odd = (done > step) & ((sizes >> step) & 1 == 1)
        totals += np.bincount(base[odd] + step, minlength=n_columns * top)
    halving = np.bincount(column, weights=_POW4[level] * (_POW4[done] - 1) / 3, minlength=n_columns)
    result = np.asarray(columns.variances, dtype=np.float64) + halving
    for j, k in enumerate(columns.ks):
        row = totals[j * top : (j + 1) * top].astype(np.int64).tolist()
        occupied = max((h + 1 for h, n in enumerate(row) if n), default=1)
        height = max(columns.heights[j], occupied)
        result[j] += compress_variance(k, (row + [0] * height)[:height])
    return result


def _target(runs_at: FloatArray, budget: float) -> int:
    """Return the highest level ``L`` whose halvings (``sum_h runs_h (4**L - 4**h) / 3``, a
    run climbing from ``h`` to ``L``) stay within ``budget``."""
    if not runs_at.any():
        return 0
    powers = _POW4[: runs_at.size]
    best = 0
    for target in range(1, _MAX_LEVEL):
        below = runs_at[:target]
        added = float((below * (4.0**target - powers[:target])).sum()) / 3.0
        if added > budget:
            break
        best = target
    return best


def _halve(
    pieces: _Pieces,
    index: IntArray,
    steps: IntArray,
    seed: npt.NDArray[np.uint64],
    n_columns: int,
) -> tuple[list[_Pieces], FloatArray]:
    """Halve runs ``index`` of ``pieces`` (in place) ``steps`` times, or down to one item.

    A run of ``c`` items keeps its last item behind when ``c`` is odd (as ``KLLSketch._compact``
    does) and sends every other item of the rest, from a random first one, one level up.
    Returns the items kept behind (one-item pieces) and the variance added per column.
    """
    first, count, level = pieces.first[index], pieces.size[index], pieces.level[index]
    stride, column, window = np.ones_like(first), pieces.column[index], pieces.window[index]
    variance = np.zeros(n_columns)
    leftovers = []
    for step in range(int(steps.max(initial=0))):
        active = (steps > step) & (count >= 2)
        odd = np.flatnonzero(active & (count % 2 == 1))
        last = first[odd] + stride[odd] * (count[odd] - 1)
        ones = np.ones_like(last)
        leftovers.append(_Pieces(last, ones, ones, column[odd], level[odd], window[odd]))
        shift = active.astype(np.int64)  # on all runs at once: a shift of 0 leaves a run as is
        first += stride * (_random_bits(seed, step) & shift)
        stride <<= shift
        count >>= shift
        variance += np.bincount(column, weights=_POW4[level] * shift, minlength=n_columns)
        level += shift
    pieces.first[index], pieces.stride[index] = first, stride
    pieces.size[index], pieces.level[index] = count, level
    return leftovers, variance


def _random_bits(seed: npt.NDArray[np.uint64], step: int) -> IntArray:
    """Return one random bit per run and step: SplitMix64 of (seed, step), vectorised."""
    z = seed * np.uint64(64) + np.uint64(step)
    z = z * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((z ^ (z >> np.uint64(31))) >> np.uint64(63)).astype(np.int64)


def _concat(parts: list[_Pieces]) -> _Pieces:
    return _Pieces(*(np.concatenate(field) for field in zip(*parts, strict=True)))


def _grouped(pieces: _Pieces) -> tuple[_Pieces, int]:
    """Return the non-empty pieces ordered by (column, level), stably, and the level count."""
    kept = np.flatnonzero(pieces.size)
    top = int(pieces.level[kept].max()) + 1 if kept.size else 1
    key = pieces.column[kept] * top + pieces.level[kept]
    if key.size and key.max() < 1 << 16:
        key = key.astype(np.uint16)  # NumPy's stable sort of 16-bit keys is a radix sort
    order = kept[np.argsort(key, kind="stable")]
    return _Pieces(*(field[order] for field in pieces)), top


def _take(joined: Joined, pieces: _Pieces) -> FloatArray:
    """Return the items of every piece, piece after piece (one gather over all windows)."""
    first = pieces.first + joined.starts[pieces.window]
    return joined.take(_strided_index(first, pieces.stride, pieces.size))


def _split(
    values: FloatArray, grouped: _Pieces, top: int, heights: list[int]
) -> list[list[FloatArray]]:
    """Cut the grouped values into each column's levels.

    Each column gets at least as many levels as its tallest window (the height sets the
    capacities of the compaction that follows, as in ``KLLSketch.merge_many``).
    """
    key = grouped.column * top + grouped.level
    sizes = np.bincount(key, weights=grouped.size, minlength=len(heights) * top)
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    levels = []
    for j, height in enumerate(heights):
        at = bounds[j * top : (j + 1) * top + 1].tolist()
        occupied = [values[a:b] for a, b in itertools.pairwise(at)]
        while len(occupied) > 1 and not occupied[-1].size:
            occupied.pop()
        empty = max(0, height - len(occupied))
        levels.append(occupied + [np.empty(0)] * empty)
    return levels


def _strided_index(first: IntArray, stride: IntArray, size: IntArray) -> IntArray:
    """Return ``first[i] + stride[i] * j`` for every piece ``i`` and ``j < size[i]`` (> 0).

    One repeat and one cumulative sum: the steps within each piece, with a jump at its start.
    """
    if not size.size:
        return np.empty(0, dtype=np.int64)
    steps = np.repeat(stride, size)
    last = first + stride * (size - 1)
    steps[np.cumsum(size) - size] = first - np.concatenate(([0], last[:-1]))
    return np.cumsum(steps, out=steps)
