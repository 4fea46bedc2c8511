"""A progressive rollout as stored: its record, the checks on its configuration, its history.

``conveyor.serving.rollouts`` moves rollouts; this module holds what they are made of, so the
REST routes and the SDK client can name them without loading the analysis stack (NumPy).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from conveyor.errors import InvalidArgumentError

if TYPE_CHECKING:
    from conveyor.rollout import AnalysisThresholds
    from conveyor.rollout.analysis import StepAnalysis

# Active (finished_time NULL): starting (routing the first step), running, promoting (moving
# the alias after the last step). The two short phases let a decision and its traffic change be
# claimed before they happen; a controller that dies inside one is resumed after STALE_MS.
STARTING, RUNNING, PROMOTING = "starting", "running", "promoting"
SUCCEEDED, FAILED, ABORTED = "succeeded", "failed", "aborted"
# Every step passed but the alias needs approvals: a promotion request is open in the registry,
# and approving it moves the alias (the deployment follows); traffic is back on the primary.
PENDING_APPROVAL = "pending_approval"
STATUSES = (STARTING, RUNNING, PROMOTING, SUCCEEDED, FAILED, ABORTED, PENDING_APPROVAL)
DEFAULT_STEPS = (5.0, 25.0, 50.0, 100.0)
DEFAULT_INTERVAL_S = 60.0
MAX_INTERVAL_S = 7 * 86_400
MAX_MIN_REQUESTS = 10**9
TIMEOUT_INTERVALS = 10  # a step that never gets enough requests fails after 10 intervals
STALE_MS = 60_000


class Rollout(BaseModel):
    """A rollout as stored, with the live figures of its current step when asked for."""

    model_config = ConfigDict(frozen=True)

    rollout_id: int
    deployment: str
    project: str
    candidate_version: int
    primary_version: int
    steps: list[float]
    interval_s: float
    thresholds: dict[str, Any]
    step_index: int
    status: str
    reason: str = ""
    history: list[dict[str, Any]] = Field(default_factory=list)
    created_by: str = ""
    started_time: int
    step_started_time: int
    finished_time: int | None = None
    progress: dict[str, Any] | None = None
    deployment_id: int = Field(default=0, exclude=True)  # the store's key, never sent

    @property
    def percent(self) -> float:
        """The candidate's share of traffic at the current step."""
        return self.steps[self.step_index]

    @property
    def is_active(self) -> bool:
        """Starting, running, or promoting after its last step passed."""
        return self.status in (STARTING, RUNNING, PROMOTING)

    @property
    def interval_ms(self) -> int:
        return int(self.interval_s * 1000)


class Judged(NamedTuple):
    """A step's analysis and what it was computed from."""

    analysis: StepAnalysis
    candidate_requests: int
    primary_requests: int
    baseline: tuple[int, int] | None  # the primary's window at the 100 % step


# -- validation ------------------------------------------------------------------------------
def check_steps(steps: object) -> list[float]:
    """Traffic percentages in (0, 100], strictly increasing, the last one 100."""
    values = list(steps) if isinstance(steps, list | tuple) else []
    if not values:
        msg = f"steps must be traffic percentages ending at 100 (5,25,50,100); got {steps!r}"
        raise InvalidArgumentError(msg, field="steps")
    for value in values:
        if not _is_number(value) or not 0 < value <= 100:
            msg = f"steps must be percentages above 0 and at most 100; got {value!r}"
            raise InvalidArgumentError(msg, field="steps")
    if any(b <= a for a, b in itertools.pairwise(values)):
        msg = f"steps must increase from one step to the next; got {values}"
        raise InvalidArgumentError(msg, field="steps")
    if values[-1] != 100:
        msg = (
            f"the last step must be 100 (the candidate takes all traffic before it is promoted); "
            f"got {values}"
        )
        raise InvalidArgumentError(msg, field="steps")
    return [float(v) for v in values]


def check_interval(interval_s: object) -> float:
    """Seconds per step: at least 1 (the traffic summaries need time to arrive), at most 7 days."""
    if not _is_number(interval_s) or not 1 <= interval_s <= MAX_INTERVAL_S:  # type: ignore[operator]
        msg = (
            f"interval_s must be at least 1 second per step (60 = 1m) and at most 7 days; "
            f"got {interval_s!r}"
        )
        raise InvalidArgumentError(msg, field="interval_s")
    return float(interval_s)  # type: ignore[arg-type]


