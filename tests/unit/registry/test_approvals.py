"""Approval policies and promotions on both databases, including racing promotions."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import insert

from conveyor.errors import ConflictError, NotFoundError, PermissionDeniedError
from conveyor.registry.approvals import Approvals
from conveyor.registry.service import Registry
from conveyor.store import events, schema, write
from conveyor.tracking import Workspace


@pytest.fixture
def approvals(workspace: Workspace) -> Approvals:
    registry = Registry(workspace.engine)
    for i in range(3):
        registry.create_version("churn", f"/m/{i + 1}", create_model=True)
    return Approvals(registry)


def _users(workspace: Workspace, **roles: str) -> None:
    with write(workspace.engine) as conn:
        for name, role in roles.items():
            conn.execute(insert(schema.users).values(name=name, is_admin=0, created_time=0))
            conn.execute(
                insert(schema.role_bindings).values(
                    user_name=name, project="default", role=role, created_time=0
                )
            )


def test_without_a_policy_promotion_moves_the_alias_at_once(approvals: Approvals) -> None:
    done = approvals.promote("churn", 2, "production", requester="alice")
    assert (done.state, done.previous_version) == ("applied", None)
    again = approvals.promote("churn", 3, "production", requester="alice")
    assert again.previous_version == 2


def test_a_policy_turns_promotion_into_a_request_approved_by_someone_else(
    approvals: Approvals, workspace: Workspace
) -> None:
    _users(workspace, alice="editor", bob="approver", carol="viewer")
    approvals.set_policy("churn", "production", required=1, role="approver")
    registry = Registry(workspace.engine)
    with pytest.raises(ConflictError, match="needs 1 approval"):
        registry.set_alias("churn", "production", 1)
    pending = approvals.promote("churn", 2, "production", requester="alice", comment="better auc")
    assert pending.state == "pending"
    assert pending.request is not None
    request_id = pending.request.request_id
    with pytest.raises(ConflictError, match="pending request"):
        approvals.promote("churn", 3, "production", requester="alice")
    with pytest.raises(PermissionDeniedError, match="cannot approve"):
        approvals.decide(request_id, approver="alice", approve=True)
    with pytest.raises(PermissionDeniedError, match="approver"):
        approvals.decide(request_id, approver="carol", approve=True)
    with pytest.raises(NotFoundError):
        registry.resolve("models:/churn@production")  # nothing moved yet
    done = approvals.decide(request_id, approver="bob", approve=True, comment="ok")
    assert done.state == "applied"
    assert registry.resolve("models:/churn@production").version == 2
    with pytest.raises(ConflictError, match="already applied"):
        approvals.decide(request_id, approver="bob", approve=True)
    trail = [e.action for e in events.list_events(workspace.engine, subject="models:/churn*")]
    assert trail[-3:] == [
        "registry.approval_requested",
        "registry.approval_granted",
        "registry.alias_set",
    ]
    alias_set = list(events.list_events(workspace.engine, action_prefix="registry.alias_set"))[-1]
    assert alias_set.actor == "bob"
    assert alias_set.payload["approval_request"] == request_id


def test_two_approvals_needed_and_rejection(approvals: Approvals, workspace: Workspace) -> None:
    _users(workspace, alice="editor", bob="approver", dave="admin", erin="approver")
    approvals.set_policy("churn", "*", required=2)
    request = approvals.promote("churn", 1, "staging", requester="alice").request
    assert request is not None
    half = approvals.decide(request.request_id, approver="bob", approve=True)
    assert half.state == "pending"
    with pytest.raises(ConflictError, match="already decided"):
        approvals.decide(request.request_id, approver="bob", approve=True)
    full = approvals.decide(request.request_id, approver="dave", approve=True)
    assert full.state == "applied"
    second = approvals.promote("churn", 2, "staging", requester="alice").request
    assert second is not None
    rejected = approvals.decide(second.request_id, approver="erin", approve=False, comment="no")
    assert rejected.state == "rejected"
    assert Registry(workspace.engine).resolve("models:/churn@staging").version == 1
    third = approvals.promote("churn", 3, "staging", requester="alice").request
    assert third is not None
    with pytest.raises(PermissionDeniedError):
        approvals.cancel(third.request_id, actor="bob")
    assert approvals.cancel(third.request_id, actor="alice").state == "cancelled"
    assert [r.state for r in approvals.requests(name="churn")] == [
        "cancelled",
        "rejected",
        "applied",
    ]


def test_racing_promotions_have_one_winner(approvals: Approvals) -> None:
    approvals.promote("churn", 1, "production")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def promote(version: int) -> None:
        # both saw @production at version 1 before either writes, like two CLI invocations
        barrier.wait()
        try:
            outcomes.append(approvals.promote("churn", version, "production", expected=1).version)
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert "changed concurrently" in str(losers[0])
    assert approvals._registry.resolve("models:/churn@production").version == winners[0]
