"""Window sketch of one categorical column: reference categories, "other", unseen names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.monitoring.sketches.frequent import DEFAULT_CAPACITY, FrequentItems
from conveyor.monitoring.sketches.values import category_key, is_missing, value_family

IntArray = npt.NDArray[np.int64]

_TYPE_NAMES = 8
_TYPED_FAMILIES = ("number", "string", "bool")


class CategoricalSketch:
    """Counts for one categorical column over one window, in memory independent of rows.

    ``counts[i]`` counts ``categories[i]`` (the reference's categories) and ``counts[-1]`` every
    other value. Values outside the reference set are also fed to a Misra-Gries record of
    ``unseen_capacity`` counters, so data quality can name the most frequent newcomers.
    Values are matched by ``category_key`` (their string form, integral floats as integers);
    a value whose type family differs from the reference's (a number where strings were
    expected) is counted as usual and also as a ``type_mismatch``.

    Examples:
        >>> import numpy as np
        >>> sketch = CategoricalSketch(("red", "blue"), value_type="string")
        >>> _ = sketch.update(np.array(["red", "green", "red", None, "green"], dtype=object))
        >>> sketch.counts.tolist(), sketch.missing, sketch.unseen.top()
        ([2, 0, 2], 1, [('green', 2)])
    """

    kind = "categorical"
    __slots__ = (
        "_index",
        "_layout",
        "absent",
        "categories",
        "counts",
        "mismatch_types",
        "missing",
        "type_mismatch",
        "unseen",
        "value_type",
    )

    def __init__(
        self,
        categories: Sequence[str],
        *,
        value_type: str = "string",
        unseen_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.categories = tuple(categories)
        self._index = {name: i for i, name in enumerate(self.categories)}
        self.value_type = value_type
        self.counts: IntArray = np.zeros(len(self.categories) + 1, dtype=np.int64)
        self.missing = 0
        self.type_mismatch = 0
        self.mismatch_types = FrequentItems(_TYPE_NAMES)
        self.unseen = FrequentItems(unseen_capacity)
        self.absent = 0
        self._layout: tuple[Any, ...] = (
            self.kind,
            self.categories,
            self.value_type,
            self.unseen.capacity,
        )

    def empty_like(self) -> CategoricalSketch:
        """Return an empty sketch on the same categories."""
        return CategoricalSketch(
            self.categories, value_type=self.value_type, unseen_capacity=self.unseen.capacity
        )

    def layout(self) -> tuple[Any, ...]:
        """What two sketches must share to be merged."""
        return self._layout

    def update(self, column: npt.NDArray[Any]) -> CategoricalSketch:
        """Count a 1-D batch of values (any dtype)."""
        values = column.tolist()
        try:
            tally = Counter(values)
        except TypeError:  # unhashable values (lists, dicts): counted by their text
            tally = Counter(v if isinstance(v, Hashable) else _Unhashable(v) for v in values)
        other = len(self.categories)
        slots: list[int] = []
        weights: list[int] = []
        unseen: dict[str, int] = {}
        wrong: dict[str, int] = {}
        check_type = self.value_type in _TYPED_FAMILIES
        for value, count in tally.items():
            if is_missing(value):
                self.missing += count
                continue
            if check_type and value_family(value) != self.value_type:
                name = _type_name(value)
                wrong[name] = wrong.get(name, 0) + count
            key = category_key(value)
            slot = self._index.get(key, other)
            if slot == other:
                unseen[key] = unseen.get(key, 0) + count
            slots.append(slot)
            weights.append(count)
        if slots:
            np.add.at(self.counts, slots, weights)
        if unseen:
            self.unseen.update(unseen)
        if wrong:
            self.type_mismatch += sum(wrong.values())
            self.mismatch_types.update(wrong)
        return self

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        """Fold ``other`` (same categories) into this sketch, in place, and return it."""
        return self.merge_many([other])

    def merge_many(self, others: Sequence[CategoricalSketch]) -> CategoricalSketch:
        """Fold many sketches at once."""
        if not others:
            return self
        self.counts = self.counts + np.sum([o.counts for o in others], axis=0)
        for other in others:
            self.missing += other.missing
            self.type_mismatch += other.type_mismatch
            self.absent += other.absent
            if other.unseen.total:
                self.unseen.merge(other.unseen)
            if other.mismatch_types.total:
                self.mismatch_types.merge(other.mismatch_types)
        return self

    def restore(
        self,
        counts: IntArray,
        fields: Sequence[int],
        unseen: FrequentItems,
        mismatch_types: FrequentItems,
    ) -> CategoricalSketch:
        """Return a sketch on this one's categories holding the given state (for decoding).

        ``fields`` are ``missing, type_mismatch, absent``; categories and layout are shared.
        """
        sketch = object.__new__(CategoricalSketch)
        sketch.categories, sketch._index = self.categories, self._index
        sketch.value_type, sketch._layout = self.value_type, self._layout
        sketch.counts = counts
        sketch.missing, sketch.type_mismatch, sketch.absent = map(int, fields)
        sketch.unseen, sketch.mismatch_types = unseen, mismatch_types
        return sketch

    @property
    def count(self) -> int:
        """Non-missing values counted."""
        return int(self.counts.sum())

    @property
    def rows(self) -> int:
        """Rows in which the column was present."""
        return self.count + self.missing

    @property
    def other_count(self) -> int:
        """Values outside the reference categories."""
        return int(self.counts[-1])

    def category_counts(self) -> dict[str, int]:
        """Return ``category -> count`` for the reference categories (zeros included)."""
        return dict(zip(self.categories, self.counts[:-1].tolist(), strict=True))

    def to_state(self) -> dict[str, Any]:
        """Return the sketch as JSON values and one NumPy array."""
        return {
            "kind": self.kind,
            "categories": list(self.categories),
            "value_type": self.value_type,
            "counts": self.counts,
            "missing": self.missing,
            "type_mismatch": self.type_mismatch,
            "mismatch_types": self.mismatch_types.to_state(),
            "unseen": self.unseen.to_state(),
            "absent": self.absent,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CategoricalSketch:
        """Rebuild a sketch written by ``to_state``."""
        sketch = cls(tuple(state["categories"]), value_type=str(state["value_type"]))
        sketch.counts = np.asarray(state["counts"], dtype=np.int64).copy()
        sketch.missing = int(state["missing"])
        sketch.type_mismatch = int(state["type_mismatch"])
        sketch.mismatch_types = FrequentItems.from_state(state["mismatch_types"])
        sketch.unseen = FrequentItems.from_state(state["unseen"])
        sketch.absent = int(state["absent"])
        return sketch


def _type_name(value: object) -> str:
    return value.type_name if isinstance(value, _Unhashable) else type(value).__name__


class _Unhashable:
    """Stand-in for an unhashable value: hashed and keyed by its text, typed as the original."""

    __slots__ = ("text", "type_name")

    def __init__(self, value: object) -> None:
        self.text = repr(value)
        self.type_name = type(value).__name__

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and other.text == self.text

    def __str__(self) -> str:
        return self.text
