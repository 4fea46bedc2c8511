"""A deployment's experiment report: champion/challenger per shadow, significance per A/B arm.

The shadow part pairs each shadow copy with the live answer to the same request (the most
recent ``max_pairs``), joins the labels posted as feedback, and takes latency and error counts
from the per-window traffic summaries; ``conveyor.rollout.champion_challenger_report`` does the
statistics. The A/B part (any split with two live routes or more: A/B arms, or a canary and
the primary) tests each arm against the first (the control) and names a winner only when one
beats every other arm (``arms.decide``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import orjson
from sqlalchemy import Engine, and_, select

from conveyor.errors import InvalidArgumentError
from conveyor.rollout import ProportionAccumulator, ShadowArm, champion_challenger_report
from conveyor.rollout import two_proportion_ztest as ztest
from conveyor.serving.deployments import Deployments
from conveyor.serving.experiments.arms import (
    ABOptions,
    Arm,
    compare,
    decide,
    fixed_test,
    is_binary,
    read_arms,
    samples_more,
)
from conveyor.serving.experiments.feedback import deployment_id_of
from conveyor.serving.routes import RouteTable
from conveyor.serving.windows import SHADOW, TrafficWindow, read_traffic
from conveyor.store import read, schema

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
MAX_PAIRS = 100_000

_p = schema.serving_predictions
_f = schema.serving_feedback


def experiment_report(
    engine: Engine,
    name: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    task: Task | None = None,
    options: ABOptions | None = None,
    max_pairs: int = MAX_PAIRS,
) -> dict[str, Any]:
    """Report on deployment ``name``'s shadows and arms over [since, until).

    Args:
        engine: The store.
        name: The deployment.
        since_ms: Start (epoch ms); by default when the deployment last changed, so an
            experiment counts only what was served under its current policy.
        until_ms: End (epoch ms), open by default.
        task: ``classification`` or ``regression``; by default inferred from the predictions
            (class labels and integers are classes, other numbers regression).
        options: How A/B arms are tested (sequential by default).
        max_pairs: The most recent shadow pairs read per shadow version.

    Returns:
        A JSON-ready dict: ``shadows`` (one champion/challenger report per shadow version)
        and ``ab`` (arms, comparisons with the control, winner), None without a split.
    """
    if task is not None and task not in TASKS:
        msg = f"task must be one of {list(TASKS)}; got {task!r}"
        raise InvalidArgumentError(msg, field="task")
    deployments = Deployments(engine)
    dep = deployments.get(name, resolve=False)
    table = deployments.route_table(name)
    with read(engine) as conn:
        deployment_id = deployment_id_of(conn, name)
    since = dep.updated_time if since_ms is None else since_ms
    where = _Range(deployment_id, since, until_ms)
    live = [r for r in table.routes if r.weight > 0]
    return {
        "deployment": name,
        "model": table.model_name,
        "revision": table.revision,
        "mode": dep.policy.get("mode", "single"),
        "since_ms": since,
        "until_ms": until_ms,
        "shadows": [
            shadow_section(engine, where, table, v, task=task, max_pairs=max_pairs)
            for v in _shadow_versions(engine, where, table)
        ],
        "ab": ab_section(engine, where, table, options or ABOptions()) if len(live) > 1 else None,
    }


@dataclasses.dataclass(frozen=True)
class _Range:
    deployment_id: int
    since_ms: int
    until_ms: int | None

    def of(self, column: Any) -> Any:
        cond = column >= self.since_ms
        return cond if self.until_ms is None else and_(cond, column < self.until_ms)


def _shadow_versions(engine: Engine, where: _Range, table: RouteTable) -> list[int]:
    """Shadows of the table and any version shadowed in the range (a shadow since removed)."""
    query = (
        select(_p.c.version)
        .distinct()
        .where(_p.c.deployment_id == where.deployment_id, _p.c.route == SHADOW, where.of(_p.c.time))
    )
    with read(engine) as conn:
        logged = {int(v) for (v,) in conn.execute(query)}
    return sorted(logged | {s.version for s in table.shadows})


# -- shadows -------------------------------------------------------------------------------
def shadow_section(
    engine: Engine,
    where: _Range,
    table: RouteTable,
    version: int,
    *,
    task: Task | None = None,
    max_pairs: int = MAX_PAIRS,
) -> dict[str, Any]:
    """The champion/challenger report of shadow ``version`` against the live answers."""
    rows = _pairs(engine, where, version, max_pairs)
    champ, chal, labels, champions = _flatten(rows)
    chosen: Task = task or infer_task(champ + chal)
    windows = read_traffic(
        engine, where.deployment_id, where.since_ms, where.until_ms, by_route=False
    )
    champion_window = _merged(windows, sorted(champions) or [table.primary.version])
    challenger_window = windows.get((version, SHADOW))
    report = champion_challenger_report(
        _arm(_predictions(champ, chosen), champion_window),
        _arm(_predictions(chal, chosen), challenger_window),
        task=chosen,
        labels=_labels(labels, chosen),
    )
    return {
        "version": version,
        "champion_versions": sorted(champions),
        "task": chosen,
        "pairs_read": len(rows),
        "truncated": len(rows) >= max_pairs,
        "report": report.to_dict(),
    }


def _pairs(engine: Engine, where: _Range, version: int, limit: int) -> list[Any]:
    """The most recent (live prediction, shadow prediction, live version, label) rows."""
    s, p = _p.alias("s"), _p.alias("p")
    query = (
        select(p.c.prediction, s.c.prediction, p.c.version, _f.c.value)
        .select_from(
            s.join(
                p,
                and_(
                    p.c.deployment_id == s.c.deployment_id,
                    p.c.request_id == s.c.request_id,
                    p.c.route != SHADOW,
                ),
            ).outerjoin(
                _f,
                and_(_f.c.deployment_id == s.c.deployment_id, _f.c.request_id == s.c.request_id),
            )
        )
        .where(
            s.c.deployment_id == where.deployment_id,
            s.c.route == SHADOW,
            s.c.version == version,
            where.of(s.c.time),
            s.c.prediction.is_not(None),
            p.c.prediction.is_not(None),
        )
        .order_by(s.c.time.desc())
        .limit(limit)
    )
    with read(engine) as conn:
        return list(conn.execute(query))


def _flatten(rows: list[Any]) -> tuple[list[Any], list[Any], list[Any], set[int]]:
    """Pair predictions row by row; a label applies to a one-row request only."""
    champ: list[Any] = []
    chal: list[Any] = []
    labels: list[Any] = []
    champions: set[int] = set()
    for live_json, shadow_json, live_version, value_json in rows:
        live, shadow = orjson.loads(live_json), orjson.loads(shadow_json)
        label = None if value_json is None else orjson.loads(value_json)
        if isinstance(live, list) and isinstance(shadow, list):
            if len(live) != len(shadow):
                continue
            champ += [_first(v) for v in live]
            chal += [_first(v) for v in shadow]
            labels += [None] * len(live)
        elif not isinstance(live, list) and not isinstance(shadow, list):
            champ.append(live)
            chal.append(shadow)
            labels.append(label)
        else:
            continue
        champions.add(int(live_version))
    keep = [i for i, (a, b) in enumerate(zip(champ, chal, strict=True)) if _ok(a) and _ok(b)]
    return [champ[i] for i in keep], [chal[i] for i in keep], [labels[i] for i in keep], champions


def _first(value: Any) -> Any:
    """One output per row: a row with several outputs is summarised by its first (as windows)."""
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _ok(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | str)


def infer_task(predictions: list[Any]) -> Task:
    """Class labels (strings, booleans, integers) are classification; other numbers regression.

    Examples:
        >>> infer_task([0, 1, 1]), infer_task(["cat"]), infer_task([0.2, 1.0])
        ('classification', 'classification', 'regression')
    """
    if any(isinstance(v, float) for v in predictions):
        return "regression"
    return "classification"


def _predictions(values: list[Any], task: Task) -> Any:
    if task == "regression":
        return np.asarray([float(v) if not isinstance(v, str) else math.nan for v in values])
    return np.asarray(values, dtype=object) if values else np.asarray([], dtype=np.int64)


def _labels(labels: list[Any], task: Task) -> Any:
    """Labels aligned with the pairs (None when none is known yet)."""
    if all(v is None for v in labels):
        return None
    if task == "regression":
        return np.asarray(
            [float(v) if isinstance(v, int | float) else math.nan for v in labels], np.float64
        )
    return np.asarray(labels, dtype=object)


def _merged(windows: dict[tuple[int, str], TrafficWindow], versions: list[int]) -> Any:
    found = [windows[(v, "*")] for v in versions if (v, "*") in windows]
    if not found:
        return None
    rng = np.random.default_rng(0)
    merged = found[0]
    for window in found[1:]:
        merged = merged.merge(window, rng)
    return merged


def _arm(predictions: Any, window: TrafficWindow | None) -> ShadowArm:
    if window is None:
        return ShadowArm(predictions=predictions)
    return ShadowArm(
        predictions=predictions,
        latency_s=window.latency,
        requests=window.requests,
        errors=window.errors,
    )


# -- A/B -----------------------------------------------------------------------------------
def ab_section(
    engine: Engine, where: _Range, table: RouteTable, options: ABOptions
) -> dict[str, Any]:
    """Each arm against the control (the first arm), and the winner if there is one."""
    arms = read_arms(engine, where.deployment_id, table, where.since_ms, where.until_ms)
    binary = is_binary(arms)
    control = arms[0]
    decision = decide(arms, options)
    return {
        "metric": "accuracy" if any(a.labels for a in arms) else "outcome",
        "kind": "binary" if binary else "continuous",
        "test": options.test,
        "alpha": options.alpha,
        "min_samples": options.min_samples,
        "higher_is_better": options.higher_is_better,
        "arms": [a.to_dict() for a in arms],
        "comparisons": [_comparison(control, b, options, binary=binary) for b in arms[1:]],
        "winner": None if decision.winner is None else decision.winner.name,
        "winner_version": None if decision.winner is None else decision.winner.version,
        "note": decision.note,
    }


def _comparison(a: Arm, b: Arm, options: ABOptions, *, binary: bool) -> dict[str, Any]:
    fixed = fixed_test(a, b, options, binary=binary)
    sequential = compare(a, b, dataclasses.replace(options, test="sequential"), binary=binary)
    errors = ztest(
        ProportionAccumulator(a.requests, a.errors),
        ProportionAccumulator(b.requests, b.errors),
        alpha=options.alpha,
        higher_is_better=False,
    )
    return {
        "control": a.name,
        "arm": b.name,
        "fixed": fixed.to_dict(),
        "sequential": sequential.to_dict(),
        "error_rate": errors.to_dict(),
        "samples_more_per_arm": samples_more(fixed),
    }
