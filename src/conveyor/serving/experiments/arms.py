"""A/B arms: what each arm served and the outcomes posted for it, and the test naming a winner.

An arm's outcomes are the feedback values of the requests it answered (joined by request id
with the predictions log), counted only for the version the arm serves now: when an arm's alias
moves, the old version's outcomes stop counting. A numeric value is the outcome itself (1/0
for a conversion, any number for revenue); a class label counts as 1 when the arm predicted it,
0 otherwise (accuracy). All-0/1 outcomes are tested as proportions (two-proportion z-test),
others as means (Welch t-test); the mSPRT sequential test works on both and may be looked at
any number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import orjson
from sqlalchemy import Engine, and_, select

from conveyor.errors import InvalidArgumentError
from conveyor.rollout import (
    ABTestResult,
    MeanAccumulator,
    ProportionAccumulator,
    msprt_test,
    two_proportion_ztest,
    welch_ttest,
)
from conveyor.serving.routes import RouteTable
from conveyor.serving.windows import SHADOW, read_traffic
from conveyor.store import read, schema

TestName = Literal["sequential", "z", "welch"]
TESTS: tuple[str, ...] = ("sequential", "z", "welch")
DEFAULT_MIN_SAMPLES = 30
_CHUNK = 50_000

_p = schema.serving_predictions
_f = schema.serving_feedback


class ComparisonResult(Protocol):
    """What every test of ``conveyor.rollout`` answers (fixed-horizon or sequential)."""

    @property
    def decision(self) -> str: ...
    @property
    def note(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class Arm:
    """One arm's traffic (from the windows) and outcomes (from feedback)."""

    name: str
    version: int
    weight: float
    requests: int = 0
    errors: int = 0
    outcomes: MeanAccumulator = field(default_factory=MeanAccumulator)
    successes: int = 0  # outcomes equal to 1
    is_binary: bool = True  # every outcome so far is 0 or 1
    labels: int = 0  # outcomes scored from class labels (1 when the arm predicted the label)

    @property
    def n(self) -> int:
        """Outcomes received."""
        return self.outcomes.count

    def accumulator(self, *, binary: bool) -> MeanAccumulator | ProportionAccumulator:
        """The sufficient statistics the tests take."""
        return ProportionAccumulator(self.n, self.successes) if binary else self.outcomes

    def fold(self, values: Sequence[float]) -> None:
        """Add a batch of outcomes."""
        batch = np.asarray(values, dtype=np.float64)
        self.outcomes.update(batch)
        self.successes += int(np.count_nonzero(batch == 1))
        self.is_binary = self.is_binary and bool(np.isin(batch, (0.0, 1.0)).all())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "weight": self.weight,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.errors / self.requests if self.requests else None,
            "outcomes": self.n,
            "mean_outcome": self.outcomes.mean if self.n else None,
        }


def read_arms(
    engine: Engine,
    deployment_id: int,
    table: RouteTable,
    since_ms: int,
    until_ms: int | None = None,
) -> list[Arm]:
    """Every live route of ``table`` as an arm, with traffic and outcomes in [since, until)."""
    arms = [Arm(r.name, r.version, r.weight) for r in table.routes]
    windows = read_traffic(engine, deployment_id, since_ms, until_ms, by_route=True)
    for arm in arms:
        window = windows.get((arm.version, arm.name))
        if window is not None:
            arm.requests, arm.errors = window.requests, window.errors
    _fold_outcomes(engine, deployment_id, arms, since_ms, until_ms)
    return arms


def _fold_outcomes(
    engine: Engine, deployment_id: int, arms: list[Arm], since_ms: int, until_ms: int | None
) -> None:
    """Stream feedback joined to the live predictions, in chunks (memory stays bounded)."""
    by_key = {(a.name, a.version): a for a in arms}
    query = (
        select(_p.c.route, _p.c.version, _p.c.prediction, _f.c.value)
        .select_from(
            _f.join(
                _p,
                and_(_p.c.deployment_id == _f.c.deployment_id, _p.c.request_id == _f.c.request_id),
            )
        )
        .where(_f.c.deployment_id == deployment_id, _p.c.route != SHADOW, _p.c.time >= since_ms)
    )
    if until_ms is not None:
        query = query.where(_p.c.time < until_ms)
    with read(engine) as conn:
        result = conn.execute(query, execution_options={"yield_per": _CHUNK})
        for chunk in result.partitions():
            batches: dict[tuple[str, int], list[float]] = {}
            for route, version, prediction, value in chunk:
                if (route, version) not in by_key:
                    continue
                scored = outcome_of(value, prediction)
                if scored is None:
                    continue
                batches.setdefault((route, version), []).append(scored[0])
                by_key[(route, version)].labels += scored[1]
            for key, values in batches.items():
                by_key[key].fold(values)


