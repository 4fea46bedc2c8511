"""The predictions log (ExperimentSink), feedback validation and storage, auto_promote policy."""

from __future__ import annotations

import logging

import numpy as np
import orjson
import pandas as pd
import pytest
from sqlalchemy import func, select

from conveyor.errors import InvalidArgumentError, LimitExceededError, NotFoundError
from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.experiments import ExperimentSink, prediction_json, record_feedback
from conveyor.serving.policy import TrafficPolicy
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.routes import RouteTable
from conveyor.serving.windows import SHADOW
from conveyor.store import read, schema
from conveyor.tracking import Workspace

AT = 1_700_000_000.0


@pytest.fixture
def deployments(workspace: Workspace) -> Deployments:
    reg = Registry(workspace.engine)
    for _ in range(3):
        reg.create_version("churn", "/models/m", create_model=True)
    reg.set_alias("churn", "production", 1)
    service = Deployments(workspace.engine)
    service.create("exp", "models:/churn@production")
    service.set_shadows("exp", [(2, 100)])
    service.create("plain", "models:/churn@production")
    return service


def _predictions(workspace: Workspace) -> list[tuple[str, int, str, str | None]]:
    p = schema.serving_predictions
    with read(workspace.engine) as conn:
        rows = conn.execute(
            select(p.c.request_id, p.c.version, p.c.route, p.c.prediction).order_by(
                p.c.request_id, p.c.route
            )
        ).all()
    return [tuple(r) for r in rows]


def _flush(records: list[Served]) -> Flush:
    return Flush(0, 10_000, "replica-1", records)


def test_prediction_json_is_compact_scalar_or_list() -> None:
    assert prediction_json(np.array([1])) == "1"
    assert prediction_json(np.array([0.25, 0.5])) == "[0.25,0.5]"
    assert prediction_json(np.array(["yes"], dtype=object)) == '"yes"'
    assert prediction_json(pd.Series([3, 4])) == "[3,4]"
    assert prediction_json(np.array([[0.1, 0.9]])) == "[0.1,0.9]"  # one row of a matrix
    assert prediction_json([np.float32(0.5)]) == "0.5"
    assert prediction_json(np.array([np.nan])) == "null"
    assert prediction_json(None) is None
    assert prediction_json(np.zeros(20_000)) is None  # above the size cap: not logged
    nested: dict[str, object] = {}
    for _ in range(300):
        nested = {"a": nested}
    assert prediction_json([nested]) is None  # JSON cannot hold it: not logged, not a failure


def test_sink_logs_experiments_only_in_one_insert(
    workspace: Workspace, deployments: Deployments
) -> None:
    exp, plain = deployments.route_table("exp"), deployments.route_table("plain")
    bare = RouteTable("bare", "churn", 0, plain.routes)
    records = [
        Served(exp, 1, "primary", "r1", True, 0.01, 1, AT, None, np.array([1])),
        Served(exp, 2, SHADOW, "r1", True, 0.02, 1, AT + 0.5, None, np.array([0]), np.array([1])),
        Served(exp, 1, "primary", "r2", False, 0.01, 2, AT, None, None),
        Served(exp, 2, SHADOW, "r2", False, 0.01, 2, AT, None, None, None),
        Served(exp, 1, "primary", "", True, 0.01, 1, AT, None, np.array([1])),  # no id
        Served(exp, 1, "primary", "x" * 201, True, 0.01, 1, AT, None, np.array([1])),
        Served(plain, 1, "primary", "p1", True, 0.01, 1, AT, None, np.array([1])),
        Served(bare, 1, "primary", "b1", True, 0.01, 1, AT, None, np.array([1])),
    ]
    ExperimentSink(workspace.engine).flush(_flush(records))
    assert _predictions(workspace) == [
        ("r1", 1, "primary", "1"),
        ("r1", 2, SHADOW, "0"),
        ("r2", 1, "primary", None),  # the version failed
        ("r2", 2, SHADOW, None),
    ]
    p = schema.serving_predictions
    with read(workspace.engine) as conn:
        times = sorted(conn.execute(select(p.c.time).where(p.c.request_id == "r1")).scalars())
    assert times == [int(AT * 1000), int(AT * 1000) + 500]


def test_sink_ignores_duplicates_on_retry_and_within_a_flush(
    workspace: Workspace, deployments: Deployments
) -> None:
    exp = deployments.route_table("exp")
    one = Served(exp, 1, "primary", "r1", True, 0.01, 1, AT, None, np.array([1]))
    again = Served(exp, 1, "primary", "r1", True, 0.01, 1, AT, None, np.array([0]))
    sink = ExperimentSink(workspace.engine)
    sink.flush(_flush([one, again]))
    sink.flush(_flush([one, Served(exp, 1, "primary", "r3", True, 0.1, 1, AT, None, [2])]))
    assert _predictions(workspace) == [("r1", 1, "primary", "1"), ("r3", 1, "primary", "2")]


def test_sink_caps_rows_per_flush_with_a_warning(
    workspace: Workspace, deployments: Deployments, caplog: pytest.LogCaptureFixture
) -> None:
    exp = deployments.route_table("exp")
    records = [
        Served(exp, 1, "primary", f"r{i:03d}", True, 0.01, 1, AT, None, np.array([i]))
        for i in range(120)
    ]
    with caplog.at_level(logging.WARNING):
        ExperimentSink(workspace.engine, max_rows=100).flush(_flush(records))
    assert len(_predictions(workspace)) == 100
    assert "120 experiment predictions in one window, over the cap of 100" in caplog.text


