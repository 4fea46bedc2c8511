"""CBPE: estimates track realized performance under covariate shift; bad input fails clearly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import CBPE, EstimatedMetric
from conveyor.monitoring.performance.calibration import expected_calibration_error
from conveyor.monitoring.performance.expected import ExpectedConfusion, expected_roc_auc

WEIGHTS = np.array([1.5, -1.0, 0.5, 0.0, 0.8])


def _draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    features = rng.normal(size=(n, len(WEIGHTS)))
    features[:, 0] += shift
    logit = features @ WEIGHTS + 0.3
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return features, labels


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    """A logistic model trained on one sample, a reference and a covariate-shifted current."""
    rng = np.random.default_rng(7)
    model = LogisticRegression().fit(*_draw(rng, 4000))
    out: dict[str, Any] = {}
    for name, shift in (("reference", 0.0), ("current", 1.5)):
        features, labels = _draw(rng, 6000, shift)
        out[name] = {
            "y_true": labels,
            "y_pred_proba": model.predict_proba(features)[:, 1],
            "y_pred": model.predict(features),
        }
    return out


def _by_metric(records: list[EstimatedMetric]) -> dict[str, list[EstimatedMetric]]:
    out: dict[str, list[EstimatedMetric]] = {}
    for record in records:
        out.setdefault(record.metric, []).append(record)
    return out


def test_estimates_track_realized_performance_under_covariate_shift(
    problem: dict[str, Any],
) -> None:
    cbpe = CBPE(metrics=("accuracy", "f1", "roc_auc"), chunk_size=2000).fit(**problem["reference"])
    records = _by_metric(cbpe.estimate(**problem["current"]))
    shifted = problem["current"]
    realized_accuracy = float(np.mean(shifted["y_true"] == shifted["y_pred"]))
    reference_accuracy = float(
        np.mean(problem["reference"]["y_true"] == problem["reference"]["y_pred"])
    )
    assert abs(realized_accuracy - reference_accuracy) > 0.03  # the shift does change performance
    for name, tolerance in (("accuracy", 0.03), ("f1", 0.03), ("roc_auc", 0.03)):
        assert len(records[name]) == 3
        for record in records[name]:
            assert record.realized is not None
            assert record.value is not None
            assert abs(record.value - record.realized) < tolerance, (name, record)
    # 3-sigma bands hold the realized accuracy; ROC AUC's bands are narrower than its error under
    # shift (NannyML's reference-based sampling error; ~92 % coverage measured on 100 chunks).
    for record in records["accuracy"]:
        assert record.lower is not None
        assert record.upper is not None
        assert record.realized is not None
        assert record.lower <= record.realized <= record.upper


def test_whole_window_accuracy_estimate_is_within_003(problem: dict[str, Any]) -> None:
    cbpe = CBPE(metrics=("accuracy",)).fit(**problem["reference"])
    [record] = cbpe.estimate(**problem["current"])
    assert record.chunk.size == 6000
    assert (record.lower_threshold, record.upper_threshold, record.is_alert) == (None, None, False)
    assert record.realized is not None
    assert record.value is not None
    assert abs(record.value - record.realized) < 0.03


def test_confusion_matrix_cells_add_up_to_the_chunk(problem: dict[str, Any]) -> None:
    cbpe = CBPE(metrics=("confusion_matrix", "precision", "recall"), chunk_size=1500)
    records = cbpe.fit(**problem["reference"]).estimate(**problem["current"])
    by_chunk: dict[int, float] = {}
    for record in records:
        if record.metric.endswith(("_positive", "_negative")):
            assert record.value is not None
            by_chunk[record.chunk.index] = by_chunk.get(record.chunk.index, 0.0) + record.value
    assert by_chunk == pytest.approx(dict.fromkeys(range(4), 1500.0))
    for record in records:
        assert record.value is not None
        assert record.realized is not None
        scale = 1500 if record.metric.endswith(("_positive", "_negative")) else 1
        assert abs(record.value - record.realized) / scale < 0.03


def test_band_is_three_sampling_errors_and_shrinks_with_chunk_size(problem: dict[str, Any]) -> None:
    cbpe = CBPE(metrics=("accuracy",), chunk_size=1000).fit(**problem["reference"])
    records = cbpe.estimate(**{k: v[:2500] for k, v in problem["current"].items()})
    full, partial = records[0], records[2]
    assert partial.chunk.size == 500
    assert partial.sampling_error == pytest.approx(full.sampling_error * np.sqrt(2))
    assert full.value is not None
    assert full.upper is not None
    assert full.upper - full.value == pytest.approx(3 * full.sampling_error)


def test_alert_thresholds_come_from_reference_chunks(problem: dict[str, Any]) -> None:
    reference = problem["reference"]
    cbpe = CBPE(metrics=("accuracy",), chunk_size=1000).fit(**reference)
    correct = (reference["y_true"] == reference["y_pred"]).reshape(6, 1000).mean(axis=1)
    thresholds = cbpe.thresholds_["accuracy"]
    assert thresholds.lower == pytest.approx(correct.mean() - 3 * correct.std())
    assert thresholds.upper == pytest.approx(min(correct.mean() + 3 * correct.std(), 1.0))


def test_calibration_is_applied_when_scores_are_miscalibrated(problem: dict[str, Any]) -> None:
    reference = dict(problem["reference"])
    reference["y_pred_proba"] = reference["y_pred_proba"] ** 3  # monotone, badly calibrated
    cbpe = CBPE(metrics=("accuracy",)).fit(**reference)
    assert cbpe.needs_calibration_
    calibrated = cbpe.calibrate(reference["y_pred_proba"])
    before = expected_calibration_error(reference["y_true"], reference["y_pred_proba"])
    after = expected_calibration_error(reference["y_true"], calibrated)
    assert after < before / 3


def test_expected_metrics_on_a_hand_example() -> None:
    y_pred = np.array([1, 1, 0, 0])
    probability = np.array([0.9, 0.6, 0.3, 0.0])
    expected = ExpectedConfusion.of(y_pred, probability)
    assert (expected.tp, expected.fp, expected.fn, expected.tn) == pytest.approx(
        (1.5, 0.5, 0.3, 1.7)
    )
    assert expected.accuracy() == pytest.approx(0.8)
    assert expected.f1() == pytest.approx(1.5 / (1.5 + 0.4))
    assert expected_roc_auc(np.zeros(3), np.array([0.1, 0.5, 0.9])) is None


@pytest.mark.parametrize(
    ("overrides", "field", "match"),
    [
        ({"y_true": np.ones(6000, dtype=int)}, "y_true", "0 rows of class 0"),
        ({"y_pred_proba": np.r_[np.nan, np.full(5999, 0.5)]}, "y_pred_proba", "1 NaN"),
        ({"y_pred": np.zeros(100, dtype=int)}, "y_pred_proba", "y_pred_proba=6000, y_pred=100"),
        ({"y_pred_proba": np.full(6000, 1.5)}, "y_pred_proba", r"\[0, 1\]"),
        ({"y_pred": np.full(6000, 2)}, "y_pred", "must be 0 or 1"),
    ],
)
def test_bad_reference_is_rejected_with_the_field_named(
    problem: dict[str, Any], overrides: dict[str, Any], field: str, match: str
) -> None:
    reference = {**problem["reference"], **overrides}
    with pytest.raises(InvalidArgumentError, match=match) as info:
        CBPE().fit(**reference)
    assert info.value.field == field


def test_reference_with_one_row_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="has 1 row; at least 20 rows") as info:
        CBPE().fit(y_true=[1], y_pred_proba=[0.7], y_pred=[1])
    assert info.value.field == "y_pred_proba"


def test_empty_window_and_bad_config_are_rejected(problem: dict[str, Any]) -> None:
    cbpe = CBPE(metrics=("accuracy",)).fit(**problem["reference"])
    with pytest.raises(InvalidArgumentError, match="y_pred_proba: is empty"):
        cbpe.estimate(y_pred_proba=[], y_pred=[])
    with pytest.raises(InvalidArgumentError, match="unknown metric 'auc'"):
        CBPE(metrics=("auc",)).fit(**problem["reference"])
    with pytest.raises(InvalidArgumentError, match="chunk_size"):
        CBPE(chunk_size=0).fit(**problem["reference"])
    with pytest.raises(ConflictError, match="not fitted"):
        CBPE().estimate(y_pred_proba=[0.5], y_pred=[1])


def test_one_class_chunk_has_no_realized_roc_auc(problem: dict[str, Any]) -> None:
    cbpe = CBPE(metrics=("roc_auc",)).fit(**problem["reference"])
    [record] = cbpe.estimate(y_pred_proba=[0.2, 0.7, 0.9], y_pred=[0, 1, 1], y_true=[1, 1, 1])
    assert record.realized is None
    assert record.value is not None
