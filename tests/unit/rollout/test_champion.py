"""Champion/challenger report: agreement, shift (monitoring stats), latency, errors, metric CI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.stats import psi_from_counts, quantile_edges
from conveyor.rollout.champion import ShadowArm, champion_challenger_report
from conveyor.rollout.latency import LatencyHistogram

RNG = np.random.default_rng(7)


def _regression_pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth = RNG.normal(100.0, 10.0, n)
    return truth, truth + RNG.normal(0, 3.0, n), truth + RNG.normal(0.5, 2.5, n)


def test_regression_agreement_uses_absolute_and_relative_tolerance() -> None:
    champion = ShadowArm(predictions=[10.0, 20.0, 30.0, 40.0])
    challenger = ShadowArm(predictions=[10.0, 20.5, 31.0, 44.0])
    exact = champion_challenger_report(champion, challenger, task="regression")
    assert exact.agreement_rate == 0.25
    loose = champion_challenger_report(
        champion, challenger, task="regression", tolerance=0.5, relative_tolerance=0.05
    )
    assert loose.agreement_rate == 0.75  # |diff| <= 0.5 + 5 % of the champion


def test_classification_agreement_counts_equal_labels() -> None:
    report = champion_challenger_report(
        ShadowArm(predictions=["cat", "dog", "cat", "bird"]),
        ShadowArm(predictions=["cat", "cat", "cat", "bird"]),
        task="classification",
    )
    assert report.agreement_rate == 0.75
    assert report.n_pairs == 4


def test_prediction_shift_is_monitoring_psi_and_js_on_champion_quantiles() -> None:
    _, champ, chal = _regression_pairs(4_000)
    report = champion_challenger_report(
        ShadowArm(predictions=champ), ShadowArm(predictions=chal), task="regression", bins=10
    )
    edges = quantile_edges(champ, 10)
    ref = np.bincount(np.searchsorted(edges, champ, side="right"), minlength=edges.size + 1)
    cur = np.bincount(np.searchsorted(edges, chal, side="right"), minlength=edges.size + 1)
    assert report.prediction_shift is not None
    assert report.prediction_shift.psi == pytest.approx(psi_from_counts(ref, cur), abs=1e-12)
    assert report.prediction_shift.js_distance == pytest.approx(
        distance.jensenshannon(ref / ref.sum(), cur / cur.sum()), abs=1e-9
    )
    assert report.prediction_shift.bins == 10


def test_classification_shift_counts_one_bin_per_class() -> None:
    report = champion_challenger_report(
        ShadowArm(predictions=[0, 0, 1, 1]),
        ShadowArm(predictions=[0, 1, 1, 2]),
        task="classification",
    )
    assert report.prediction_shift is not None
    assert report.prediction_shift.bins == 3
    assert report.prediction_shift.psi == pytest.approx(psi_from_counts([2, 2, 0], [1, 2, 1]))


def test_latency_deltas_from_samples_and_from_histograms() -> None:
    samples = champion_challenger_report(
        ShadowArm(predictions=[1.0, 2.0], latency_s=np.linspace(0.01, 0.02, 101)),
        ShadowArm(predictions=[1.0, 2.0], latency_s=np.linspace(0.02, 0.04, 101)),
        task="regression",
    )
    assert samples.latency.champion_p50_s == pytest.approx(0.015)
    assert samples.latency.p50_delta_s == pytest.approx(0.015)
    assert samples.latency.p99_delta_s == pytest.approx(0.0398 - 0.0199)
    bounds = (0.1, 0.2, math.inf)
    hist = champion_challenger_report(
        ShadowArm(predictions=[1.0], latency_s=LatencyHistogram(bounds, (90, 10, 0))),
        ShadowArm(predictions=[1.0], latency_s=None),
        task="regression",
    )
    assert hist.latency.champion_p99_s == pytest.approx(0.19)
    assert (hist.latency.challenger_p99_s, hist.latency.p99_delta_s) == (None, None)


def test_error_rate_delta_has_a_two_proportion_interval() -> None:
    report = champion_challenger_report(
        ShadowArm(predictions=np.zeros(1_980), errors=20),
        ShadowArm(predictions=np.zeros(1_980), requests=2_000, errors=60),
        task="regression",
    )
    result = report.error_rate
    assert (result.n_a, result.n_b) == (2_000, 2_000)
    assert result.difference == pytest.approx(0.02)
    assert result.ci is not None
    assert result.ci[0] > 0
    assert result.decision == "a_wins"  # a = champion: fewer errors is better


def test_accuracy_difference_equals_scipy_paired_interval() -> None:
    truth = RNG.integers(0, 3, 2_000)
    champ = np.where(RNG.random(2_000) < 0.8, truth, (truth + 1) % 3)
    chal = np.where(RNG.random(2_000) < 0.85, truth, (truth + 2) % 3)
    labels = truth.astype(object)
    labels[::7] = None  # labels not yet arrived
    report = champion_challenger_report(
        ShadowArm(predictions=champ), ShadowArm(predictions=chal),
        task="classification", labels=labels,
    )  # fmt: skip
    known = np.array([v is not None for v in labels])
    champ_ok = (champ[known] == truth[known]).astype(float)
    chal_ok = (chal[known] == truth[known]).astype(float)
    ci = stats.ttest_rel(chal_ok, champ_ok).confidence_interval(0.95)
    metric = report.metric
    assert metric is not None
    assert (metric.metric, metric.n_labeled, metric.method) == (
        "accuracy",
        known.sum(),
        "paired_normal",
    )
    assert metric.champion == pytest.approx(champ_ok.mean())
    assert metric.difference == pytest.approx(chal_ok.mean() - champ_ok.mean(), abs=1e-12)
    assert metric.ci == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_mae_difference_equals_scipy_and_names_the_better_model() -> None:
    truth, champ, chal = _regression_pairs(3_000)
    labels = truth.copy()
    labels[:100] = np.nan
    report = champion_challenger_report(
        ShadowArm(predictions=champ), ShadowArm(predictions=chal),
        task="regression", labels=labels, confidence=0.9,
    )  # fmt: skip
    champ_err, chal_err = np.abs(champ - truth)[100:], np.abs(chal - truth)[100:]
    ci = stats.ttest_rel(chal_err, champ_err).confidence_interval(0.9)
    metric = report.metric
    assert metric is not None
    assert metric.metric == "mae"
    assert metric.ci == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert metric.challenger < metric.champion
    assert metric.verdict == "challenger_better"


def test_bootstrap_interval_is_seeded_and_close_to_the_normal_one() -> None:
    truth, champ, chal = _regression_pairs(2_000)
    kwargs = {"task": "regression", "labels": truth, "metric_ci": "paired_bootstrap"}
    arms = (ShadowArm(predictions=champ), ShadowArm(predictions=chal))
    first = champion_challenger_report(*arms, seed=3, **kwargs)  # type: ignore[arg-type]
    again = champion_challenger_report(*arms, seed=3, **kwargs)  # type: ignore[arg-type]
    normal = champion_challenger_report(*arms, task="regression", labels=truth)
    assert first.metric is not None
    assert normal.metric is not None
    assert first.metric == again.metric
    assert first.metric.method == "paired_bootstrap"
    assert first.metric.ci is not None
    assert normal.metric.ci is not None
    width = normal.metric.ci[1] - normal.metric.ci[0]
    assert first.metric.ci == pytest.approx(normal.metric.ci, abs=0.1 * width)


def test_no_pairs_and_no_labels_give_empty_sections_not_errors() -> None:
    report = champion_challenger_report(
        ShadowArm(predictions=[], errors=3),
        ShadowArm(predictions=[], errors=0, requests=3),
        task="regression",
        labels=[],
    )
    assert (report.n_pairs, report.agreement_rate, report.prediction_shift) == (0, None, None)
    assert report.metric is None
    assert report.error_rate.difference == pytest.approx(-1.0)
    one = champion_challenger_report(
        ShadowArm(predictions=[1.0]), ShadowArm(predictions=[2.0]), task="regression", labels=[1.0]
    )
    assert one.metric is not None
    assert (one.metric.ci, one.metric.verdict) == (None, "inconclusive")


def test_report_to_dict_is_strict_json() -> None:
    truth, champ, chal = _regression_pairs(200)
    report = champion_challenger_report(
        ShadowArm(predictions=champ, latency_s=[0.01, 0.02]),
        ShadowArm(predictions=chal, latency_s=[0.02, 0.03], errors=2),
        task="regression", labels=truth,
    )  # fmt: skip
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(data) == {
        "task", "n_pairs", "agreement_rate", "prediction_shift", "latency", "error_rate", "metric",
    }  # fmt: skip
    assert data["metric"]["ci"] == list(report.metric.ci)  # type: ignore[union-attr, arg-type]
    assert data["error_rate"]["n_b"] == 202


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "ranking"}, "task must be 'classification' or 'regression'"),
        ({"metric_ci": "exact"}, "metric_ci must be 'paired_normal' or 'paired_bootstrap'"),
        ({"confidence": 95}, "confidence must be a number strictly between 0 and 1"),
        ({"tolerance": -1.0}, "tolerance must be a finite number >= 0"),
        ({"labels": [1.0, 2.0]}, "labels must align with the 3 prediction pairs"),
        ({"labels": [1.0, math.inf, 2.0]}, "use NaN for labels not yet known"),
        ({"metric_ci": "paired_bootstrap", "labels": [1.0] * 3, "n_resamples": 10}, ">= 100"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], match: str) -> None:
    options: dict[str, object] = {"task": "regression", **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        champion_challenger_report(
            ShadowArm(predictions=[1.0, 2.0, 3.0]),
            ShadowArm(predictions=[1.0, 2.0, 3.5]),
            **options,  # type: ignore[arg-type]
        )


def test_unpaired_predictions_and_impossible_counts_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="champion has 2, challenger 1"):
        champion_challenger_report(
            ShadowArm(predictions=[1, 2]), ShadowArm(predictions=[1]), task="classification"
        )
    with pytest.raises(InvalidArgumentError, match=r"champion.errors \(5\) cannot exceed"):
        champion_challenger_report(
            ShadowArm(predictions=[1.0], requests=2, errors=5),
            ShadowArm(predictions=[1.0]),
            task="regression",
        )