def outcome_of(value_json: str, prediction_json: str | None) -> tuple[float, bool] | None:
    """``(outcome, from_label)`` for one feedback value; None when it cannot be scored.

    Examples:
        >>> outcome_of("1", None), outcome_of("12.5", "3"), outcome_of('"cat"', '"cat"')
        ((1.0, False), (12.5, False), (1.0, True))
        >>> outcome_of('"cat"', '["cat","dog"]') is None  # one label, several rows
        True
    """
    value = orjson.loads(value_json)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), False
    if not isinstance(value, str) or prediction_json is None:
        return None
    predicted = orjson.loads(prediction_json)
    if isinstance(predicted, list | dict):
        return None
    return float(predicted == value or str(predicted) == value), True


@dataclass(frozen=True)
class ABOptions:
    """How arms are compared."""

    test: TestName = "sequential"
    alpha: float = 0.05
    min_samples: int = DEFAULT_MIN_SAMPLES
    higher_is_better: bool = True


def is_binary(arms: Sequence[Arm]) -> bool:
    """Whether the arms' outcomes are all 0/1 (proportions rather than means)."""
    return all(a.is_binary for a in arms)


def compare(a: Arm, b: Arm, options: ABOptions, *, binary: bool) -> ComparisonResult:
    """Test arm ``b`` against arm ``a`` with ``options.test``."""
    if options.test == "sequential":
        return msprt_test(
            a.accumulator(binary=binary),
            b.accumulator(binary=binary),
            alpha=options.alpha,
            min_samples_per_arm=max(2, options.min_samples),
            higher_is_better=options.higher_is_better,
        )
    if options.test not in TESTS:
        msg = f"test must be one of {list(TESTS)}; got {options.test!r}"
        raise InvalidArgumentError(msg, field="test")
    if options.test == "z" and not binary:
        msg = "the z-test compares 0/1 outcomes; these outcomes are numbers: use welch"
        raise InvalidArgumentError(msg, field="test")
    return _fixed(a, b, options, z=options.test == "z")


def fixed_test(a: Arm, b: Arm, options: ABOptions, *, binary: bool) -> ABTestResult:
    """The fixed-horizon test suited to the outcomes: z for 0/1, Welch for numbers."""
    return _fixed(a, b, options, z=binary)


def _fixed(a: Arm, b: Arm, options: ABOptions, *, z: bool) -> ABTestResult:
    if z:
        return two_proportion_ztest(
            ProportionAccumulator(a.n, a.successes),
            ProportionAccumulator(b.n, b.successes),
            alpha=options.alpha,
            higher_is_better=options.higher_is_better,
        )
    return welch_ttest(
        a.outcomes, b.outcomes, alpha=options.alpha, higher_is_better=options.higher_is_better
    )


@dataclass(frozen=True)
class Decision:
    """Which arm won (None while none has), and why."""

    winner: Arm | None
    note: str


def decide(arms: Sequence[Arm], options: ABOptions) -> Decision:
    """Name the arm that significantly beats every other arm, each with >= min_samples.

    The winner must win each of its pairwise tests at ``alpha`` (an intersection-union test,
    so no multiplicity correction is needed for the claim "it beats all the others").
    """
    if len(arms) < 2:
        return Decision(None, "an A/B decision needs two arms or more")
    short = [a for a in arms if a.n < options.min_samples]
    if short:
        have = ", ".join(f"{a.name} {a.n}" for a in arms)
        note = f"waiting for {options.min_samples} outcomes per arm ({have})"
        return Decision(None, note)
    binary = is_binary(arms)
    beaten: dict[str, set[str]] = {a.name: set() for a in arms}
    notes = []
    for i, a in enumerate(arms):
        for b in arms[i + 1 :]:
            result = compare(a, b, options, binary=binary)
            notes.append(f"{b.name} vs {a.name}: {result.note}")
            if result.decision == "a_wins":
                beaten[a.name].add(b.name)
            elif result.decision == "b_wins":
                beaten[b.name].add(a.name)
    for arm in arms:
        if len(beaten[arm.name]) == len(arms) - 1:
            return Decision(arm, f"{arm.name} (v{arm.version}) wins; " + "; ".join(notes))
    return Decision(None, "no arm beats every other yet; " + "; ".join(notes))


def samples_more(result: ABTestResult) -> int | None:
    """Outcomes per arm still needed by the fixed-horizon size, when it can be sized."""
    if result.samples_needed_per_arm is None:
        return None
    return max(0, result.samples_needed_per_arm - min(result.n_a, result.n_b))
