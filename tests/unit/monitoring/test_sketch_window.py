from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sketches import CategoricalSketch, NumericSketch, WindowSketch, rollup

MINUTE = 60_000


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 2000),
            "income": rng.lognormal(10, 1, 2000),
            "plan": rng.choice(["basic", "pro", "team"], 2000),
        }
    )
    return ReferenceProfile.from_frame(frame)


def _batch(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    return {
        "age": rng.normal(45, 12, rows),
        "income": rng.lognormal(10, 1.2, rows),
        "plan": rng.choice(["basic", "pro", "team", "enterprise"], rows),
    }


def _numeric(window: WindowSketch, name: str) -> NumericSketch:
    sketch = window.columns[name]
    assert isinstance(sketch, NumericSketch)
    return sketch


def _categorical(window: WindowSketch, name: str) -> CategoricalSketch:
    sketch = window.columns[name]
    assert isinstance(sketch, CategoricalSketch)
    return sketch


def test_update_accepts_frames_and_mappings_alike(profile: ReferenceProfile) -> None:
    batch = _batch(np.random.default_rng(1), 50)
    a = WindowSketch.for_profile(profile, 0, MINUTE).update(batch)
    b = WindowSketch.for_profile(profile, 0, MINUTE).update(pd.DataFrame(batch))
    assert a.rows == b.rows == 50
    assert _numeric(a, "age").slot_counts.tolist() == _numeric(b, "age").slot_counts.tolist()
    assert _categorical(a, "plan").counts.tolist() == _categorical(b, "plan").counts.tolist()
    assert _categorical(a, "plan").unseen.top()[0][0] == "enterprise"


def test_missing_and_unexpected_columns_are_recorded(profile: ReferenceProfile) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    window.update({"age": [30.0, 31.0], "plan": ["pro", "pro"], "zip": ["1", "2"]})
    assert window.columns["income"].absent == 2
    assert window.columns["age"].absent == 0
    assert window.unexpected.top() == [("zip", 2)]


def test_python_lists_keep_their_element_types(profile: ReferenceProfile) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    window.update({"age": [30, "thirty", None], "income": [1.0, 2.0, 3.0], "plan": [1, 2, 3]})
    assert _numeric(window, "age").type_mismatch == 1
    assert _numeric(window, "age").missing == 1
    assert _categorical(window, "plan").type_mismatch == 3


def test_empty_batch_changes_nothing(profile: ReferenceProfile) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    before = window.to_bytes()
    window.update({"age": np.array([])}).update(pd.DataFrame({"age": []}))
    assert window.to_bytes() == before


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ([1, 2], "DataFrame or a mapping"),
        ({}, "no columns"),
        ({"age": [1.0], "plan": ["a", "b"]}, "differ in length"),
        ({"age": np.ones((2, 2))}, "must be a 1-D array"),
    ],
)
def test_malformed_batches_raise_and_count_nothing(
    profile: ReferenceProfile, batch: Any, match: str
) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    with pytest.raises(InvalidArgumentError, match=match):
        window.update(batch)
    assert window.rows == 0


def test_window_range_is_validated(profile: ReferenceProfile) -> None:
    with pytest.raises(InvalidArgumentError, match="start_ms < end_ms"):
        WindowSketch.for_profile(profile, MINUTE, MINUTE)
    with pytest.raises(InvalidArgumentError, match="integer milliseconds"):
        WindowSketch.for_profile(profile, 0.5, MINUTE)  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 400), min_size=2, max_size=5), seed=st.integers(0, 10**6))
