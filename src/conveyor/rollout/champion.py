"""Champion/challenger (shadow) report from paired predictions of two models.

In shadow mode the challenger answers a copy of every request and its answers are kept, never
returned. The report compares the pairs where both answered: how often they agree, how far
apart their prediction distributions are, latency and error-rate deltas, and, for the pairs
whose labels have arrived, the difference in accuracy (classifiers) or MAE (regressors) with a
paired confidence interval. Differences are always ``challenger - champion``.

>>> report = champion_challenger_report(
...     ShadowArm(predictions=[0, 1, 1, 0, 1, 0]),
...     ShadowArm(predictions=[0, 1, 0, 0, 1, 1]),
...     task="classification",
...     labels=[0, 1, 0, 0, 1, None],
... )
>>> round(report.agreement_rate, 4), report.metric.champion, report.metric.challenger
(0.6667, 0.8, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError
from conveyor.rollout._json_safe import json_safe
from conveyor.rollout._validation import FloatArray, as_values, check_count, check_open_unit
from conveyor.rollout.abtest import ABTestResult, two_proportion_ztest
from conveyor.rollout.accumulators import ProportionAccumulator
from conveyor.rollout.latency import LatencyInput, latency_quantile
from conveyor.rollout.prediction_shift import PredictionShift, prediction_shift

Task = Literal["classification", "regression"]
MetricCI = Literal["paired_normal", "paired_bootstrap"]
Verdict = Literal["challenger_better", "champion_better", "inconclusive"]
_BOOTSTRAP_CHUNK_VALUES = 4_000_000  # resampled values held in memory at once


@dataclass(frozen=True)
class ShadowArm:
    """One model's side of a shadow window.

    ``predictions`` are paired by position with the other arm's (the requests both answered);
    ``requests`` counts every request the model received, ``errors`` those it failed, and it
    defaults to ``len(predictions) + errors``. ``latency_s`` is samples or a histogram.
    """

    predictions: Any
    latency_s: LatencyInput | None = None
    requests: int | None = None
    errors: int = 0


@dataclass(frozen=True)
class LatencyComparison:
    """p50 and p99 latency of each model in seconds, and challenger minus champion."""

    champion_p50_s: float | None
    challenger_p50_s: float | None
    p50_delta_s: float | None
    champion_p99_s: float | None
    challenger_p99_s: float | None
    p99_delta_s: float | None


@dataclass(frozen=True)
class MetricDifference:
    """Accuracy (higher is better) or MAE (lower is better) on the labelled pairs."""

    metric: Literal["accuracy", "mae"]
    n_labeled: int
    champion: float
    challenger: float
    difference: float
    ci: tuple[float, float] | None
    confidence: float
    method: MetricCI
    verdict: Verdict


@dataclass(frozen=True)
class ChampionChallengerReport:
    """The shadow report; ``error_rate`` is a two-proportion test with a = champion."""

    task: Task
    n_pairs: int
    agreement_rate: float | None
    prediction_shift: PredictionShift | None
    latency: LatencyComparison
    error_rate: ABTestResult
    metric: MetricDifference | None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        result: dict[str, Any] = json_safe(self)
        return result


def champion_challenger_report(
    champion: ShadowArm,
    challenger: ShadowArm,
    *,
    task: Task,
    labels: Any = None,
    tolerance: float = 0.0,
    relative_tolerance: float = 0.0,
    bins: int = 10,
    confidence: float = 0.95,
    metric_ci: MetricCI = "paired_normal",
    n_resamples: int = 2_000,
    seed: int | None = None,
) -> ChampionChallengerReport:
    """Compare a challenger with the champion on paired shadow predictions.

    Regression predictions agree when ``|challenger - champion| <= tolerance +
    relative_tolerance * |champion|``; class labels agree when equal. Prediction shift is PSI
    and Jensen-Shannon distance on ``bins`` quantile bins of the champion's predictions (one
    bin per class for classifiers). ``labels`` align with the pairs, None or NaN where not
    yet known. ``metric_ci="paired_normal"`` is the paired t interval (``scipy.stats.ttest_rel``);
    ``"paired_bootstrap"`` resamples pairs ``n_resamples`` times (percentile interval, ``seed``).
    """
    if task not in ("classification", "regression"):
        msg = f"task must be 'classification' or 'regression', got {task!r}"
        raise InvalidArgumentError(msg, field="task")
    if metric_ci not in ("paired_normal", "paired_bootstrap"):
        msg = f"metric_ci must be 'paired_normal' or 'paired_bootstrap', got {metric_ci!r}"
        raise InvalidArgumentError(msg, field="metric_ci")
    check_open_unit(confidence, "confidence")
    champ, chal = _paired(champion.predictions, challenger.predictions, task)
    n_pairs = len(champ)
    agreement = None
    shift = None
    if n_pairs:
        agreement = _agreement(champ, chal, task, tolerance, relative_tolerance)
        shift = prediction_shift(champ, chal, categorical=task == "classification", bins=bins)
    metric = None
    if labels is not None and n_pairs:
        scores = _paired_scores(champ, chal, labels, task)
        options = _MetricOptions(confidence, metric_ci, n_resamples, seed)
        metric = _metric_difference(*scores, task=task, options=options)
    return ChampionChallengerReport(
        task=task,
        n_pairs=n_pairs,
        agreement_rate=agreement,
        prediction_shift=shift,
        latency=_latency(champion.latency_s, challenger.latency_s),
        error_rate=_error_rate(champion, challenger, n_pairs, 1 - confidence),
        metric=metric,
    )


@dataclass(frozen=True)
class _MetricOptions:
    confidence: float
    method: MetricCI
    n_resamples: int
    seed: int | None


def _paired(champion: Any, challenger: Any, task: Task) -> tuple[Any, Any]:
    if task == "regression":
        champ: Any = as_values(champion, "champion.predictions")
        chal: Any = as_values(challenger, "challenger.predictions")
    else:
        champ, chal = _labels(champion, "champion"), _labels(challenger, "challenger")
    if len(champ) != len(chal):
        msg = (
            f"predictions are paired by request: champion has {len(champ)}, challenger "
            f"{len(chal)}; pass only the requests both models answered"
        )
        raise InvalidArgumentError(msg, field="challenger.predictions")
    return champ, chal


def _labels(values: Any, name: str) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        msg = f"{name}.predictions must be 1-D class labels, got shape {array.shape}"
        raise InvalidArgumentError(msg, field=f"{name}.predictions")
    return array if array.dtype.kind in "biuf" else array.astype(object)


def _agreement(champ: Any, chal: Any, task: Task, tolerance: float, relative: float) -> float:
    if task == "classification":
        return float(np.mean(_equal(champ, chal)))
    for name, value in (("tolerance", tolerance), ("relative_tolerance", relative)):
        if not (isinstance(value, int | float) and 0 <= value < math.inf):
            msg = f"{name} must be a finite number >= 0, got {value!r}"
            raise InvalidArgumentError(msg, field=name)
    return float(np.mean(np.abs(chal - champ) <= tolerance + relative * np.abs(champ)))


def _equal(left: npt.NDArray[Any], right: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if left.dtype.kind in "biuf" and right.dtype.kind in "biuf":
        return np.asarray(left == right)
    return np.asarray(left.astype(object) == right.astype(object), dtype=bool)


def _paired_scores(champ: Any, chal: Any, labels: Any, task: Task) -> tuple[FloatArray, FloatArray]:
    """Per-pair scores on labelled pairs: correct (0/1) for classifiers, |error| for regressors."""
    array = np.asarray(labels, dtype=np.float64 if task == "regression" else object)
    if array.shape != (len(champ),):
        msg = f"labels must align with the {len(champ)} prediction pairs, got shape {array.shape}"
        raise InvalidArgumentError(msg, field="labels")
    known = ~_missing(array)
    if task == "regression":
        if np.isinf(array).any():
            msg = "labels have infinite values; use NaN for labels not yet known"
            raise InvalidArgumentError(msg, field="labels")
        truth = array[known]
        return np.abs(champ[known] - truth), np.abs(chal[known] - truth)
    truth = array[known]
    champ_ok = _equal(champ[known], truth).astype(np.float64)
    return champ_ok, _equal(chal[known], truth).astype(np.float64)


def _missing(labels: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if labels.dtype.kind == "f":
        return np.asarray(np.isnan(labels), dtype=bool)
    return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in labels], bool)


def _metric_difference(
    champ: FloatArray,
    chal: FloatArray,
    *,
    task: Task,
    options: _MetricOptions,
) -> MetricDifference | None:
    if champ.size == 0:
        return None
    diffs = chal - champ
    if options.method == "paired_normal":
        ci = _paired_t_interval(diffs, options.confidence)
    else:
        ci = _paired_bootstrap_interval(
            diffs, options.confidence, options.n_resamples, options.seed
        )
    higher_is_better = task == "classification"
    verdict: Verdict = "inconclusive"
    if ci is not None and (ci[0] > 0 or ci[1] < 0):
        challenger_ahead = (ci[0] > 0) == higher_is_better
        verdict = "challenger_better" if challenger_ahead else "champion_better"
    return MetricDifference(
        metric="accuracy" if higher_is_better else "mae",
        n_labeled=int(champ.size),
        champion=float(champ.mean()),
        challenger=float(chal.mean()),
        difference=float(diffs.mean()),
        ci=ci,
        confidence=options.confidence,
        method=options.method,
        verdict=verdict,
    )


def _paired_t_interval(diffs: FloatArray, confidence: float) -> tuple[float, float] | None:
    if diffs.size < 2:
        return None
    from scipy.special import stdtrit  # lazy: scipy is heavy to import

    mean = float(diffs.mean())
    se = float(diffs.std(ddof=1)) / math.sqrt(diffs.size)
    half = float(stdtrit(diffs.size - 1, (1 + confidence) / 2)) * se
    return (mean - half, mean + half)


def _paired_bootstrap_interval(
    diffs: FloatArray, confidence: float, n_resamples: int, seed: int | None
) -> tuple[float, float] | None:
    """Percentile bootstrap of the mean pair difference (Efron & Tibshirani 1993, ch. 13)."""
    if check_count(n_resamples, "n_resamples") < 100:
        msg = f"n_resamples must be >= 100 for a stable interval, got {n_resamples}"
        raise InvalidArgumentError(msg, field="n_resamples")
    if diffs.size < 2:
        return None
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_VALUES // diffs.size)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        index = rng.integers(0, diffs.size, size=(stop - start, diffs.size))
        means[start:stop] = diffs[index].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def _latency(champion: LatencyInput | None, challenger: LatencyInput | None) -> LatencyComparison:
    values: list[float | None] = []
    for q in (0.5, 0.99):
        champ = None if champion is None else latency_quantile(champion, q)
        chal = None if challenger is None else latency_quantile(challenger, q)
        delta = None if champ is None or chal is None else chal - champ
        values += [champ, chal, delta]
    return LatencyComparison(*values)


def _error_rate(
    champion: ShadowArm, challenger: ShadowArm, n_pairs: int, alpha: float
) -> ABTestResult:
    arms = []
    for name, arm in (("champion", champion), ("challenger", challenger)):
        errors = check_count(arm.errors, f"{name}.errors")
        requests = n_pairs + errors if arm.requests is None else arm.requests
        if check_count(requests, f"{name}.requests") < errors:
            msg = f"{name}.errors ({errors}) cannot exceed {name}.requests ({requests})"
            raise InvalidArgumentError(msg, field=f"{name}.errors")
        arms.append(ProportionAccumulator(requests, errors))
    return two_proportion_ztest(arms[0], arms[1], alpha=alpha, higher_is_better=False)