def check_thresholds(value: AnalysisThresholds | dict[str, Any] | None) -> AnalysisThresholds:
    """Analysis limits from a dict (the REST body, the stored config) or as given."""
    from conveyor.rollout import AnalysisThresholds  # lazy: NumPy; the server loads this module

    if value is None:
        return AnalysisThresholds()
    if isinstance(value, AnalysisThresholds):
        return value
    if not isinstance(value, dict):
        raise InvalidArgumentError("thresholds must be a JSON object", field="thresholds")
    known = {f.name for f in dataclasses.fields(AnalysisThresholds)}
    unknown = sorted(set(value) - known)
    if unknown:
        msg = f"unknown threshold {unknown[0]!r}; use {', '.join(sorted(known))}"
        raise InvalidArgumentError(msg, field=f"thresholds.{unknown[0]}")
    limits: dict[str, Any] = {
        k: _float_limit(k, v) if k in _FLOAT_LIMITS else v for k, v in value.items()
    }
    thresholds = AnalysisThresholds(**limits)
    if thresholds.min_requests > MAX_MIN_REQUESTS:
        msg = f"min_requests must be at most {MAX_MIN_REQUESTS:,}; got {thresholds.min_requests!r}"
        raise InvalidArgumentError(msg, field="min_requests")
    return thresholds


_FLOAT_LIMITS = ("min_success_rate", "max_p99_latency_s", "max_prediction_psi")


def _float_limit(field: str, value: object) -> object:
    """Store float limits as floats (a huge integer would overflow later, in a message)."""
    if not _is_number(value):
        return value  # None turns the check off; anything else AnalysisThresholds rejects
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        msg = f"{field} is out of range; got {value!r}"
        raise InvalidArgumentError(msg, field=field) from None


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)  # isfinite overflows on huge ints


def from_row(row: Any) -> Rollout:
    config = json.loads(row.config)
    return Rollout(
        rollout_id=row.rollout_id,
        deployment=row.deployment,
        project=row.project,
        candidate_version=row.candidate_version,
        primary_version=row.primary_version,
        steps=config["steps"],
        interval_s=config["interval_s"],
        thresholds=config["thresholds"],
        step_index=row.step_index,
        status=row.status,
        reason=row.reason,
        history=json.loads(row.history),
        created_by=row.created_by,
        started_time=row.started_time,
        step_started_time=row.step_started_time,
        finished_time=row.finished_time,
        deployment_id=row.deployment_id,
    )


def failing_early(analysis: StepAnalysis) -> bool:
    """Enough requests already, and the success rate below the limit: no need to wait."""
    return analysis.verdict != "wait" and any(
        c.name == "success_rate" and c.verdict == "fail" for c in analysis.checks
    )


def starved_reason(r: Rollout, judged: Judged, elapsed_ms: int) -> str:
    needed = check_thresholds(r.thresholds).min_requests
    got = judged.candidate_requests
    what = "no traffic reached the candidate" if got == 0 else "too little traffic reached it"
    return (
        f"{what}: {got} of {needed} requests in {elapsed_ms / 1000:g} s "
        f"(the limit is {TIMEOUT_INTERVALS} intervals); is a replica serving the deployment?"
    )


def baseline_window(r: Rollout) -> tuple[int, int]:
    """The primary's window to compare with at the 100 % step: the previous step's."""
    for entry in reversed(r.history):
        if entry["percent"] < 100:
            return int(entry["started"]), int(entry["decided"])
    return r.started_time - r.interval_ms, r.started_time  # a one-step rollout: before it


def history_entry(
    r: Rollout, at: int, judged: Judged, action: str, reason: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "step": r.step_index + 1,
        "percent": r.percent,
        "started": r.step_started_time,
        "decided": at,
        "verdict": judged.analysis.verdict,
        "action": action,
        "reason": reason or judged.analysis.reason,
        "candidate_requests": judged.candidate_requests,
        "primary_requests": judged.primary_requests,
        "checks": {
            c.name: {
                "observed": _finite(c.observed),
                "threshold": _finite(c.threshold),
                "verdict": c.verdict,
            }
            for c in judged.analysis.checks
        },
    }
    if judged.baseline is not None:
        entry["baseline"] = {"start_ms": judged.baseline[0], "end_ms": judged.baseline[1]}
    return entry


def _finite(value: float | None) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def history_json(r: Rollout, entry: dict[str, Any]) -> str:
    return json.dumps([*r.history, entry], allow_nan=False)


def request_approval(engine: Any, dep: Any, r: Rollout, refused: Exception) -> str | None:
    """Open the promotion request an approval policy asks for; None when refused otherwise.

    A rollout whose steps all passed must not bypass the registry's approvals: the request it
    opens is what a reviewer approves (``conveyor models approve``), and the deployment follows
    the alias once it moves.
    """
    from conveyor.errors import ConveyorError
    from conveyor.registry.approvals import Approvals
    from conveyor.registry.service import Registry

    if getattr(refused, "field", None) != "alias" or not dep.target.startswith("@"):
        return None
    try:
        promotion = Approvals(Registry(engine)).promote(
            dep.model_name,
            r.candidate_version,
            dep.target[1:],
            requester=r.created_by or None,
            comment=f"rollout {r.rollout_id} of {r.deployment}: every step passed",
        )
    except ConveyorError:
        return None
    return promotion.request.request_id if promotion.request is not None else None
