"""Deployments service on both databases: create, resolve, traffic policies, replicas, events."""

from __future__ import annotations

import pytest

from conveyor.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.policy import TrafficPolicy
from conveyor.store import events
from conveyor.tracking import Workspace


@pytest.fixture
def deployments(workspace: Workspace) -> Deployments:
    reg = Registry(workspace.engine)
    for _ in range(3):
        reg.create_version("churn", "/models/m", create_model=True)
    reg.set_alias("churn", "production", 1)
    reg.set_alias("churn", "candidate", 2)
    return Deployments(workspace.engine)


def test_create_resolves_the_alias_and_follows_it(
    deployments: Deployments, workspace: Workspace
) -> None:
    dep = deployments.create("churn-api", "models:/churn@production", description="d")
    assert (dep.model_name, dep.target, dep.revision) == ("churn", "@production", 1)
    assert dep.model_uri == "models:/churn@production"
    assert dep.routes == [{"name": "primary", "version": 1, "weight": 100.0, "ref": "@production"}]
    Registry(workspace.engine).set_alias("churn", "production", 3)
    table = deployments.route_table("churn-api")
    assert table.primary.version == 3
    assert table.revision == 1  # an alias move changes the resolution, not the revision
    assert [d.name for d in deployments.list_deployments()] == ["churn-api"]


def test_create_checks_model_name_and_reference(deployments: Deployments) -> None:
    with pytest.raises(NotFoundError) as err:
        deployments.create("x", "models:/nope@production")
    assert err.value.field == "model"
    with pytest.raises(NotFoundError) as err:
        deployments.create("x", "models:/churn@staging")
    assert err.value.field == "target"
    with pytest.raises(NotFoundError):
        deployments.create("x", "models:/churn/9")
    with pytest.raises(InvalidArgumentError) as err:
        deployments.create("x", "models:/churn/latest")
    assert err.value.field == "model"
    with pytest.raises(InvalidArgumentError):
        deployments.create("bad/name", "models:/churn/1")
    assert deployments.list_deployments() == []  # nothing half-written
    deployments.create("x", "models:/churn/1")
    with pytest.raises(AlreadyExistsError):
        deployments.create("x", "models:/churn/2")


def test_canary_arms_shadows_and_back(deployments: Deployments) -> None:
    deployments.create("d", "models:/churn@production")
    dep = deployments.set_canary("d", "@candidate", 10, sticky="header:X-User")
    assert dep.revision == 2
    assert [(r["name"], r["version"], r["weight"]) for r in dep.routes] == [
        ("primary", 1, 90.0),
        ("canary", 2, 10.0),
    ]
    table = deployments.route_table("d")
    assert table.sticky == "header:x-user"
    assert table.versions == {1, 2}
    dep = deployments.set_arms("d", [("a", "1", 50), ("b", 3, 50)])
    assert [(r["name"], r["version"]) for r in dep.routes] == [("a", 1), ("b", 3)]
    dep = deployments.set_shadows("d", [(3, 25)])
    assert deployments.route_table("d").shadows[0].version == 3
    dep = deployments.clear_traffic("d")
    assert [r["name"] for r in dep.routes] == ["primary"]
    assert dep.policy["shadows"] == [{"ref": "3", "percent": 25.0}]
    with pytest.raises(InvalidArgumentError):
        deployments.set_arms("d", [("a", 1, 50), ("b", 2, 40)])
    with pytest.raises(InvalidArgumentError):
        deployments.set_canary("d", 2, 120)
    with pytest.raises(NotFoundError):
        deployments.set_canary("d", 7, 10)
    assert deployments.get("d").revision == dep.revision  # refused changes left no trace


def test_policy_compare_and_set(deployments: Deployments) -> None:
    deployments.create("d", "models:/churn@production")
    policy = TrafficPolicy().with_canary("2", 5)
    deployments.set_policy("d", policy, expected_revision=1)
    with pytest.raises(ConflictError):
        deployments.set_policy("d", policy, expected_revision=1)


def test_bad_policies_name_the_field() -> None:
    cases = [
        ({"mode": "blue"}, "policy.mode"),
        ({"routes": "x"}, "policy.routes"),
        ({"mode": "canary", "routes": [{"ref": "x", "weight": 5}]}, "policy.routes[0].ref"),
        ({"mode": "canary", "routes": [{"ref": "2", "weight": 500}]}, "policy.routes[0].weight"),
        ({"batching": {"max_batch_size": 0}}, "policy.batching.max_batch_size"),
        ({"sticky": "cookie:x"}, "sticky"),
        ({"colour": 1}, "policy.colour"),
    ]
    for data, field in cases:
        with pytest.raises(InvalidArgumentError) as err:
            TrafficPolicy.from_dict(data)
        assert err.value.field == field, data


