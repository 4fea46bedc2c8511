"""Per-arm accumulators: exact merges, NumPy-equal moments, JSON round trips, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.rollout.accumulators import MeanAccumulator, ProportionAccumulator

values = st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), max_size=60)


@settings(max_examples=200, deadline=None)
@given(values, values, values)
def test_mean_merge_of_split_data_equals_the_whole(
    left: list[float], middle: list[float], right: list[float]
) -> None:
    whole = MeanAccumulator.from_values(left + middle + right)
    parts = [MeanAccumulator.from_values(part) for part in (left, middle, right)]
    merged = parts[0] + parts[1] + parts[2]
    assert merged.count == whole.count
    scale = max([1.0, *(abs(v) for v in left + middle + right)])
    assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-9 * scale)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-9, abs=1e-9 * scale**2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=50), st.lists(st.booleans(), max_size=50))
def test_proportion_merge_of_split_data_equals_the_whole(
    left: list[bool], right: list[bool]
) -> None:
    whole = ProportionAccumulator().update(left + right)
    merged = ProportionAccumulator().update(left).merge(ProportionAccumulator().update(right))
    assert merged == whole


def test_mean_accumulator_matches_numpy_moments_across_updates() -> None:
    rng = np.random.default_rng(3)
    data = rng.lognormal(3.0, 1.0, size=10_001)
    acc = MeanAccumulator()
    for batch in np.array_split(data, 17):
        acc.update(batch)
    assert acc.count == data.size
    assert acc.mean == pytest.approx(data.mean(), rel=1e-12)
    assert acc.variance == pytest.approx(data.var(ddof=1), rel=1e-12)


def test_merge_leaves_both_operands_unchanged() -> None:
    a, b = MeanAccumulator.from_values([1.0, 2.0]), MeanAccumulator.from_values([10.0])
    merged = a.merge(b)
    assert (a.count, b.count, merged.count) == (2, 1, 3)
    assert merged.mean == pytest.approx(13 / 3)


def test_update_with_an_empty_batch_changes_nothing() -> None:
    acc = MeanAccumulator.from_values([4.0, 6.0])
    assert acc.update([]).to_dict() == {"count": 2, "mean": 5.0, "m2": 2.0}
    assert MeanAccumulator().variance == 0.0
    assert ProportionAccumulator().rate == 0.0


@pytest.mark.parametrize(
    "acc",
    [MeanAccumulator.from_values([0.1, 0.7, 2.5]), ProportionAccumulator(trials=9, successes=4)],
)
def test_accumulators_round_trip_through_json(
    acc: MeanAccumulator | ProportionAccumulator,
) -> None:
    stored = json.loads(json.dumps(acc.to_dict()))
    assert type(acc).from_dict(stored) == acc


def test_from_dict_names_the_expected_keys() -> None:
    with pytest.raises(InvalidArgumentError, match=r"exactly the keys \['count', 'mean', 'm2'\]"):
        MeanAccumulator.from_dict({"count": 1, "mean": 2.0})
    with pytest.raises(InvalidArgumentError, match=r"successes \(2\) cannot exceed trials \(1\)"):
        ProportionAccumulator.from_dict({"trials": 1, "successes": 2})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count": -1}, "count must be an integer >= 0"),
        ({"count": 2, "m2": -1.0}, "m2 must be a finite number >= 0"),
        ({"count": 2, "mean": float("nan")}, "mean must be a finite number"),
        ({"count": 0, "mean": 3.0}, "empty accumulator"),
    ],
)
def test_mean_accumulator_rejects_impossible_state(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        MeanAccumulator(**kwargs)  # type: ignore[arg-type]


def test_updates_reject_bad_values_with_the_fix() -> None:
    with pytest.raises(InvalidArgumentError, match="1 NaN or infinite values; drop them"):
        MeanAccumulator().update([1.0, float("inf")])
    with pytest.raises(InvalidArgumentError, match="must be 1-D"):
        MeanAccumulator().update([[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match="True/False or 1/0"):
        ProportionAccumulator().update([0, 1, 2])


def test_merge_rejects_the_other_kind_of_accumulator() -> None:
    with pytest.raises(InvalidArgumentError, match="other must be a MeanAccumulator"):
        MeanAccumulator().merge(ProportionAccumulator())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="other must be a ProportionAccumulator"):
        ProportionAccumulator().merge(MeanAccumulator())  # type: ignore[arg-type]
