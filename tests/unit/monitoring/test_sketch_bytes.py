"""The compact byte layout (version 2), reading version 1, and ``WindowSketch.merge_bytes``.

With the halving budget at 0 (``runs.BUDGET``) ``merge_bytes`` must equal ``merge_all`` of the
decoded windows item for item: that checks the bytes-level regrouping exactly. The halving
itself, which trades those items for others within the error bound, is tested in
``test_sketch_runs``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sketches import (
    CategoricalSketch,
    NumericSketch,
    WindowSketch,
    codec,
    packed,
    runs,
)

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


def _window(profile: ReferenceProfile, seed: int, rows: int) -> WindowSketch:
    """A window with every kind of counter: bins, KLL levels, missing, unseen, unexpected."""
    rng = np.random.default_rng(seed)
    window = WindowSketch.for_profile(profile, seed * MINUTE, (seed + 1) * MINUTE, seed=seed)
    for start in range(0, rows, 64):
        n = min(64, rows - start)
        window.update(
            {
                "age": rng.normal(45, 12, n),
                "income": rng.lognormal(10, 1.2, n),
                "plan": rng.choice(["basic", "pro", f"new{seed % 3}"], n),
            }
        )
    if seed % 2:
        window.update(
            {"age": [np.nan, np.inf, "x"], "plan": [None, 1, "pro"], f"z{seed}": [1, 2, 3]}
        )
    return window


def _assert_same(a: WindowSketch, b: WindowSketch) -> None:
    assert (a.start_ms, a.end_ms, a.rows) == (b.start_ms, b.end_ms, b.rows)
    assert a.unexpected.to_state() == b.unexpected.to_state()
    for name, x in a.columns.items():
        y = b.columns[name]
        assert (x.missing, x.type_mismatch, x.absent) == (y.missing, y.type_mismatch, y.absent)
        assert x.mismatch_types.to_state() == y.mismatch_types.to_state()
        if isinstance(x, NumericSketch):
            assert isinstance(y, NumericSketch)
            assert x.slot_counts.tolist() == y.slot_counts.tolist()
            assert x.inf_count == y.inf_count
            assert x.moments.count == y.moments.count
            assert x.moments.mean == pytest.approx(y.moments.mean, rel=1e-12, abs=1e-12)
            assert x.moments.m2 == pytest.approx(y.moments.m2, rel=1e-9, abs=1e-9)
            kx, ky = x.quantiles.to_state(), y.quantiles.to_state()
            assert kx.pop("items").tolist() == ky.pop("items").tolist()
            assert kx == ky
        else:
            assert isinstance(y, CategoricalSketch)
            assert x.counts.tolist() == y.counts.tolist()
            assert x.unseen.to_state() == y.unseen.to_state()


@settings(max_examples=15, deadline=None)
@given(rows=st.lists(st.integers(0, 1500), min_size=1, max_size=8))
def test_merge_bytes_equals_merge_all_of_the_decoded_windows(
    profile: ReferenceProfile, rows: list[int]
) -> None:
    blobs = [_window(profile, i, n).to_bytes() for i, n in enumerate(rows)]
    expected = WindowSketch.merge_all([WindowSketch.from_bytes(b) for b in blobs])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "BUDGET", 0.0)
        merged = WindowSketch.merge_bytes(blobs)
    _assert_same(merged, expected)
    assert merged.rows == sum(rows) + 3 * sum(i % 2 for i in range(len(rows)))


def test_merge_bytes_equals_merge_all_of_live_windows(
    profile: ReferenceProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "BUDGET", 0.0)
    windows = [_window(profile, i, 700) for i in range(12)]
    merged = WindowSketch.merge_bytes([w.to_bytes() for w in windows])
    _assert_same(merged, WindowSketch.merge_all(windows))
    merged.update({"age": [1.0], "income": [2.0], "plan": ["pro"]})  # the result is live
    assert merged.rows == WindowSketch.merge_all(windows).rows + 1


def test_decoded_window_round_trips_and_updates(profile: ReferenceProfile) -> None:
    window = _window(profile, 5, 3000)
    copy = WindowSketch.from_bytes(window.to_bytes())
    _assert_same(copy, window)
    for sketch in (window, copy):
        sketch.update({"age": [40.0, 300.0], "income": [1.0, 2.0], "plan": ["pro", "x"]})
    _assert_same(copy, window)


def _version_1(window: WindowSketch) -> bytes:
    """The format of the first release: JSON header plus one array per field."""
    return codec.pack(
        {
            "start_ms": window.start_ms,
            "end_ms": window.end_ms,
            "rows": window.rows,
            "unexpected": window.unexpected.to_state(),
            "columns": [[name, s.to_state()] for name, s in window.columns.items()],
        }
    )


def test_version_1_bytes_still_decode_and_merge(
    profile: ReferenceProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "BUDGET", 0.0)
    windows = [_window(profile, i, 500) for i in range(3)]
    old = [_version_1(w) for w in windows]
    assert old[0][4] == 1
    for blob, window in zip(old, windows, strict=True):
        _assert_same(WindowSketch.from_bytes(blob), window)
    mixed = [old[0], windows[1].to_bytes(), old[2]]
    _assert_same(WindowSketch.merge_bytes(mixed), WindowSketch.merge_all(windows))


def test_merge_bytes_rejects_other_references_and_no_windows(profile: ReferenceProfile) -> None:
    other = ReferenceProfile.from_frame(pd.DataFrame({"age": np.arange(50.0)}))
    blobs = [_window(profile, 0, 10).to_bytes(), WindowSketch.for_profile(other, 0, 1).to_bytes()]
    with pytest.raises(InvalidArgumentError, match="different references"):
        WindowSketch.merge_bytes(blobs)
    with pytest.raises(InvalidArgumentError, match="at least one window"):
        WindowSketch.merge_bytes([])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"NOPE\x02" + bytes(19), "not a version-2"),
        (b"CVSK\x02\x00\x00\x00\x03\x00\x00\x00" + bytes(12) + b"[1]     ", "malformed"),
    ],
)
def test_corrupt_version_2_bytes_raise(data: bytes, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        WindowSketch.from_bytes(data)


def test_windows_are_stored_with_sorted_levels(profile: ReferenceProfile) -> None:
    window = _window(profile, 3, 5000)
    data = window.to_bytes()
    pack = packed.decode(data)
    assert data[5] == packed.SORTED_LEVELS
    assert pack.is_sorted
    bounds = np.cumsum(pack.levels)[:-1]
    assert all(np.all(np.diff(run) >= 0) for run in np.split(pack.items, bounds))
    # sorting for storage changes no answer of the live window
    age = window.columns["age"]
    assert isinstance(age, NumericSketch)
    copy = WindowSketch.from_bytes(data).columns["age"]
    assert isinstance(copy, NumericSketch)
    assert [copy.quantiles.quantile(q) for q in (0.1, 0.5, 0.9)] == [
        age.quantiles.quantile(q) for q in (0.1, 0.5, 0.9)
    ]
