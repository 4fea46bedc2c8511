from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.monitoring.sketches import CategoricalSketch, FrequentItems, Moments, NumericSketch

EDGES = np.array([-1.0, 0.0, 0.5, 2.0])

numeric_values = st.lists(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.just(float("nan")),
        st.sampled_from([float("inf"), -float("inf"), 0.0, 2.0, -1.0]),
    ),
    max_size=60,
)
category_values = st.lists(
    st.one_of(st.sampled_from(["a", "b", "c", "zz", "new"]), st.none(), st.integers(0, 3)),
    max_size=60,
)


def _numeric(parts: list[list[float]]) -> NumericSketch:
    sketch = NumericSketch(EDGES, seed=1)
    for part in parts:
        sketch.update(np.array(part, dtype=np.float64))
    return sketch


@settings(max_examples=60, deadline=None)
@given(st.lists(numeric_values, min_size=1, max_size=5), st.lists(numeric_values, max_size=5))
def test_numeric_merge_equals_the_sketch_of_the_concatenation(
    left: list[list[float]], right: list[list[float]]
) -> None:
    merged = _numeric(left).merge(_numeric(right))
    whole = _numeric([[v for part in left + right for v in part]])
    assert merged.slot_counts.tolist() == whole.slot_counts.tolist()
    assert (merged.missing, merged.inf_count) == (whole.missing, whole.inf_count)
    assert merged.moments.count == whole.moments.count
    assert merged.moments.mean == pytest.approx(whole.moments.mean, rel=1e-9, abs=1e-6)
    assert merged.moments.m2 == pytest.approx(whole.moments.m2, rel=1e-7, abs=1e-3)
    values = np.array([v for part in left + right for v in part], dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size:
        assert merged.min == finite.min()
        assert merged.max == finite.max()
        assert merged.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-6)
    if finite.size > 1:
        assert merged.std == pytest.approx(finite.std(ddof=1), rel=1e-6, abs=1e-6)


def test_numeric_counts_bins_missing_inf_and_range() -> None:
    sketch = NumericSketch(EDGES)
    sketch.update(np.array([-5.0, -1.0, 0.2, 0.5, 2.0, 3.0, np.nan, np.inf, -np.inf]))
    # slots: underflow, [-1, 0), [0, 0.5), [0.5, 2], overflow
    assert sketch.slot_counts.tolist() == [2, 1, 1, 2, 2]
    assert sketch.bin_counts().tolist() == [3, 1, 4]
    assert (sketch.missing, sketch.inf_count, sketch.out_of_range) == (1, 2, 4)
    assert (sketch.count, sketch.rows, sketch.moments.count) == (8, 9, 6)


def test_numeric_counts_strings_and_booleans_as_type_mismatches() -> None:
    sketch = NumericSketch(EDGES)
    sketch.update(np.array([1.0, "7", None, True, 2**2000], dtype=object))
    assert sketch.type_mismatch == 2
    assert dict(sketch.mismatch_types.top()) == {"str": 1, "bool": 1}
    assert (sketch.missing, sketch.count, sketch.inf_count) == (1, 2, 1)
    sketch.update(np.array(["a", "b"]))
    assert sketch.type_mismatch == 4
    assert sketch.rows == 7


def test_numeric_accepts_integer_arrays_and_empty_batches() -> None:
    sketch = NumericSketch(EDGES)
    sketch.update(np.array([0, 1, 5], dtype=np.int32)).update(np.array([], dtype=float))
    assert sketch.slot_counts.tolist() == [0, 0, 1, 1, 1]


def test_all_nan_batch_is_only_missing() -> None:
    sketch = NumericSketch(EDGES).update(np.full(4, np.nan))
    assert (sketch.missing, sketch.count, sketch.moments.count) == (4, 0, 0)
    assert np.isnan(sketch.mean)
    assert np.isnan(sketch.min)


@settings(max_examples=60, deadline=None)
@given(st.lists(category_values, min_size=1, max_size=4), st.lists(category_values, max_size=4))
def test_categorical_merge_equals_the_sketch_of_the_concatenation(
    left: list[list[object]], right: list[list[object]]
) -> None:
    def build(parts: list[list[object]]) -> CategoricalSketch:
        sketch = CategoricalSketch(("a", "b", "c"), value_type="string", unseen_capacity=4)
        for part in parts:
            column = np.empty(len(part), dtype=object)
            column[:] = part
            sketch.update(column)
        return sketch

    merged = build(left).merge(build(right))
    whole = build([[v for part in left + right for v in part]])
    assert merged.counts.tolist() == whole.counts.tolist()
    assert (merged.missing, merged.type_mismatch) == (whole.missing, whole.type_mismatch)
    # Misra-Gries: every unseen key's count is known to within the error bound.
    truth: dict[str, int] = {}
    for value in (v for part in left + right for v in part):
        if value is not None and str(value) not in ("a", "b", "c"):
            truth[str(value)] = truth.get(str(value), 0) + 1
    for key, true_count in truth.items():
        stored = merged.unseen.counts.get(key, 0)
        assert true_count - merged.unseen.error_bound <= stored <= true_count


def test_categorical_matches_integral_floats_and_flags_type_changes() -> None:
    sketch = CategoricalSketch(("1", "2"), value_type="number")
    sketch.update(np.array([1.0, 2.0, 2.0, np.nan, 3.0]))
    assert sketch.counts.tolist() == [1, 2, 1]
    assert sketch.missing == 1
    sketch.update(np.array(["1", "x"], dtype=object))
    assert sketch.type_mismatch == 2
    assert sketch.counts.tolist() == [2, 2, 2]
    assert sketch.unseen.top() == [("3", 1), ("x", 1)]


def test_categorical_survives_unhashable_values() -> None:
    sketch = CategoricalSketch(("a",), value_type="string")
    column = np.empty(2, dtype=object)
    column[:] = [["a"], "a"]
    sketch.update(column)
    assert sketch.counts.tolist() == [1, 1]
    assert sketch.mismatch_types.top() == [("list", 1)]


def test_frequent_items_keep_heavy_hitters() -> None:
    items = FrequentItems(capacity=3)
    for i in range(200):
        items.update({"heavy": 5, f"rare{i}": 1})
    assert items.top(1)[0][0] == "heavy"
    assert 1000 - items.error_bound <= items.counts["heavy"] <= 1000
    assert len(items.counts) <= 3


def test_moments_merge_many_matches_pairwise() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(loc=i, size=n) for i, n in enumerate([0, 5, 1, 40])]
    many = Moments().merge_many([Moments().update(p) for p in parts])
    data = np.concatenate(parts)
    assert many.count == data.size
    assert many.mean == pytest.approx(data.mean(), rel=1e-12)
    assert many.variance() == pytest.approx(data.var(ddof=1), rel=1e-12)
    assert np.isnan(Moments().update(np.array([1.0])).variance())
