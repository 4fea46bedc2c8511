"""KLL quantile sketch: a fixed-size, mergeable summary of a stream of floats.

The sketch keeps a stack of compactors. Items at level ``h`` stand for ``2**h`` input values.
When a level holds more than its capacity, it is sorted and every other item (a random odd or
even offset) moves up one level with twice the weight; capacities shrink geometrically downwards
from ``k`` at the top level, so the sketch holds ``O(k)`` items whatever the stream's length.

References:
    Z. Karnin, K. Lang, E. Liberty, "Optimal Quantile Approximation in Streams", FOCS 2016
    (arXiv:1603.05346), section 3 (the compactor hierarchy, ``c = 2/3``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError

FloatArray = npt.NDArray[np.float64]

DEFAULT_K = 200
_C = 2.0 / 3.0
_MIN_CAPACITY = 2
_MASK64 = (1 << 64) - 1
_EMPTY = np.empty(0, dtype=np.float64)


class KLLParts(NamedTuple):
    """A sketch's whole state: what the compact window layout stores (see ``packed``)."""

    n: int
    state: int
    variance: float
    low: float
    high: float
    levels: list[FloatArray]


class KLLSketch:
    """Approximate quantiles and ranks of a stream of finite floats, in ``O(k)`` memory.

    ``update`` takes whole NumPy batches: they queue for level 0 and are compacted with
    vectorised sorts only when the sketch outgrows its total capacity (the "lazy" schedule of
    Ivkin et al. 2019), so the cost per value is amortised over batches and compactions.

    Examples:
        >>> import numpy as np
        >>> sketch = KLLSketch(seed=7).update(np.arange(1000, dtype=float))
        >>> sketch.count
        1000
        >>> abs(sketch.quantile(0.5) - 500) <= 1000 * sketch.rank_error_bound(0.99)
        True

    References:
        Z. Karnin, K. Lang, E. Liberty, "Optimal Quantile Approximation in Streams", FOCS 2016.
        N. Ivkin, E. Liberty, K. Lang, Z. Karnin, V. Braverman, "Streaming Quantiles
        Algorithms with Small Space and Update Time", 2019 (arXiv:1907.00236), the lazy
        compaction schedule.
    """

    __slots__ = (
        "_capacities",
        "_levels",
        "_max",
        "_min",
        "_pending",
        "_size",
        "_sorted",
        "_state",
        "_total_capacity",
        "_variance",
        "count",
        "k",
    )

    def __init__(self, k: int = DEFAULT_K, *, seed: int = 0) -> None:
        if not isinstance(k, int) or k < 8:
            msg = f"kll: k must be an integer >= 8, got {k!r}; use the default {DEFAULT_K}"
            raise InvalidArgumentError(msg, field="k")
        self.k = k
        self.count = 0
        # Extremes of the values compaction has dropped; retained items are checked at query.
        self._min = math.inf
        self._max = -math.inf
        self._levels: list[FloatArray] = [_EMPTY]
        # Whether each level is known to be in order (promoted into an empty level): its next
        # compaction then needs no sort, which halves the work of merging many windows.
        self._sorted: list[bool] = [True]
        self._pending: list[FloatArray] = []
        self._size = 0
        self._capacities: list[int] = []
        self._total_capacity = 0
        self._set_height(1)
        # 64-bit LCG state: cheap, serialisable and deterministic for a given seed.
        self._state = (seed * 0x9E3779B97F4A7C15 + 1) & _MASK64
        # Sum of w**2 over compactions: the variance of the rank error (see rank_error_bound).
        self._variance = 0.0

    # --- updates -------------------------------------------------------------------------

    def update(self, values: FloatArray) -> KLLSketch:
        """Add a 1-D batch of finite float64 values (the caller filters NaN and inf)."""
        n = int(values.shape[0])
        if n == 0:
            return self
        self.count += n
        self._size += n
        self._pending.append(np.array(values, dtype=np.float64))
        # Lazy by up to k items: compacting as soon as the sketch is one item over would, at
        # request batches of tens of rows, run a compaction (a Python-level sort and slices,
        # ~30 us) for nearly every batch; with k items of slack one runs per ~k items.
        if self._size > self._total_capacity + self.k:
            self._compress()
        return self

    def merge(self, other: KLLSketch) -> KLLSketch:
        """Fold ``other`` into this sketch (in place) and return it."""
        return self.merge_many([other])

    def merge_many(self, others: Sequence[KLLSketch]) -> KLLSketch:
        """Fold many sketches into this one with one concatenation per level, then compact."""
        if any(other.k != self.k for other in others):
            ks = sorted({other.k for other in others} | {self.k})
            msg = f"kll: cannot merge sketches with different k ({ks}); build them with one k"
            raise InvalidArgumentError(msg, field="k")
        if not others:
            return self
        self._flush()
        # Merging 1,000 windows makes this the hot path: comprehensions, no per-item branches.
        stacks = [other._levels for other in others]
        pending = [batch for other in others for batch in other._pending]
        height = max(len(self._levels), *map(len, stacks))
        self._set_height(height)
        for h in range(height):
            own = self._levels[h]
            part = [levels[h] for levels in stacks if len(levels) > h]
            if h == 0:  # pending batches are read, not flushed: one concatenation for all
                part += pending
            merged = np.concatenate([own, *part]) if part else own
            self._sorted[h] = self._sorted[h] and merged.size == own.size
            self._levels[h] = merged
        self.count += sum(other.count for other in others)
        self._variance += sum(other._variance for other in others)
        self._min = min(self._min, *(other._min for other in others))
        self._max = max(self._max, *(other._max for other in others))
        self._size = sum(int(items.size) for items in self._levels)
        self._compress()
        return self

    def _set_height(self, height: int) -> None:
        while len(self._levels) < height:
            self._levels.append(_EMPTY)
            self._sorted.append(True)
        self._capacities, self._total_capacity = _capacities(self.k, height)

    def _flush(self) -> None:
        if self._pending:
            self._levels[0] = np.concatenate([self._levels[0], *self._pending])
            self._sorted[0] = False
            self._pending = []

    def _random_bit(self) -> int:
        self._state = (self._state * 6364136223846793005 + 1442695040888963407) & _MASK64
        return self._state >> 63

    def _compress(self) -> None:
        self._flush()
        while self._size > self._total_capacity:
            level = next(
                h for h, items in enumerate(self._levels) if items.size > self._capacities[h]
            )
            if level == len(self._levels) - 1:
                self._set_height(level + 2)
            self._compact(level)

    def _compact(self, level: int) -> None:
        items = self._levels[level]
        if not self._sorted[level]:
            items = np.sort(items)
        self._min = min(self._min, float(items[0]))
        self._max = max(self._max, float(items[-1]))
        # An odd item stays behind at its weight, so the rest pairs up exactly.
        keep = items[-1:] if items.size % 2 else _EMPTY
        paired = items[: items.size - keep.size]
        promoted = paired[self._random_bit() :: 2]
        self._levels[level] = keep.copy()
        self._sorted[level] = True
        above = self._levels[level + 1]
        self._levels[level + 1] = (
            np.concatenate((above, promoted)) if above.size else promoted.copy()
        )
        self._sorted[level + 1] = not above.size
        self._size -= promoted.size
        # Each compaction moves any rank by 0 or +-w with equal odds (w = 2**level).
        self._variance += float(4**level)

    # --- queries -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of items retained (about ``3k`` plus 2 per level, whatever ``count`` is, and
        up to ``k`` more between compactions)."""
        return self._size

    @property
    def min_value(self) -> float:
        """Smallest value seen (exact; NaN when empty)."""
        self._flush()
        retained = [float(items.min()) for items in self._levels if items.size]
        return min([self._min, *retained]) if self.count else math.nan

    @property
    def max_value(self) -> float:
        """Largest value seen (exact; NaN when empty)."""
        self._flush()
        retained = [float(items.max()) for items in self._levels if items.size]
        return max([self._max, *retained]) if self.count else math.nan

    def _weighted(self) -> tuple[FloatArray, FloatArray]:
        self._flush()
        items = np.concatenate(self._levels)
        weights = np.repeat(
            [float(2**h) for h in range(len(self._levels))],
            [items.size for items in self._levels],
        )
        order = np.argsort(items, kind="stable")
        return items[order], np.cumsum(weights[order])

    def quantile(self, q: float) -> float:
        """Return an approximate ``q``-quantile (the smallest item of weighted rank >= ``q n``).

        ``q = 0`` and ``q = 1`` return the exact minimum and maximum; an empty sketch gives NaN.
        """
        if not 0.0 <= q <= 1.0:  # also rejects NaN
            msg = f"kll: quantile q must be within [0, 1], got {q!r}"
            raise InvalidArgumentError(msg, field="q")
        if self.count == 0:
            return math.nan
        if q == 0.0:
            return self.min_value
        if q == 1.0:
            return self.max_value
        items, cum = self._weighted()
        index = int(np.searchsorted(cum, q * cum[-1], side="left"))
        return float(items[min(index, items.size - 1)])

    def cdf(self, x: float) -> float:
        """Return the approximate fraction of values ``<= x`` (NaN when empty)."""
        if math.isnan(x):
            msg = "kll: cdf(x) needs a number, got NaN"
            raise InvalidArgumentError(msg, field="x")
        if self.count == 0:
            return math.nan
        items, cum = self._weighted()
        index = int(np.searchsorted(items, x, side="right"))
        return float(cum[index - 1] / cum[-1]) if index else 0.0

    def rank_error_bound(self, confidence: float = 0.99) -> float:
        """Return a normalised rank error that holds for one query with this confidence.

        Each compaction at level ``h`` moves the rank of any point by 0 or ``+-2**h`` with equal
        odds, independently of the others, so by Hoeffding's inequality
        ``P(|err| > t) <= 2 exp(-t**2 / (2 sum w**2))`` (Karnin et al. 2016, section 3); the
        bound returned is ``t = sqrt(2 sum w**2 ln(2 / (1 - confidence))) / n``. It is 0 while
        nothing has been compacted (the sketch is then exact).
        """
        if not 0.0 < confidence < 1.0:
            msg = f"kll: confidence must be within (0, 1), got {confidence!r}"
            raise InvalidArgumentError(msg, field="confidence")
        if self.count == 0:
            return 0.0
        t = math.sqrt(2.0 * self._variance * math.log(2.0 / (1.0 - confidence)))
        return t / self.count

    # --- serialisation -------------------------------------------------------------------

    def fit(self) -> KLLSketch:
        """Compact until the items fit the capacity, without the slack ``update`` allows
        (done before a window is stored: less for a merge to read)."""
        self._compress()
        return self

    def parts(self) -> KLLParts:
        """Return the state: count, LCG state, sum of w**2, dropped extremes, the levels.

        The levels come sorted, and stay sorted in this sketch (order within a level carries no
        meaning): stored windows then hold sorted runs, which a merge of many can halve with a
        strided slice instead of a sort (see ``runs``), and the next compaction skips its sort.
        """
        self._flush()
        for h, items in enumerate(self._levels):
            if not self._sorted[h]:
                self._levels[h] = np.sort(items)
                self._sorted[h] = True
        return KLLParts(
            self.count, self._state, self._variance, self._min, self._max, list(self._levels)
        )

    @classmethod
    def assemble(
        cls, k: int, parts: KLLParts, *, seed: int | None = None, is_sorted: bool = False
    ) -> KLLSketch:
        """Rebuild a sketch from ``parts`` (levels are used as they are, never written to).

        With ``seed`` the LCG starts as ``KLLSketch(k, seed=seed)`` would and the levels are
        compacted until they fit: this is how a merge of many windows' levels (concatenated
        per level, in window order) ends, exactly as ``merge_many`` would have left it.
        ``is_sorted`` says every level is in order (spares the sort of its next compaction).
        """
        sketch = cls(k) if seed is None else cls(k, seed=seed)
        if seed is None:
            sketch._state = parts.state & _MASK64
        sketch.count = parts.n
        sketch._variance = parts.variance
        sketch._min, sketch._max = parts.low, parts.high
        sketch._levels = list(parts.levels) or [_EMPTY]
        sketch._sorted = [is_sorted or level.size == 0 for level in sketch._levels]
        sketch._size = sum(int(level.size) for level in sketch._levels)
        sketch._set_height(len(sketch._levels))
        if seed is not None:
            sketch._compress()
            # Levels left untouched may be views of a large shared buffer: own them.
            sketch._levels = [lv.copy() if lv.base is not None else lv for lv in sketch._levels]
        return sketch

    def to_state(self) -> dict[str, Any]:
        """Return the sketch as JSON scalars plus one float64 array (levels concatenated)."""
        self._flush()
        return {
            "k": self.k,
            "count": self.count,
            "min": None if math.isinf(self._min) else self._min,
            "max": None if math.isinf(self._max) else self._max,
            "state": self._state,
            "variance": self._variance,
            "level_sizes": [int(items.size) for items in self._levels],
            "items": np.concatenate(self._levels),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KLLSketch:
        """Rebuild a sketch written by ``to_state``."""
        sketch = cls(int(state["k"]))
        items = np.asarray(state["items"], dtype=np.float64)
        sizes = [int(s) for s in state["level_sizes"]]
        if not sizes or sum(sizes) != items.size:
            msg = "kll: level sizes do not match the stored items; the sketch is corrupt"
            raise InvalidArgumentError(msg, field="items")
        sketch.count = int(state["count"])
        sketch._min = math.inf if state["min"] is None else float(state["min"])
        sketch._max = -math.inf if state["max"] is None else float(state["max"])
        sketch._state = int(state["state"]) & _MASK64
        sketch._variance = float(state["variance"])
        bounds = np.cumsum([0, *sizes])
        sketch._levels = [items[a:b].copy() for a, b in itertools.pairwise(bounds)]
        sketch._sorted = [False] * len(sizes)
        sketch._size = items.size
        sketch._set_height(len(sizes))
        return sketch


@functools.lru_cache(maxsize=256)
def _capacities(k: int, height: int) -> tuple[list[int], int]:
    """Level capacities ``max(2, k c**(height - 1 - h))`` and their sum (read-only; cached)."""
    capacities = [max(_MIN_CAPACITY, int(k * _C ** (height - 1 - h))) for h in range(height)]
    return capacities, sum(capacities)


def compress_variance(k: int, sizes: Sequence[int]) -> float:
    """Return the variance (sum of w**2) that compacting levels of these sizes until they fit
    would add: ``KLLSketch._compress`` run on the counts alone (which items move is random,
    how many is not).

    Examples:
        >>> compress_variance(200, [150])
        0.0
        >>> compress_variance(8, [20, 0, 0])
        1.0
    """
    levels = list(sizes) or [0]
    capacities, total = _capacities(k, len(levels))
    size, variance = sum(levels), 0.0
    while size > total:
        level = next(h for h, n in enumerate(levels) if n > capacities[h])
        if level == len(levels) - 1:
            levels.append(0)
            capacities, total = _capacities(k, len(levels))
        moved = levels[level] // 2
        levels[level] -= 2 * moved
        levels[level + 1] += moved
        size -= moved
        variance += float(4**level)
    return variance