def test_canary_and_ab_splits_are_experiments(
    workspace: Workspace, deployments: Deployments
) -> None:
    deployments.set_canary("plain", 2, 10)
    canary = deployments.route_table("plain")
    deployments.set_arms("plain", [("a", 1, 50), ("b", 3, 50)])
    ab = deployments.route_table("plain")
    ExperimentSink(workspace.engine).flush(
        _flush(
            [
                Served(canary, 2, "canary", "c1", True, 0.01, 1, AT, None, np.array(["x"])),
                Served(ab, 3, "b", "c2", True, 0.01, 1, AT, None, np.array([0.5])),
            ]
        )
    )
    assert _predictions(workspace) == [("c1", 2, "canary", '"x"'), ("c2", 3, "b", "0.5")]


def _feedback(workspace: Workspace) -> dict[str, object]:
    f = schema.serving_feedback
    with read(workspace.engine) as conn:
        rows = conn.execute(select(f.c.request_id, f.c.value)).all()
    return {r.request_id: orjson.loads(r.value) for r in rows}


def test_feedback_upserts_last_value_wins(workspace: Workspace, deployments: Deployments) -> None:
    out = record_feedback(workspace.engine, "exp", ["r1", "r2", "r1"], [0, "cat", True])
    assert out == {"deployment": "exp", "received": 3}
    assert _feedback(workspace) == {"r1": 1, "r2": "cat"}
    record_feedback(workspace.engine, "exp", ["r2"], [2.5])
    assert _feedback(workspace) == {"r1": 1, "r2": 2.5}
    f = schema.serving_feedback
    with read(workspace.engine) as conn:
        assert conn.execute(select(func.count()).select_from(f)).scalar() == 2


@pytest.mark.parametrize(
    ("ids", "values", "field", "match"),
    [
        (["r1", "r2"], [1], "values", "same length; got 2 ids and 1 values"),
        ([], [], "request_ids", "must not be empty"),
        ("r1", [1], "request_ids", "must be a list"),
        (["r1"], [[1, 2]], "values[0]", "a number .* or a class label"),
        (["r1"], [{"a": 1}], "values[0]", "a number"),
        (["r1"], [None], "values[0]", "a number"),
        (["r1"], [float("nan")], "values[0]", "finite number"),
        (["r1"], ["x" * 201], "values[0]", "1 to 200 characters"),
        (["r1", "x" * 201], [1, 2], "request_ids[1]", "1 to 200 characters"),
        ([7], [1], "request_ids[0]", "request id"),
        (["a\x00b"], [1], "request_ids[0]", "request id"),
        (["r1"], [2**70], "values[0]", "finite number"),
        (["r1"], ["a\x00"], "values[0]", "class label"),
    ],
)
def test_feedback_rejects_bad_input_naming_the_field(
    workspace: Workspace,
    deployments: Deployments,
    ids: list[object],
    values: list[object],
    field: str,
    match: str,
) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as err:
        record_feedback(workspace.engine, "exp", ids, values)
    assert err.value.field == field
    assert _feedback(workspace) == {}


def test_feedback_limits_and_unknown_deployment(
    workspace: Workspace, deployments: Deployments
) -> None:
    with pytest.raises(NotFoundError, match="deployment 'nope' does not exist"):
        record_feedback(workspace.engine, "nope", ["r1"], [1])
    many = [f"r{i}" for i in range(100_001)]
    with pytest.raises(LimitExceededError, match="at most 100,000 feedback values"):
        record_feedback(workspace.engine, "exp", many, [1] * len(many))


def test_auto_promote_round_trips_with_defaults() -> None:
    arms = [{"name": "a", "ref": "1", "weight": 50}, {"name": "b", "ref": "2", "weight": 50}]
    policy = TrafficPolicy.from_dict({"mode": "ab", "routes": arms, "auto_promote": {}})
    assert policy.auto_promote == {
        "test": "sequential",
        "alpha": 0.05,
        "min_samples": 200,
        "higher_is_better": True,
    }
    assert TrafficPolicy.from_dict(policy.to_dict()) == policy
    assert policy.single().auto_promote is None  # the experiment ended
    assert TrafficPolicy.from_dict({}).auto_promote is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([], "policy.auto_promote"),
        ({"test": "chi2"}, "policy.auto_promote.test"),
        ({"alpha": 0}, "policy.auto_promote.alpha"),
        ({"alpha": 0.9}, "policy.auto_promote.alpha"),
        ({"min_samples": 1}, "policy.auto_promote.min_samples"),
        ({"min_samples": 2.5}, "policy.auto_promote.min_samples"),
        ({"higher_is_better": "yes"}, "policy.auto_promote.higher_is_better"),
        ({"when": "now"}, "policy.auto_promote.when"),
    ],
)
def test_auto_promote_errors_name_the_field(value: object, field: str) -> None:
    with pytest.raises(InvalidArgumentError, match="auto_promote") as err:
        TrafficPolicy.from_dict({"auto_promote": value})
    assert err.value.field == field