def test_route_choice_is_weighted_and_sticky(deployments: Deployments) -> None:
    deployments.create("d", "models:/churn@production")
    deployments.set_canary("d", 2, 20)
    table = deployments.route_table("d")
    picks = [table.choose().version for _ in range(5000)]
    assert 0.16 < picks.count(2) / len(picks) < 0.24
    sticky = {table.choose(f"user-{i}").version for _ in range(3) for i in [7]}
    assert len(sticky) == 1
    share = sum(table.choose(f"user-{i}").version == 2 for i in range(5000)) / 5000
    assert 0.16 < share < 0.24


def test_replicas_lineage_and_events(deployments: Deployments, workspace: Workspace) -> None:
    from conveyor.registry.lineage import Lineage

    deployments.create("d", "models:/churn@production")
    deployments.set_canary("d", 2, 10)
    table = deployments.route_table("d")
    deployments.record_served(table)
    deployments.record_served(table)  # idempotent
    deployments.heartbeat("r1", table, 1)
    deployments.heartbeat("r1", table, 1)
    [replica] = deployments.replicas("d")
    assert replica["revision"] == 2
    assert [r["version"] for r in replica["routes"]] == [1, 2]
    graph = Lineage(workspace.engine).of_model("models:/churn/2")
    assert [(d["deployment"], d["role"]) for d in graph["deployments"]] == [("d", "canary")]
    assert {(v["version"], v["role"]) for v in deployments.served_versions("d")} == {
        (1, "primary"),
        (2, "canary"),
    }
    actions = [e.action for e in events.list_events(workspace.engine, subject="deployments:/d")]
    assert actions == ["deployment.created", "deployment.policy_changed"]
    deployments.delete("d")
    with pytest.raises(NotFoundError):
        deployments.get("d")
    assert events.verify(workspace.engine).ok


def test_promote_moves_the_alias_or_repins_and_ends_the_split(
    deployments: Deployments, workspace: Workspace
) -> None:
    deployments.create("by-alias", "models:/churn@production")
    deployments.set_canary("by-alias", 2, 25)
    deployments.set_shadows("by-alias", [(3, 100)])
    dep = deployments.promote("by-alias", 2, reason="rollout passed")
    assert Registry(workspace.engine).resolve("models:/churn@production").version == 2
    assert dep.target == "@production"
    assert dep.policy["mode"] == "single"
    table = deployments.route_table("by-alias")
    assert [(r.name, r.version) for r in table.routes] == [("primary", 2)]
    assert [s.version for s in table.shadows] == [3]  # shadows of other versions stay

    deployments.create("pinned", "models:/churn/1")
    deployments.set_arms("pinned", [("a", 1, 50), ("b", 3, 50)])
    dep = deployments.promote("pinned", 3)
    assert (dep.target, dep.policy["mode"]) == ("3", "single")
    assert Registry(workspace.engine).resolve("models:/churn@production").version == 2  # untouched
    promoted = [
        e for e in events.list_events(workspace.engine) if e.action == "deployment.promoted"
    ]
    assert [e.payload["version"] for e in promoted] == [2, 3]
    assert promoted[0].payload["reason"] == "rollout passed"


def test_promote_refuses_a_version_that_does_not_exist(deployments: Deployments) -> None:
    deployments.create("d", "models:/churn/1")
    with pytest.raises(NotFoundError):
        deployments.promote("d", 42)
    assert deployments.get("d").target == "1"


def test_promote_compare_and_set_on_the_revision(
    deployments: Deployments, workspace: Workspace
) -> None:
    dep = deployments.create("d", "models:/churn@production")
    deployments.set_canary("d", 2, 10)  # revision moves on
    with pytest.raises(ConflictError) as err:
        deployments.promote("d", 2, expected_revision=dep.revision)
    assert err.value.field == "expected_revision"
    assert Registry(workspace.engine).resolve("models:/churn@production").version == 1
    current = deployments.get("d").revision
    assert deployments.promote("d", 2, expected_revision=current).revision == current + 1
