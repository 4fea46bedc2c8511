"""Mergeable per-arm accumulators: the sufficient statistics the A/B tests decide from.

A replica updates its arms online as outcomes arrive; arms from several replicas or windows
merge exactly, and round-trip through JSON for the store.

>>> a = MeanAccumulator().update([1.0, 2.0, 3.0])
>>> b = MeanAccumulator().update([4.0, 5.0])
>>> merged = a + b
>>> merged.count, merged.mean, merged.variance
(5, 3.0, 2.5)
>>> ProportionAccumulator().update([True, False, True, True]).to_dict()
{'trials': 4, 'successes': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._validation import (
    as_values,
    check_count,
    check_non_negative,
    check_type,
)


@dataclass
class MeanAccumulator:
    """Count, mean and sum of squared deviations (``m2``) of a numeric outcome.

    Batches are folded in with the pairwise update of Chan, Golub & LeVeque (1979), "Updating
    formulae and a pairwise algorithm for computing sample variances": with ``d`` the
    difference of means, ``m2 = m2_a + m2_b + d^2 n_a n_b / (n_a + n_b)``. It is exact in real
    arithmetic and stable in floating point, so a merged arm equals one built from all values.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def __post_init__(self) -> None:
        self.count = check_count(self.count, "count")
        self.m2 = check_non_negative(self.m2, "m2")
        if not np.isfinite(self.mean):
            msg = f"mean must be a finite number, got {self.mean!r}"
            raise InvalidArgumentError(msg, field="mean")
        self.mean = float(self.mean)
        if self.count == 0 and (self.mean != 0 or self.m2 != 0):
            msg = "an empty accumulator (count=0) has mean=0 and m2=0"
            raise InvalidArgumentError(msg, field="count")

    @classmethod
    def from_values(cls, values: Any) -> MeanAccumulator:
        """Build an accumulator from a batch of values."""
        return cls().update(values)

    def update(self, values: Any) -> Self:
        """Fold a batch of finite numbers (one per request) into the accumulator."""
        batch = as_values(values, "values")
        if batch.size:
            batch_mean = float(batch.mean())
            batch_m2 = float(np.sum((batch - batch_mean) ** 2))
            self._combine(batch.size, batch_mean, batch_m2)
        return self

    def merge(self, other: MeanAccumulator) -> MeanAccumulator:
        """Return a new accumulator holding the values of both ``self`` and ``other``."""
        check_type(other, MeanAccumulator, "other")
        merged = MeanAccumulator(self.count, self.mean, self.m2)
        merged._combine(other.count, other.mean, other.m2)
        return merged

    def __add__(self, other: MeanAccumulator) -> MeanAccumulator:
        return self.merge(other)

    def _combine(self, count: int, mean: float, m2: float) -> None:
        if count == 0:
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.m2 += m2 + delta * delta * self.count * count / total
        self.count = total

    @property
    def variance(self) -> float:
        """Sample variance (``ddof=1``); 0.0 below two values, where it is undefined."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-ready numbers."""
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeanAccumulator:
        """Rebuild an accumulator from ``to_dict``'s output."""
        return cls(**_fields(data, ("count", "mean", "m2"), cls.__name__))


@dataclass
class ProportionAccumulator:
    """Trials and successes of a binary outcome (a conversion, a correct answer, an error)."""

    trials: int = 0
    successes: int = 0

    def __post_init__(self) -> None:
        self.trials = check_count(self.trials, "trials")
        self.successes = check_count(self.successes, "successes")
        if self.successes > self.trials:
            msg = f"successes ({self.successes}) cannot exceed trials ({self.trials})"
            raise InvalidArgumentError(msg, field="successes")

    def update(self, outcomes: Any) -> Self:
        """Fold a batch of outcomes, each ``True``/``False`` or 1/0, into the counts."""
        batch = as_values(outcomes, "outcomes")
        if not np.isin(batch, (0.0, 1.0)).all():
            msg = "outcomes must be True/False or 1/0; threshold a numeric outcome first"
            raise InvalidArgumentError(msg, field="outcomes")
        self.trials += int(batch.size)
        self.successes += int(np.count_nonzero(batch))
        return self

    def merge(self, other: ProportionAccumulator) -> ProportionAccumulator:
        """Return a new accumulator holding the trials of both ``self`` and ``other``."""
        check_type(other, ProportionAccumulator, "other")
        return ProportionAccumulator(self.trials + other.trials, self.successes + other.successes)

    def __add__(self, other: ProportionAccumulator) -> ProportionAccumulator:
        return self.merge(other)

    @property
    def rate(self) -> float:
        """Share of successes; 0.0 before the first trial."""
        return self.successes / self.trials if self.trials else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-ready numbers."""
        return {"trials": self.trials, "successes": self.successes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProportionAccumulator:
        """Rebuild an accumulator from ``to_dict``'s output."""
        return cls(**_fields(data, ("trials", "successes"), cls.__name__))


Accumulator = MeanAccumulator | ProportionAccumulator


def _fields(data: Mapping[str, Any], names: tuple[str, ...], kind: str) -> dict[str, Any]:
    if not isinstance(data, Mapping) or set(data) != set(names):
        got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        msg = f"a stored {kind} has exactly the keys {list(names)}, got {got}"
        raise InvalidArgumentError(msg, field="data")
    return {name: data[name] for name in names}
