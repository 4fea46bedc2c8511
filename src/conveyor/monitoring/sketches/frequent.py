"""Misra-Gries frequent items: a bounded, mergeable record of the heaviest keys in a stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_CAPACITY = 32


class FrequentItems:
    """Approximate counts of the most frequent keys, with at most ``capacity`` counters.

    Weighted updates and merges add counters, then, when more than ``capacity`` remain,
    subtract the ``(capacity + 1)``-th largest count from every counter and drop those left at
    zero or below. Every key whose true count exceeds ``n / (capacity + 1)`` keeps a counter,
    and each stored count underestimates the truth by at most ``lost / (capacity + 1)`` where
    ``lost`` is the weight subtracted so far (``error_bound``).

    Examples:
        >>> items = FrequentItems(capacity=2).update({"a": 5, "b": 3, "c": 1})
        >>> items.top()
        [('a', 4), ('b', 2)]

    References:
        J. Misra, D. Gries, "Finding Repeated Elements", Science of Computer Programming 2(2),
        1982; P. Agarwal et al., "Mergeable Summaries", PODS 2012, section 3 (the merge rule).
    """

    __slots__ = ("capacity", "counts", "lost", "total")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.total = 0
        self.lost = 0

    def update(self, weighted: Mapping[str, int] | Iterable[tuple[str, int]]) -> FrequentItems:
        """Add ``key -> count`` pairs."""
        pairs = weighted.items() if isinstance(weighted, Mapping) else weighted
        counts = self.counts
        for key, count in pairs:
            counts[key] = counts.get(key, 0) + count
            self.total += count
        if len(counts) > self.capacity:
            self._prune()
        return self

    def merge(self, other: FrequentItems) -> FrequentItems:
        """Fold ``other`` into this record (in place) and return it."""
        self.lost += other.lost
        return self.update(other.counts)

    def _prune(self) -> None:
        cut = sorted(self.counts.values(), reverse=True)[self.capacity]
        # Each prune removes at least (capacity + 1) * cut, so sum(cut) <= lost / (capacity + 1).
        self.lost += sum(min(c, cut) for c in self.counts.values())
        self.counts = {key: c - cut for key, c in self.counts.items() if c > cut}

    @property
    def error_bound(self) -> float:
        """Largest possible undercount of any key's stored count."""
        return self.lost / (self.capacity + 1)

    def top(self, n: int | None = None) -> list[tuple[str, int]]:
        """Return ``(key, count)`` pairs, heaviest first (ties by key, for stable output)."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked if n is None else ranked[:n]

    def to_state(self) -> dict[str, Any]:
        """Return the record as JSON values."""
        return {
            "capacity": self.capacity,
            "counts": dict(self.top()),
            "total": self.total,
            "lost": self.lost,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FrequentItems:
        """Rebuild a record written by ``to_state``."""
        items = cls(int(state["capacity"]))
        items.counts = {str(k): int(v) for k, v in state["counts"].items()}
        items.total = int(state["total"])
        items.lost = int(state["lost"])
        return items