def test_merged_windows_equal_one_window_over_all_rows(
    profile: ReferenceProfile, sizes: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    batches = [_batch(rng, n) for n in sizes]
    parts = [
        WindowSketch.for_profile(profile, 0, MINUTE, seed=i).update(b)
        for i, b in enumerate(batches)
    ]
    merged = WindowSketch.merge_all(parts)
    whole = WindowSketch.for_profile(profile, 0, MINUTE)
    for batch in batches:
        whole.update(batch)
    assert merged.rows == whole.rows == sum(sizes)
    for name in ("age", "income"):
        m, w = _numeric(merged, name), _numeric(whole, name)
        assert m.slot_counts.tolist() == w.slot_counts.tolist()
        assert m.moments.count == w.moments.count
        assert m.moments.mean == pytest.approx(w.moments.mean, rel=1e-9)
        assert m.moments.m2 == pytest.approx(w.moments.m2, rel=1e-9)
        data = np.concatenate([b[name] for b in batches])
        if data.size:
            bound = m.quantiles.rank_error_bound(1 - 1e-9) + 1 / data.size
            median = m.quantiles.quantile(0.5)
            assert abs(np.mean(data <= median) - 0.5) <= bound + 1 / data.size
    assert (
        _categorical(merged, "plan").counts.tolist() == _categorical(whole, "plan").counts.tolist()
    )
    assert parts[0].rows == sizes[0]  # merge_all leaves its inputs alone


def test_merge_rejects_windows_of_another_reference(profile: ReferenceProfile) -> None:
    other = ReferenceProfile.from_frame(pd.DataFrame({"age": [1.0, 2.0, 3.0]}))
    window = WindowSketch.for_profile(profile, 0, MINUTE)
    with pytest.raises(InvalidArgumentError, match="different references"):
        window.merge(WindowSketch.for_profile(other, 0, MINUTE))
    with pytest.raises(InvalidArgumentError, match="at least one window"):
        WindowSketch.merge_all([])


def test_bytes_round_trip_is_exact(profile: ReferenceProfile) -> None:
    window = WindowSketch.for_profile(profile, 0, MINUTE, seed=3)
    rng = np.random.default_rng(2)
    for _ in range(30):
        window.update(_batch(rng, 200))
    window.update({"age": [np.nan, np.inf, "x"], "new": [1, 2, 3]})
    data = window.to_bytes()
    copy = WindowSketch.from_bytes(data)
    assert copy.to_bytes() == data
    assert copy.layout() == window.layout()
    assert _numeric(copy, "age").quantiles.quantile(0.3) == _numeric(
        window, "age"
    ).quantiles.quantile(0.3)
    copy.merge(window)  # a decoded window merges with a live one
    assert copy.rows == 2 * window.rows


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"xx", "too short"), (b"NOPE\x01\x00\x00\x00\x00", "not a version-1"), (None, "truncated")],
)
def test_corrupt_bytes_raise(profile: ReferenceProfile, data: bytes | None, match: str) -> None:
    if data is None:
        data = WindowSketch.for_profile(profile, 0, MINUTE).to_bytes()[:-8]
    with pytest.raises(InvalidArgumentError, match=match):
        WindowSketch.from_bytes(data)


def test_rollup_merges_minutes_into_aligned_hours(profile: ReferenceProfile) -> None:
    rng = np.random.default_rng(4)
    start = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
    minutes = []
    for m in range(90):
        for replica in range(2):
            window = WindowSketch.for_profile(
                profile, start + m * MINUTE, start + (m + 1) * MINUTE, seed=replica
            )
            minutes.append(window.update(_batch(rng, 10)))
    hours = rollup(minutes, "hour")
    assert [(h.start_ms - start, h.end_ms - start) for h in hours] == [
        (0, 3_600_000),
        (3_600_000, 7_200_000),
    ]
    assert [h.rows for h in hours] == [60 * 2 * 10, 30 * 2 * 10]
    days = rollup(hours, "day")
    assert len(days) == 1
    assert days[0].rows == 1800
    assert days[0].end_ms - days[0].start_ms == 86_400_000


def test_rollup_rejects_straddling_windows_and_unknown_granularity(
    profile: ReferenceProfile,
) -> None:
    window = WindowSketch.for_profile(profile, 30_000, 90_000)
    with pytest.raises(InvalidArgumentError, match="straddles two minute buckets"):
        rollup([window], "minute")
    with pytest.raises(InvalidArgumentError, match="granularity must be one of"):
        rollup([window], "week")  # type: ignore[arg-type]


def _deep_size(sketch: WindowSketch) -> int:
    total = 0
    for column in sketch.columns.values():
        total += sys.getsizeof(column)
        if isinstance(column, NumericSketch):
            state = column.quantiles.to_state()
            total += state["items"].nbytes + column.slot_counts.nbytes + column.edges.nbytes
        else:
            total += column.counts.nbytes + sum(sys.getsizeof(k) for k in column.unseen.counts)
    return total


def test_memory_per_window_does_not_grow_with_rows(profile: ReferenceProfile) -> None:
    rng = np.random.default_rng(5)
    small = WindowSketch.for_profile(profile, 0, MINUTE).update(_batch(rng, 1000))
    large = WindowSketch.for_profile(profile, 0, MINUTE)
    for _ in range(10):
        batch = _batch(rng, 100_000)
        batch["plan"] = np.where(
            rng.random(100_000) < 0.01, rng.integers(0, 10**6, 100_000).astype(str), batch["plan"]
        )
        large.update(batch)
    assert large.rows == 1_000_000
    # Bounded by the layout, not the rows: about 3k KLL items per numeric column at most.
    assert len(large.to_bytes()) < 3 * 12_000
    assert len(large.to_bytes()) < 2 * len(small.to_bytes())
    assert _deep_size(large) < 2 * _deep_size(small)
    assert len(_categorical(large, "plan").unseen.counts) <= 32
