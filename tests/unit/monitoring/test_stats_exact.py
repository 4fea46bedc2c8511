"""Statistics equal SciPy's (to 1e-9) and their documented formulas."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from conveyor.monitoring.stats import (
    category_counts,
    chi2_from_counts,
    hellinger_from_counts,
    jensen_shannon_from_counts,
    ks_2samp_test,
    linf_from_counts,
    normalized_wasserstein,
    psi,
    psi_from_counts,
    psi_level,
    wasserstein_distance,
    z_test_proportions,
)

RNG = np.random.default_rng(20_240_601)


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [(50, 80, 0.0), (300, 200, 0.4), (5_000, 9_000, 0.05), (20_000, 15_000, 0.03)],
)
def test_ks_equals_scipy_exact_and_asymptotic(n1: int, n2: int, shift: float) -> None:
    """Small samples use SciPy's exact path, large ones our sorted asymptotic path."""
    a, b = RNG.normal(size=n1), RNG.normal(shift, 1.1, size=n2)
    expected = stats.ks_2samp(a, b)
    got = ks_2samp_test(a, b)
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_ks_with_ties_equals_scipy() -> None:
    a = RNG.integers(0, 30, size=12_000).astype(float)
    b = RNG.integers(0, 31, size=11_000).astype(float)
    expected = stats.ks_2samp(a, b)
    got = ks_2samp_test(a, b)
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_wasserstein_equals_scipy(ties: bool) -> None:
    a, b = RNG.normal(size=3_000), RNG.normal(0.2, 2.0, size=1_700)
    if ties:
        a, b = np.round(a), np.round(b)
    assert wasserstein_distance(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-9)


def test_normalized_wasserstein_divides_by_reference_std_with_floor() -> None:
    a, b = RNG.normal(size=500), RNG.normal(1.0, 1.0, size=400)
    expected = stats.wasserstein_distance(a, b) / np.std(a)
    assert normalized_wasserstein(a, b) == pytest.approx(expected, abs=1e-9)
    constant = np.full(10, 3.0)
    assert normalized_wasserstein(constant, constant + 1) == pytest.approx(1.0 / 0.001)


def test_chi2_equals_scipy_chisquare_with_scaled_reference() -> None:
    ref, cur = np.array([120, 300, 80, 500]), np.array([40, 90, 35, 140])
    expected = stats.chisquare(cur, ref * cur.sum() / ref.sum())
    got = chi2_from_counts(ref, cur)
    assert got.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_chi2_new_category_is_infinite_and_single_category_is_no_drift() -> None:
    assert chi2_from_counts([10, 0], [5, 1]) == (math.inf, 0.0)
    assert chi2_from_counts([10, 0], [5, 0]) == (0.0, 1.0)


def test_jensen_shannon_equals_scipy() -> None:
    ref, cur = RNG.integers(0, 50, size=12), RNG.integers(0, 50, size=12)
    ref[3] = 0
    assert jensen_shannon_from_counts(ref, cur) == pytest.approx(
        distance.jensenshannon(ref, cur), abs=1e-9
    )
    assert jensen_shannon_from_counts(ref, cur, base=2) == pytest.approx(
        distance.jensenshannon(ref, cur, base=2), abs=1e-9
    )


def test_hellinger_and_linf_formulas() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])
    expected = math.sqrt(1 - (math.sqrt(0.125) * 2))
    assert hellinger_from_counts(p * 8, q * 4) == pytest.approx(expected, abs=1e-12)
    assert hellinger_from_counts([1, 0], [0, 1]) == pytest.approx(1.0)
    assert linf_from_counts(p * 8, q * 4) == pytest.approx(0.5)


def test_psi_formula_and_levels() -> None:
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.6 - 0.5) * math.log(0.6 / 0.5)
    assert psi_from_counts([50, 50], [40, 60]) == pytest.approx(expected, abs=1e-12)
    # An empty bin counts as eps, so the index stays finite.
    expected_eps = (1.0 - 0.5) * math.log(1.0 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi_from_counts([1, 1], [1, 0]) == pytest.approx(expected_eps, abs=1e-12)
    assert [psi_level(v) for v in (0.0, 0.1, 0.2, 0.25, 3.0)] == [
        "ok",
        "warn",
        "warn",
        "alert",
        "alert",
    ]


def test_psi_on_samples_uses_ten_reference_quantile_bins() -> None:
    ref = np.arange(1000, dtype=float)
    assert psi(ref, ref) == 0.0
    shifted = psi(ref, ref + 300)
    assert shifted > 0.25


def test_z_test_matches_pooled_formula() -> None:
    x1, n1, x2, n2 = 30, 100, 45, 110
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    got = z_test_proportions(x1, n1, x2, n2)
    assert got.statistic == pytest.approx(z, abs=1e-12)
    assert got.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-12)
    assert z_test_proportions(0, 10, 0, 20) == (0.0, 1.0)


@pytest.mark.parametrize("name", ["distances", "psi", "streaming"])
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"conveyor.monitoring.stats.{name}")
    result = doctest.testmod(module, raise_on_error=False)
    assert result.failed == 0


def test_category_counts_match_union_and_count_missing() -> None:
    counts = category_counts(
        np.array(["b", "a", None, "b"], dtype=object), np.array(["a", "z", np.nan], dtype=object)
    )
    assert counts.categories == ["b", "a", "z"]
    assert counts.reference.tolist() == [2, 1, 0]
    assert counts.current.tolist() == [0, 1, 1]
    assert (counts.reference_missing, counts.current_missing) == (1, 1)
    numeric = category_counts(np.array([1.0, np.inf, 2.0]), np.array([-np.inf, 2.0]))
    assert (numeric.reference_missing, numeric.current_missing) == (1, 1)
