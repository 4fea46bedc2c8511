"""Realized metrics: equal scikit-learn's on one batch, and merge exactly across windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.performance import (
    F1,
    Accuracy,
    ConfusionMatrix,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    Precision,
    Recall,
    RocAuc,
    RootMeanSquaredError,
)

binary = st.lists(st.integers(0, 1), min_size=1, max_size=80)
multiclass = st.lists(st.integers(0, 3), min_size=1, max_size=80)


def _pairs(labels: st.SearchStrategy[list[int]]) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    return labels.flatmap(
        lambda t: st.tuples(
            st.just(t), st.lists(st.integers(0, max(t) + 1), min_size=len(t), max_size=len(t))
        )
    )


@settings(max_examples=60, deadline=None)
@given(_pairs(multiclass), st.integers(0, 80))
def test_classification_metrics_equal_sklearn_and_merge_exactly(
    pair: tuple[list[int], list[int]], cut: int
) -> None:
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    cut = min(cut, len(y_true))
    expected = {
        Accuracy: skm.accuracy_score(y_true, y_pred),
        Precision: skm.precision_score(y_true, y_pred, average="macro", zero_division=0.0),
        Recall: skm.recall_score(y_true, y_pred, average="macro", zero_division=0.0),
        F1: skm.f1_score(y_true, y_pred, average="macro", zero_division=0.0),
    }
    for cls, want in expected.items():
        make = cls if cls is Accuracy else (lambda c=cls: c(average="macro"))
        whole = make().update(y_true, y_pred)
        merged = make().update(y_true[:cut], y_pred[:cut])
        merged += make().update(y_true[cut:], y_pred[cut:])
        assert whole.value() == pytest.approx(want, abs=1e-12)
        assert merged.value() == whole.value()


@settings(max_examples=60, deadline=None)
@given(_pairs(binary).filter(lambda p: max(p[0] + p[1]) <= 1))
def test_binary_scores_equal_sklearn(pair: tuple[list[int], list[int]]) -> None:
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    for cls, fn in (
        (Precision, skm.precision_score),
        (Recall, skm.recall_score),
        (F1, skm.f1_score),
    ):
        want = fn(y_true, y_pred, zero_division=0.0)
        assert cls().update(y_true, y_pred).value() == pytest.approx(want, abs=1e-12)


def test_confusion_matrix_matches_sklearn_with_string_labels() -> None:
    y_true = ["cat", "dog", "dog", "bird", "cat"]
    y_pred = ["cat", "cat", "dog", "bird", "bird"]
    cm = ConfusionMatrix().update(y_true, y_pred)
    assert cm.labels == ["bird", "cat", "dog"]
    assert cm.value().tolist() == skm.confusion_matrix(y_true, y_pred, labels=cm.labels).tolist()


def test_empty_window_has_no_value() -> None:
    assert Accuracy().value() is None
    assert F1().update([], []).value() is None
    assert MeanAbsoluteError().value() is None
    assert RocAuc().value() is None


def test_binary_average_rejects_a_third_class() -> None:
    with pytest.raises(InvalidArgumentError, match="average='macro'") as info:
        F1().update([0, 1, 2], [0, 1, 1])
    assert info.value.field == "y_true"


def test_labels_reject_nan_and_mixed_types() -> None:
    with pytest.raises(InvalidArgumentError, match="y_true: class labels"):
        Accuracy().update([0.0, np.nan], [0, 1])
    cm = ConfusionMatrix().update([0, 1], [0, 1])
    with pytest.raises(InvalidArgumentError, match="mixes integer and string"):
        cm.update(["a"], ["b"])


def test_mismatched_lengths_name_both_fields() -> None:
    with pytest.raises(InvalidArgumentError, match="y_true=3, y_pred=2"):
        Accuracy().update([0, 1, 1], [0, 1])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 300))
def test_roc_auc_is_within_its_error_bound_of_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    if len(np.unique(y_true)) < 2:
        y_true[:2] = [0, 1]
    y_score = np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1)
    auc = RocAuc(bins=100).update(y_true, y_score)
    value, bound = auc.value(), auc.error_bound()
    assert value is not None
    assert bound is not None
    assert abs(value - skm.roc_auc_score(y_true, y_score)) <= bound + 1e-12


def test_roc_auc_is_exact_when_scores_fall_in_distinct_bins_and_merges() -> None:
    y_true = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    y_score = np.array([0.05, 0.95, 0.35, 0.25, 0.75, 0.65, 0.55, 0.15])
    auc = (
        RocAuc(bins=10)
        .update(y_true[:3], y_score[:3])
        .merge(RocAuc(bins=10).update(y_true[3:], y_score[3:]))
    )
    assert auc.error_bound() == 0
    assert auc.value() == skm.roc_auc_score(y_true, y_score)


def test_roc_auc_with_one_class_is_undefined_not_an_error() -> None:
    auc = RocAuc().update([1, 1, 1], [0.2, 0.5, 0.9])
    assert auc.value() is None
    assert auc.error_bound() is None


def test_roc_auc_rejects_scores_outside_unit_interval_and_nan() -> None:
    with pytest.raises(InvalidArgumentError, match=r"y_score: probabilities must lie in \[0, 1\]"):
        RocAuc().update([0, 1], [-0.5, 2.0])
    with pytest.raises(InvalidArgumentError, match="y_score: 1 NaN"):
        RocAuc().update([0, 1], [0.5, np.nan])
    with pytest.raises(InvalidArgumentError, match="bins"):
        RocAuc(bins=10).merge(RocAuc(bins=20))


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=60), st.integers(0, 60))
def test_regression_errors_equal_sklearn_and_merge(
    rows: list[tuple[float, float]], cut: int
) -> None:
    y_true = np.array([r[0] for r in rows])
    y_pred = np.array([r[1] for r in rows])
    cases = {
        MeanAbsoluteError: skm.mean_absolute_error(y_true, y_pred),
        RootMeanSquaredError: skm.root_mean_squared_error(y_true, y_pred),
        MeanAbsolutePercentageError: skm.mean_absolute_percentage_error(y_true, y_pred),
    }
    for cls, want in cases.items():
        merged = (
            cls().update(y_true[:cut], y_pred[:cut]).merge(cls().update(y_true[cut:], y_pred[cut:]))
        )
        assert merged.value() == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_regression_rejects_inf() -> None:
    with pytest.raises(InvalidArgumentError, match="y_pred: 0 NaN and 1 infinite"):
        MeanAbsoluteError().update([1.0, 2.0], [1.0, np.inf])
