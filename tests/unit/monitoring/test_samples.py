"""Reservoir samples: bounded, uniform, mergeable in proportion, Parquet round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.monitoring import samples


def _fold(batches: list[int], capacity: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sample, seen = None, 0
    for size in batches:
        batch = pd.DataFrame({"i": np.arange(seen, seen + size)})
        sample = samples.reservoir_update(sample, seen, batch, capacity=capacity, rng=rng)
        seen += size
    return pd.DataFrame({"i": []}) if sample is None else sample


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=20), st.integers(1, 50))
def test_the_sample_is_bounded_and_holds_distinct_rows(batches: list[int], capacity: int) -> None:
    sample = _fold(batches, capacity)
    assert len(sample) == min(sum(batches), capacity)
    assert sample["i"].is_unique
    assert sample["i"].between(0, max(sum(batches) - 1, 0)).all()


def test_every_row_is_kept_with_the_same_probability() -> None:
    rows, capacity, trials = 200, 20, 600
    counts = np.zeros(rows)
    for seed in range(trials):
        counts[_fold([37, 1, 62, 100], capacity, seed)["i"].to_numpy()] += 1
    expected = trials * capacity / rows  # 60 per row
    # early and late rows alike: compare the first and last quarter, and the spread
    assert abs(counts[:50].mean() - expected) < 6
    assert abs(counts[-50:].mean() - expected) < 6
    assert counts.std() < 2 * np.sqrt(expected)


def test_merge_draws_in_proportion_to_the_rows_each_sample_stands_for() -> None:
    rng = np.random.default_rng(0)
    big = pd.DataFrame({"src": ["big"] * 100})
    small = pd.DataFrame({"src": ["small"] * 100})
    merged = samples.merge_samples([(big, 9000), (small, 1000)], capacity=100, rng=rng)
    assert len(merged) == 100
    assert (merged["src"] == "big").sum() == 90


def test_parquet_round_trip_keeps_vectors() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "e": [np.ones(3), np.zeros(3)], "s": ["a", None]})
    back = samples.from_bytes(samples.to_bytes(frame))
    assert back["x"].tolist() == [1.0, 2.0]
    assert [list(v) for v in back["e"]] == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert samples.is_vector_column(back["e"])
    assert not samples.is_vector_column(back["s"])
