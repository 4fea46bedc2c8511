"""Merging many stored windows with their KLL runs halved first (``runs``, ``merge_bytes``).

Halving trades the plain merge's items for others: what must hold is that counters, counts and
extremes stay exact, that every quantile stays within the error bound the merged sketch
reports (against the true data), and that the bound grows by at most ``sqrt(1 + BUDGET)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sketches import KLLSketch, NumericSketch, WindowSketch, packed, runs
from conveyor.monitoring.sketches.kll import KLLParts, compress_variance

MINUTE = 60_000
# A bound that fails once in a billion queries: tests with fixed seeds never flake on it.
CONFIDENCE = 1 - 1e-9
NUMERIC = ("a", "b")


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(0, 1, 2000),
            "b": rng.lognormal(0, 1, 2000),
            "plan": rng.choice(["basic", "pro"], 2000),
        }
    )
    return ReferenceProfile.from_frame(frame)


def _values(rng: np.random.Generator, name: str, rows: int, ties: bool) -> np.ndarray:
    if ties:
        return rng.integers(0, 7, rows).astype(float)
    return rng.normal(0.3, 1, rows) if name == "a" else rng.lognormal(0, 1.3, rows)


def _windows(
    profile: ReferenceProfile, seed: int, rows: list[int], *, ties: bool = False
) -> tuple[list[WindowSketch], dict[str, np.ndarray]]:
    """Windows fed in batches of 100 rows, and every numeric value they were given."""
    rng = np.random.default_rng(seed)
    seen: dict[str, list[np.ndarray]] = {name: [] for name in NUMERIC}
    windows = []
    for i, n in enumerate(rows):
        window = WindowSketch.for_profile(profile, i * MINUTE, (i + 1) * MINUTE, seed=seed + i)
        for start in range(0, n, 100):
            m = min(100, n - start)
            batch = {name: _values(rng, name, m, ties) for name in NUMERIC}
            for name in NUMERIC:
                seen[name].append(batch[name])
            window.update({**batch, "plan": rng.choice(["basic", "pro", "team"], m)})
        windows.append(window)
    return windows, {name: np.concatenate([np.empty(0), *seen[name]]) for name in NUMERIC}


def _numeric(window: WindowSketch, name: str) -> NumericSketch:
    sketch = window.columns[name]
    assert isinstance(sketch, NumericSketch)
    return sketch


def _assert_within_bound(sketch: KLLSketch, data: np.ndarray) -> None:
    ordered = np.sort(data)
    bound = sketch.rank_error_bound(CONFIDENCE) + 1 / data.size
    for q in np.linspace(0.01, 0.99, 33):
        value = sketch.quantile(float(q))
        low = np.searchsorted(ordered, value, side="left") / data.size
        high = np.searchsorted(ordered, value, side="right") / data.size
        assert low - bound <= q <= high + bound, (q, low, high, bound)


def _plain(blobs: list[bytes]) -> WindowSketch:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "BUDGET", 0.0)
        return WindowSketch.merge_bytes(blobs)


def _assert_exact_and_within_bound(
    merged: WindowSketch, plain: WindowSketch, data: dict[str, np.ndarray]
) -> None:
    assert merged.rows == plain.rows
    for name in NUMERIC:
        x, y = _numeric(merged, name), _numeric(plain, name)
        assert x.slot_counts.tolist() == y.slot_counts.tolist()
        assert x.moments.count == y.moments.count == data[name].size
        assert x.quantiles.count == data[name].size
        if not data[name].size:
            continue
        assert (x.min, x.max) == (data[name].min(), data[name].max())
        _assert_within_bound(x.quantiles, data[name])
        growth = math.sqrt(1 + runs.BUDGET)
        assert x.quantiles.rank_error_bound() <= y.quantiles.rank_error_bound() * growth + 1e-12


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 150).flatmap(
        lambda n: st.lists(st.integers(0, 1200), min_size=n, max_size=n)
    ),
    ties=st.booleans(),
)
def test_merge_bytes_is_exact_in_counts_and_within_the_bound(
    profile: ReferenceProfile, seed: int, rows: list[int], ties: bool
) -> None:
    windows, data = _windows(profile, seed, rows, ties=ties)
    blobs = [w.to_bytes() for w in windows]
    _assert_exact_and_within_bound(WindowSketch.merge_bytes(blobs), _plain(blobs), data)


def test_many_windows_are_halved_within_the_budget(profile: ReferenceProfile) -> None:
    windows, data = _windows(profile, 11, [1000] * 300)
    blobs = [w.to_bytes() for w in windows]
    merged, plain = WindowSketch.merge_bytes(blobs), _plain(blobs)
    _assert_exact_and_within_bound(merged, plain, data)
    for name in NUMERIC:
        halved, exact = _numeric(merged, name).quantiles, _numeric(plain, name).quantiles
        # the halving did happen: it spent some of its budget
        assert halved.rank_error_bound() > exact.rank_error_bound()
        assert halved.size <= 3 * halved.k + 2 * 64


def test_halving_leaves_far_fewer_items_to_sort(profile: ReferenceProfile) -> None:
    windows, _ = _windows(profile, 5, [1000] * 300)
    packs = [packed.decode(w.to_bytes()) for w in windows]
    height = packed.NUMERIC_INTS.index("height")
    layout = packs[0].layout
    heights = np.array([[p.ints[layout.fields[i] + height] for i in layout.numeric] for p in packs])
    stored = runs.Runs(
        [p.items for p in packs],
        np.concatenate([p.levels for p in packs]),
        heights,
        np.ones(len(packs), dtype=bool),
    )
    variances = np.stack([p.floats for p in packs]).reshape(len(packs), -1, 5)[:, :, 2].sum(axis=0)
    merged = runs.merge(stored, [200, 200], variances, [1, 2])
    kept = sum(level.size for levels in merged.levels for level in levels)
    assert kept < sum(p.items.size for p in packs) / 2
    assert all(level.size == 0 or np.isfinite(level).all() for level in merged.levels[0])
    assert (merged.variance > 0).all()
    assert (merged.low <= merged.high).all()


def test_merges_without_numeric_columns_or_values(profile: ReferenceProfile) -> None:
    plans = ReferenceProfile.from_frame(pd.DataFrame({"plan": ["basic", "pro", "basic"]}))
    windows = [WindowSketch.for_profile(plans, 0, MINUTE).update({"plan": ["pro", "x"]})] * 40
    merged = WindowSketch.merge_bytes([w.to_bytes() for w in windows])
    assert (merged.rows, merged.columns["plan"].missing) == (80, 0)
    empty = [WindowSketch.for_profile(profile, i, i + 1).to_bytes() for i in range(40)]
    quantiles = _numeric(WindowSketch.merge_bytes(empty), "a").quantiles
    assert quantiles.count == 0
    assert math.isnan(quantiles.quantile(0.5))


def _unsorted_flag_zero(blob: bytes, rng: np.random.Generator) -> bytes:
    """The same window as a release before the sorted flag wrote it: flag 0, levels in any
    order."""
    pack = packed.decode(blob)
    items = pack.items.copy()
    bounds = np.cumsum(pack.levels)[:-1]
    shuffled = np.concatenate([rng.permutation(run) for run in np.split(items, bounds)])
    head = bytearray(blob[: len(blob) - 8 * items.size])
    head[5] = 0
    return bytes(head) + shuffled.astype("<f8").tobytes()


def test_windows_stored_before_the_sorted_flag_are_merged_plainly(
    profile: ReferenceProfile,
) -> None:
    rng = np.random.default_rng(3)
    windows, data = _windows(profile, 21, [900] * 150)
    old = [_unsorted_flag_zero(w.to_bytes(), rng) for w in windows]
    assert not packed.decode(old[0]).is_sorted
    merged = WindowSketch.merge_bytes(old)
    expected = WindowSketch.merge_all([WindowSketch.from_bytes(b) for b in old])
    for name in NUMERIC:
        x, y = _numeric(merged, name).quantiles, _numeric(expected, name).quantiles
        assert sorted(x.to_state()["items"]) == sorted(y.to_state()["items"])
        assert x.rank_error_bound() == y.rank_error_bound()
    mixed = old[:75] + [w.to_bytes() for w in windows[75:]]
    _assert_exact_and_within_bound(WindowSketch.merge_bytes(mixed), _plain(mixed), data)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(8, 64),
    sizes=st.lists(st.integers(0, 600), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_compress_variance_is_what_a_compaction_adds(k: int, sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = [rng.normal(size=n) for n in sizes]
    parts = KLLParts(sum(sizes), 0, 0.0, math.inf, -math.inf, levels)
    sketch = KLLSketch.assemble(k, parts, seed=seed)  # compacts until the levels fit
    assert compress_variance(k, sizes) == sketch.to_state()["variance"]


def test_parts_sorts_levels_without_changing_answers() -> None:
    data = np.random.default_rng(4).normal(size=5000)
    sketch = KLLSketch(seed=1)
    for batch in np.split(data, 50):
        sketch.update(batch)
    before = [sketch.quantile(q) for q in (0.05, 0.5, 0.95)]
    levels = sketch.parts().levels
    assert all(np.all(np.diff(level) >= 0) for level in levels)
    assert [sketch.quantile(q) for q in (0.05, 0.5, 0.95)] == before
    sketch.update(data[:500])  # still updates, and stays within its bound
    _assert_within_bound(sketch, np.concatenate([data, data[:500]]))


def test_random_bits_are_balanced_and_deterministic() -> None:
    seeds = np.arange(100_000, dtype=np.uint64) * np.uint64(7919)
    bits = runs._random_bits(seeds, 3)
    assert set(np.unique(bits).tolist()) == {0, 1}
    assert abs(bits.mean() - 0.5) < 0.01
    assert np.array_equal(bits, runs._random_bits(seeds, 3))
    assert not np.array_equal(bits, runs._random_bits(seeds, 4))
