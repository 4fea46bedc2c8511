"""Hypothesis properties: non-negativity, identity, permutation invariance, exact merges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.monitoring.stats import (
    PSI,
    ChiSquare,
    Hellinger,
    JensenShannon,
    LInfinity,
    jensen_shannon_from_counts,
    psi_from_counts,
)

counts = st.lists(st.integers(0, 1_000), min_size=2, max_size=12).filter(lambda c: sum(c) > 0)
samples = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=60
)
STREAMING = [PSI, JensenShannon, Hellinger, LInfinity, ChiSquare]


@given(counts, st.data())
def test_psi_and_js_are_non_negative_and_zero_on_identical(
    ref: list[int], data: st.DataObject
) -> None:
    cur = data.draw(st.lists(st.integers(0, 1_000), min_size=len(ref), max_size=len(ref)))
    if sum(cur) == 0:
        cur[0] = 1
    assert psi_from_counts(ref, cur) >= 0
    assert jensen_shannon_from_counts(ref, cur) >= 0
    assert psi_from_counts(ref, ref) == 0
    assert jensen_shannon_from_counts(ref, ref) == 0


@given(counts, st.randoms())
def test_count_statistics_are_invariant_to_bin_order(ref: list[int], rnd: object) -> None:
    cur = list(reversed(ref))
    order = list(range(len(ref)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    perm_ref, perm_cur = [ref[i] for i in order], [cur[i] for i in order]
    assert psi_from_counts(perm_ref, perm_cur) == pytest.approx(psi_from_counts(ref, cur))
    assert jensen_shannon_from_counts(perm_ref, perm_cur) == pytest.approx(
        jensen_shannon_from_counts(ref, cur)
    )


@pytest.mark.parametrize("cls", STREAMING)
@settings(max_examples=30, deadline=None)
@given(reference=st.lists(st.floats(-100, 100), min_size=5, max_size=80), a=samples, b=samples)
def test_numeric_merge_equals_statistic_on_concatenation(
    cls: type[PSI], reference: list[float], a: list[float], b: list[float]
) -> None:
    base = cls.from_reference(reference, bins=4)
    left = cls.from_reference(reference, bins=4).update(np.array(a))
    right = cls.from_reference(reference, bins=4).update(np.array(b))
    whole = base.update(np.array(a + b))
    merged = left.merge(right)
    assert merged.counts_.tolist() == whole.counts_.tolist()
    assert merged.value() == whole.value()


@pytest.mark.parametrize("cls", STREAMING)
@settings(max_examples=30, deadline=None)
@given(
    reference=st.lists(st.sampled_from("abcd"), min_size=1, max_size=40),
    a=st.lists(st.sampled_from("abcdez"), min_size=1, max_size=40),
    b=st.lists(st.sampled_from("abcdez"), min_size=1, max_size=40),
)
def test_categorical_merge_equals_statistic_on_concatenation(
    cls: type[PSI], reference: list[str], a: list[str], b: list[str]
) -> None:
    left = cls.from_categories(reference).update(np.array(a, dtype=object))
    right = cls.from_categories(reference).update(np.array(b, dtype=object))
    whole = cls.from_categories(reference).update(np.array(a + b, dtype=object))
    merged = left + right
    assert merged.counts_.tolist() == whole.counts_.tolist()
    assert merged.value() == whole.value()
    # Merging returns a new sketch: the windows themselves are unchanged.
    assert left.counts_.sum() == len(a)


@given(samples, st.randoms())
def test_streaming_psi_is_permutation_invariant(values: list[float], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    reference = np.linspace(-10, 10, 50)
    one = PSI.from_reference(reference).update(np.array(values)).value()
    two = PSI.from_reference(reference).update(np.array(shuffled)).value()
    assert one == two


def test_streaming_counts_missing_and_unseen_categories() -> None:
    stat = JensenShannon.from_categories(["a", "b", "b"])
    stat.update(np.array(["a", None, "new", "b", np.nan], dtype=object))
    assert stat.counts_.tolist() == [1, 1, 1]
    assert stat.missing_ == 2
    numeric = PSI.from_reference([0.0, 1.0, 2.0, 3.0])
    numeric.update(np.array([np.nan, np.inf, 1.0]))
    assert numeric.missing_ == 2
    assert int(numeric.counts_.sum()) == 1
