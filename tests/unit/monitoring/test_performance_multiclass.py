"""Multiclass CBPE: macro estimates track realized performance; labels and shapes are checked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.errors import ConflictError, InvalidArgumentError
from conveyor.monitoring.performance import MulticlassCBPE

CLASSES = ["bird", "cat", "dog"]


def _draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    weights = np.array([[1.5, -1.0, 0.0], [0.0, 1.0, -1.2], [0.8, 0.0, 0.5], [0.0, 0.6, -0.6]])
    features = rng.normal(size=(n, 4))
    features[:, 0] += shift
    logits = features @ weights
    probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cumulative = probability.cumsum(axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return features, np.array(CLASSES)[labels]


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    model = LogisticRegression().fit(*_draw(rng, 4000))
    assert list(model.classes_) == CLASSES
    out: dict[str, Any] = {}
    for name, shift in (("reference", 0.0), ("current", 1.2)):
        features, labels = _draw(rng, 6000, shift)
        out[name] = {
            "y_true": labels,
            "y_pred_proba": model.predict_proba(features),
            "y_pred": model.predict(features),
        }
    return out


def test_macro_estimates_track_realized_under_covariate_shift(problem: dict[str, Any]) -> None:
    cbpe = MulticlassCBPE(
        metrics=("accuracy", "f1", "roc_auc", "precision", "recall"), chunk_size=2000
    )
    records = cbpe.fit(**problem["reference"], classes=CLASSES).estimate(**problem["current"])
    assert len(records) == 15
    for record in records:
        assert record.value is not None
        assert record.realized is not None
        assert abs(record.value - record.realized) < 0.03, record
    accuracy = [r for r in records if r.metric == "accuracy"]
    for record in accuracy:
        assert record.lower is not None
        assert record.upper is not None
        assert record.realized is not None
        assert record.lower <= record.realized <= record.upper


def test_calibrated_rows_sum_to_one(problem: dict[str, Any]) -> None:
    reference = dict(problem["reference"])
    reference["y_pred_proba"] = reference["y_pred_proba"] ** 2  # rows no longer sum to 1
    cbpe = MulticlassCBPE(metrics=("accuracy",), calibration="isotonic").fit(
        **reference, classes=CLASSES
    )
    calibrated = cbpe.calibrate(reference["y_pred_proba"])
    assert np.allclose(calibrated.sum(axis=1), 1.0)


def test_bad_input_names_the_field(problem: dict[str, Any]) -> None:
    reference = problem["reference"]
    with pytest.raises(InvalidArgumentError, match=r"y_true: labels \['cow'\] are not among"):
        MulticlassCBPE().fit(
            **{**reference, "y_true": np.r_[["cow"], reference["y_true"][1:]]}, classes=CLASSES
        )
    with pytest.raises(InvalidArgumentError, match="classes: 2 labels for 3 probability columns"):
        MulticlassCBPE().fit(**reference, classes=CLASSES[:2])
    with pytest.raises(
        InvalidArgumentError, match=r"y_pred_proba: expected class probabilities in \[0, 1\]"
    ):
        MulticlassCBPE().fit(
            **{**reference, "y_pred_proba": reference["y_pred_proba"] * 2}, classes=CLASSES
        )
    rare = np.where(reference["y_true"] == "dog", "cat", reference["y_true"])
    rare[0] = "dog"
    with pytest.raises(InvalidArgumentError, match="class 'dog' has 1 reference rows"):
        MulticlassCBPE().fit(**{**reference, "y_true": rare}, classes=CLASSES)
    with pytest.raises(ConflictError, match="not fitted"):
        MulticlassCBPE().estimate(y_pred_proba=[[0.5, 0.5]], y_pred=[0])
    cbpe = MulticlassCBPE(metrics=("accuracy",)).fit(**reference, classes=CLASSES)
    with pytest.raises(
        InvalidArgumentError, match="y_pred_proba: has 2 columns, the reference had 3"
    ):
        cbpe.estimate(y_pred_proba=[[0.5, 0.5]], y_pred=["cat"])
    with pytest.raises(InvalidArgumentError, match="y_pred_proba: is empty"):
        cbpe.estimate(y_pred_proba=np.zeros((0, 3)), y_pred=[])
