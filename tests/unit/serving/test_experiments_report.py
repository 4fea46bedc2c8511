"""Experiment report maths on synthetic logs (both databases), and A/B auto-promotion."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from sqlalchemy import select

from conveyor.errors import InvalidArgumentError
from conveyor.registry.service import Registry
from conveyor.rollout import ShadowArm, champion_challenger_report
from conveyor.serving.deployments import Deployments
from conveyor.serving.experiments import (
    ABOptions,
    ExperimentSink,
    experiment_report,
    promote_ab_winners,
    record_feedback,
)
from conveyor.serving.policy import TrafficPolicy
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.routes import RouteTable
from conveyor.serving.windows import SHADOW, TrafficWindow, write_windows
from conveyor.store import read, schema
from conveyor.tracking import Workspace


@pytest.fixture
def deployments(workspace: Workspace) -> Deployments:
    reg = Registry(workspace.engine)
    for _ in range(3):
        reg.create_version("churn", "/models/m", create_model=True)
    reg.set_alias("churn", "production", 1)
    return Deployments(workspace.engine)


def _log(workspace: Workspace, records: list[Served]) -> None:
    ExperimentSink(workspace.engine).flush(Flush(0, 1, "r1", records))


def _deployment_id(workspace: Workspace, name: str) -> int:
    d = schema.deployments
    with read(workspace.engine) as conn:
        return int(conn.execute(select(d.c.deployment_id).where(d.c.name == name)).scalar_one())


def _window(version: int, route: str, requests: int, errors: int, seconds: float) -> TrafficWindow:
    window = TrafficWindow(version, route)
    for i in range(requests):
        window.observe(i >= errors, seconds)
    return window


def _shadow_traffic(
    workspace: Workspace, table: RouteTable, *, n: int, differ: set[int]
) -> tuple[list[int], list[int]]:
    """n requests answered i % 2 by v1; shadow v2 flips the answers in ``differ``."""
    at = time.time()
    champ = [i % 2 for i in range(n)]
    chal = [1 - c if i in differ else c for i, c in enumerate(champ)]
    records = []
    for i in reversed(range(n)):  # stored out of order: pairing is by request id
        records.append(Served(table, 1, "primary", f"q{i}", True, 0.01, 1, at, None, [champ[i]]))
        records.append(
            Served(table, 2, SHADOW, f"q{i}", True, 0.02, 1, at + i / 1000, None, [chal[i]])
        )
    _log(workspace, records)
    did = _deployment_id(workspace, table.deployment)
    start = int(at * 1000) // 10_000 * 10_000
    windows = [_window(1, "primary", n, 2, 0.004), _window(2, SHADOW, n, 10, 0.03)]
    write_windows(workspace.engine, did, "r1", start, start + 10_000, windows)
    return champ, chal


def test_shadow_report_pairs_by_request_and_matches_the_library(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.create("exp", "models:/churn@production")
    deployments.set_shadows("exp", [(2, 100)])
    table = deployments.route_table("exp")
    champ, chal = _shadow_traffic(workspace, table, n=200, differ={3, 50, 120, 180})
    labelled = range(0, 200, 2)  # feedback for half the requests: the champion was right
    record_feedback(
        workspace.engine, "exp", [f"q{i}" for i in labelled], [champ[i] for i in labelled]
    )
    report = experiment_report(workspace.engine, "exp", since_ms=0)
    assert report["ab"] is None
    [shadow] = report["shadows"]
    assert (shadow["version"], shadow["champion_versions"], shadow["task"]) == (
        2,
        [1],
        "classification",
    )
    assert shadow["pairs_read"] == 200
    got = shadow["report"]
    assert got["n_pairs"] == 200
    assert got["agreement_rate"] == pytest.approx(196 / 200)
    labels = [champ[i] if i % 2 == 0 else None for i in range(200)]
    expected = champion_challenger_report(
        ShadowArm(champ), ShadowArm(chal), task="classification", labels=labels
    ).to_dict()
    assert got["prediction_shift"] == pytest.approx(expected["prediction_shift"])
    assert got["metric"]["n_labeled"] == 100
    assert got["metric"]["difference"] == pytest.approx(-3 / 100)  # 50, 120, 180 are labelled
    assert got["metric"]["ci"] == pytest.approx(expected["metric"]["ci"])
    # errors and latency come from the per-window summaries
    assert got["error_rate"]["n_a"] == got["error_rate"]["n_b"] == 200
    assert got["error_rate"]["estimate_b"] == pytest.approx(10 / 200)
    assert got["latency"]["p50_delta_s"] > 0


def test_shadow_report_regression_task_and_limits(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.create("reg", "models:/churn/1")
    deployments.set_shadows("reg", [(2, 100)])
    table = deployments.route_table("reg")
    at = time.time()
    records = []
    for i in range(50):
        records.append(Served(table, 1, "primary", f"q{i}", True, 0.01, 1, at, None, [i + 0.5]))
        records.append(Served(table, 2, SHADOW, f"q{i}", True, 0.01, 1, at, None, [i + 1.5]))
    records.append(Served(table, 1, "primary", "multi", True, 0.01, 2, at, None, [1.0, 2.0]))
    records.append(Served(table, 2, SHADOW, "multi", True, 0.01, 2, at, None, [1.0, 2.5]))
    _log(workspace, records)
    record_feedback(workspace.engine, "reg", [f"q{i}" for i in range(50)], list(range(50)))
    record_feedback(workspace.engine, "reg", ["multi"], [1.0])  # several rows: not a label
    got = experiment_report(workspace.engine, "reg", since_ms=0)["shadows"][0]
    assert got["task"] == "regression"
    assert got["report"]["n_pairs"] == 52  # rows, the two-row request counted twice
    assert got["report"]["metric"]["metric"] == "mae"
    assert got["report"]["metric"]["n_labeled"] == 50
    assert got["report"]["metric"]["difference"] == pytest.approx(1.0)  # 1.5 vs 0.5
    assert got["report"]["metric"]["verdict"] == "champion_better"
    limited = experiment_report(workspace.engine, "reg", since_ms=0, max_pairs=10)["shadows"][0]
    assert (limited["pairs_read"], limited["truncated"]) == (10, True)
    later = experiment_report(workspace.engine, "reg", since_ms=int(at * 1000) + 60_000)
    assert later["shadows"][0]["report"]["n_pairs"] == 0
    as_classes = experiment_report(workspace.engine, "reg", since_ms=0, task="classification")
    assert as_classes["shadows"][0]["task"] == "classification"
    with pytest.raises(InvalidArgumentError, match="task must be one of") as err:
        experiment_report(workspace.engine, "reg", task="ranking")  # type: ignore[arg-type]
    assert err.value.field == "task"


def _ab_traffic(
    workspace: Workspace,
    table: RouteTable,
    outcomes: Mapping[str, Sequence[float | str]],
    prefix: str = "",
) -> None:
    """One request per outcome on each arm (predicting "yes"), with its feedback."""
    at = time.time()
    records, ids, values = [], [], []
    versions = {r.name: r.version for r in table.routes}
    for arm, arm_outcomes in outcomes.items():
        for i, value in enumerate(arm_outcomes):
            rid = f"{prefix}{arm}-{i}"
            records.append(Served(table, versions[arm], arm, rid, True, 0.01, 1, at, None, ["yes"]))
            ids.append(rid)
            values.append(value)
    _log(workspace, records)
    record_feedback(workspace.engine, table.deployment, ids, values)


def _rate(successes: int, n: int) -> list[float]:
    return [1.0] * successes + [0.0] * (n - successes)


def test_ab_binary_outcomes_name_a_significant_winner(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.create("ab", "models:/churn@production")
    deployments.set_arms("ab", [("a", "@production", 50), ("b", 2, 50)])
    table = deployments.route_table("ab")
    _ab_traffic(workspace, table, {"a": _rate(200, 2000), "b": _rate(400, 2000)})
    ab = experiment_report(workspace.engine, "ab")["ab"]
    assert (ab["kind"], ab["metric"], ab["winner"], ab["winner_version"]) == (
        "binary",
        "outcome",
        "b",
        2,
    )
    assert [(a["name"], a["outcomes"], a["mean_outcome"]) for a in ab["arms"]] == [
        ("a", 2000, pytest.approx(0.1)),
        ("b", 2000, pytest.approx(0.2)),
    ]
    [cmp] = ab["comparisons"]
    assert cmp["fixed"]["test"] == "two_proportion_z"
    assert cmp["fixed"]["decision"] == cmp["sequential"]["decision"] == "b_wins"
    assert cmp["fixed"]["difference"] == pytest.approx(0.1)
    assert cmp["samples_more_per_arm"] is None


def test_ab_without_a_winner_says_how_many_more_samples(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.create("ab", "models:/churn@production")
    deployments.set_arms("ab", [("a", 1, 50), ("b", 2, 50)])
    _ab_traffic(
        workspace, deployments.route_table("ab"), {"a": _rate(45, 300), "b": _rate(51, 300)}
    )
    ab = experiment_report(workspace.engine, "ab")["ab"]
    assert ab["winner"] is None
    assert "no arm beats every other yet" in ab["note"]
    [cmp] = ab["comparisons"]
    assert cmp["fixed"]["decision"] == "inconclusive"
    assert cmp["samples_more_per_arm"] == cmp["fixed"]["samples_needed_per_arm"] - 300 > 1000


def test_ab_continuous_outcomes_use_welch_and_labels_give_accuracy(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.create("ab", "models:/churn@production")
    deployments.set_arms("ab", [("a", 1, 50), ("b", 2, 50)])
    rng = np.random.default_rng(1)
    revenue = {
        "a": rng.normal(10, 2, 300).tolist(),
        "b": rng.normal(10.1, 2, 300).tolist(),
    }
    _ab_traffic(workspace, deployments.route_table("ab"), revenue)
    ab = experiment_report(workspace.engine, "ab")["ab"]
    assert (ab["kind"], ab["comparisons"][0]["fixed"]["test"]) == ("continuous", "welch_t")
    with pytest.raises(InvalidArgumentError, match="use welch") as err:
        experiment_report(workspace.engine, "ab", options=ABOptions(test="z"))
    assert err.value.field == "test"
    deployments.set_arms("ab", [("a", 1, 50), ("b", 3, 50)])  # a new experiment: new window
    labels: dict[str, Sequence[float | str]] = {"a": ["yes"] * 90 + ["no"] * 10, "b": ["no"] * 100}
    _ab_traffic(workspace, deployments.route_table("ab"), labels, prefix="labels-")
    ab = experiment_report(workspace.engine, "ab")["ab"]
    assert (ab["metric"], ab["kind"]) == ("accuracy", "binary")
    assert [a["mean_outcome"] for a in ab["arms"]] == [pytest.approx(0.9), pytest.approx(0.0)]


def _auto_ab(deployments: Deployments, **auto: object) -> None:
    deployments.create("ab", "models:/churn@production")
    arms = [
        {"name": "a", "ref": "@production", "weight": 50},
        {"name": "b", "ref": "2", "weight": 50},
    ]
    policy = {"mode": "ab", "routes": arms, "auto_promote": {"min_samples": 200, **auto}}
    deployments.set_policy("ab", TrafficPolicy.from_dict(policy))


def test_auto_promotion_promotes_a_clear_winner(
    workspace: Workspace, deployments: Deployments
) -> None:
    _auto_ab(deployments)
    deployments.create("other", "models:/churn/1")  # not an A/B: left alone
    _ab_traffic(
        workspace, deployments.route_table("ab"), {"a": _rate(100, 1000), "b": _rate(200, 1000)}
    )
    [done] = promote_ab_winners(workspace.engine, actor="ctl")
    assert (done["deployment"], done["arm"], done["version"], done["promoted"]) == (
        "ab",
        "b",
        2,
        True,
    )
    assert "sequential" in done["reason"]
    dep = deployments.get("ab")
    assert dep.policy["mode"] == "single"
    assert dep.policy["auto_promote"] is None
    assert dep.routes[0]["version"] == 2  # the alias moved
    assert Registry(workspace.engine).get_by_alias("churn", "production").version == 2
    e = schema.events
    with read(workspace.engine) as conn:
        event = conn.execute(
            select(e.c.actor, e.c.payload).where(e.c.action == "deployment.promoted")
        ).one()
    assert event.actor == "ctl"
    assert "b (v2) wins" in event.payload
    assert promote_ab_winners(workspace.engine) == []  # single mode now: nothing to do


def test_auto_promotion_leaves_a_tie_and_waits_for_min_samples(
    workspace: Workspace, deployments: Deployments
) -> None:
    _auto_ab(deployments, min_samples=500, test="z")
    table = deployments.route_table("ab")
    _ab_traffic(workspace, table, {"a": _rate(100, 400), "b": _rate(300, 400)})  # clear, too few
    assert promote_ab_winners(workspace.engine) == []
    assert deployments.get("ab").policy["mode"] == "ab"
    time.sleep(0.01)  # the next experiment starts a clear millisecond after the last request
    deployments.set_policy(
        "ab",
        TrafficPolicy.from_dict(
            {**deployments.get("ab").policy, "auto_promote": {"min_samples": 200}}
        ),
    )
    tie = {"a": _rate(150, 1000), "b": _rate(150, 1000)}
    _ab_traffic(workspace, table, tie, prefix="tie-")
    assert promote_ab_winners(workspace.engine) == []
    assert deployments.get("ab").policy["mode"] == "ab"
