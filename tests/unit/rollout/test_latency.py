"""Latency quantiles: PromQL's histogram_quantile on buckets, NumPy's quantile on samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.rollout.latency import LatencyHistogram, latency_quantile

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)


def test_histogram_quantile_interpolates_inside_the_bucket_like_promql() -> None:
    hist = LatencyHistogram((0.1, 0.2, 0.4, math.inf), (10, 20, 10, 0))
    # rank 0.5 * 40 = 20 falls in (0.1, 0.2] with 10 below: 0.1 + 0.1 * 10 / 20.
    assert hist.quantile(0.5) == pytest.approx(0.15)
    # rank 0.99 * 40 = 39.6 falls in (0.2, 0.4] with 30 below: 0.2 + 0.2 * 9.6 / 10.
    assert hist.quantile(0.99) == pytest.approx(0.392)
    # The first bucket starts at 0.
    assert hist.quantile(0.1) == pytest.approx(0.04)


def test_rank_in_the_inf_bucket_returns_the_largest_finite_bound() -> None:
    hist = LatencyHistogram((0.1, 0.5, math.inf), (90, 5, 5))
    assert hist.quantile(0.99) == 0.5


def test_histogram_without_inf_bucket_interpolates_in_its_last_bucket() -> None:
    assert LatencyHistogram((1.0, 2.0), (1, 1)).quantile(1.0) == pytest.approx(2.0)


def test_cumulative_buckets_and_merge() -> None:
    hist = LatencyHistogram.from_cumulative((0.1, 0.2, math.inf), (3, 8, 9))
    assert hist.counts == (3, 5, 1)
    merged = hist + LatencyHistogram((0.1, 0.2, math.inf), (1, 0, 4))
    assert (merged.counts, merged.total) == ((4, 5, 5), 14)


def test_histogram_quantile_is_within_one_bucket_of_the_sample_quantile() -> None:
    rng = np.random.default_rng(2)
    latencies = rng.lognormal(math.log(0.05), 0.8, size=50_000)
    index = np.searchsorted(BOUNDS, latencies, side="left")
    hist = LatencyHistogram(BOUNDS, tuple(np.bincount(index, minlength=len(BOUNDS)).tolist()))
    for q in (0.5, 0.9, 0.99):
        exact = float(np.quantile(latencies, q))
        bucket = int(np.searchsorted(BOUNDS, exact))
        low = BOUNDS[bucket - 1] if bucket else 0.0
        got = hist.quantile(q)
        assert got is not None
        assert low <= got <= BOUNDS[bucket]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=40), st.floats(0, 1))
def test_sample_quantile_equals_numpy(values: list[float], q: float) -> None:
    assert latency_quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_no_requests_give_none() -> None:
    assert latency_quantile([], 0.99) is None
    assert latency_quantile(LatencyHistogram((0.1, math.inf), (0, 0)), 0.99) is None


@pytest.mark.parametrize(
    ("bounds", "counts", "match"),
    [
        ((0.1, 0.1), (1, 1), "strictly increasing"),
        ((0.0, 0.1), (1, 1), "positive and strictly increasing"),
        ((0.1,), (1, 1), "one count per bucket bound"),
        ((math.inf,), (1,), "at least one finite bucket bound"),
        ((0.1, 0.2), (1, -1), "counts must be an integer >= 0"),
    ],
)
def test_bad_histograms_are_refused(
    bounds: tuple[float, ...], counts: tuple[int, ...], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        LatencyHistogram(bounds, counts)


def test_bad_inputs_name_the_fix() -> None:
    with pytest.raises(InvalidArgumentError, match="must not decrease"):
        LatencyHistogram.from_cumulative((0.1, 0.2), (5, 4))
    with pytest.raises(InvalidArgumentError, match="same bucket bounds"):
        LatencyHistogram((0.1, 0.2), (1, 1)).merge(LatencyHistogram((0.1, 0.3), (1, 1)))
    with pytest.raises(InvalidArgumentError, match=r"0.99 for p99"):
        latency_quantile([0.1], 99)
    with pytest.raises(InvalidArgumentError, match="latency_s must be >= 0 seconds"):
        latency_quantile([0.1, -0.2], 0.5)
