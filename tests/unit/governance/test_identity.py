"""Users, projects, roles and tokens on both databases; the authenticator and its cache."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from conveyor.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
)
from conveyor.governance import Authenticator, Principal, Projects, Tokens, Users
from conveyor.governance.dispatcher import DispatchConfig
from conveyor.governance.roles import check_role
from conveyor.governance.signing import sign, verify_signature
from conveyor.governance.tokens import hash_token, token_id_of
from conveyor.store import read, schema
from conveyor.store.events import list_events
from conveyor.tracking import Workspace


def test_roles_are_ordered_and_admins_hold_every_role() -> None:
    bob = Principal("bob", roles={"a": "approver", "b": "viewer"})
    assert bob.can("a", "editor")
    assert bob.can("a", "approver")
    assert not bob.can("a", "admin")
    assert not bob.can("b", "editor")
    assert not bob.can("c", "viewer")
    assert bob.visible_projects() == frozenset({"a", "b"})
    root = Principal("root", is_admin=True)
    assert root.can("anything", "admin")
    assert root.visible_projects() is None
    with pytest.raises(InvalidArgumentError, match="viewer, editor, approver, admin"):
        check_role("owner")


def test_users_projects_and_roles_are_audited(workspace: Workspace) -> None:
    users, projects = Users(workspace.engine), Projects(workspace.engine)
    users.create("alice", is_admin=True, actor="owner")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        users.create("alice", actor="owner")
    with pytest.raises(InvalidArgumentError, match="not a valid name"):
        users.create("bad name", actor="owner")
    projects.create("a", actor="alice")
    projects.grant("a", "alice", "viewer", actor="alice")
    projects.grant("a", "alice", "editor", actor="alice")  # replaces
    assert [(m.user, m.role) for m in projects.members("a")] == [("alice", "editor")]
    with pytest.raises(NotFoundError, match="conveyor projects create nope"):
        projects.grant("nope", "alice", "viewer", actor="alice")
    with pytest.raises(NotFoundError, match="conveyor users create zed"):
        projects.grant("a", "zed", "viewer", actor="alice")
    projects.revoke("a", "alice", actor="alice")
    assert projects.members("a") == []
    assert [p.name for p in projects.list()] == ["a", "default"]
    actions = [e.action for e in list_events(workspace.engine, limit=100)]
    assert actions == [
        "user.created",
        "project.created",
        "role.granted",
        "role.granted",
        "role.revoked",
    ]


def test_tokens_are_stored_hashed_and_shown_once(workspace: Workspace) -> None:
    Users(workspace.engine).create("bob", actor="owner")
    tokens = Tokens(workspace.engine)
    new = tokens.create("bob", description="ci", actor="owner")
    assert new.token.startswith(f"cvy_{new.info.token_id}_")
    assert token_id_of(new.token) == new.info.token_id
    with read(workspace.engine) as conn:
        stored = conn.execute(select(schema.tokens)).one()._mapping
    assert stored["token_hash"] == hash_token(new.token)
    assert new.token.rsplit("_", 1)[1] not in str(dict(stored))
    events = list_events(workspace.engine, action_prefix="token.", limit=10)
    assert [e.action for e in events] == ["token.created"]
    assert new.token.rsplit("_", 1)[1] not in str(events[0].payload)
    assert "token" not in str(tokens.list(user="bob")[0].to_dict().get("token", ""))
    with pytest.raises(InvalidArgumentError, match="positive number of seconds"):
        tokens.create("bob", expires_in_s=0, actor="owner")


def test_the_authenticator_checks_revocation_expiry_and_users(sqlite_workspace: Workspace) -> None:
    engine = sqlite_workspace.engine
    Users(engine).create("bob", actor="owner")
    Projects(engine).grant("default", "bob", "editor", actor="owner")
    tokens, auth = Tokens(engine), Authenticator(engine, ttl_s=0.05)
    new = tokens.create("bob", actor="owner")
    principal = auth.authenticate(new.token)
    assert principal == Principal("bob", False, {"default": "editor"})
    assert auth.cached(new.token) == principal
    assert tokens.get(new.info.token_id).last_used_time is not None
    tokens.revoke(new.info.token_id, actor="owner")
    assert auth.cached(new.token) == principal  # within the TTL
    time.sleep(0.06)
    with pytest.raises(UnauthenticatedError, match="revoked"):
        auth.authenticate(new.token)

    short = tokens.create("bob", expires_in_s=0.05, actor="owner")
    auth.authenticate(short.token)
    time.sleep(0.06)
    assert auth.cached(short.token) is None
    with pytest.raises(UnauthenticatedError, match="expired"):
        auth.authenticate(short.token)
    with pytest.raises(UnauthenticatedError, match="malformed"):
        auth.authenticate("not-a-token")
    with pytest.raises(UnauthenticatedError, match="not known"):
        auth.authenticate(f"cvy_{'0' * 32}_whatever")

    other = tokens.create("bob", actor="owner")
    Users(engine).disable("bob", actor="owner")
    with pytest.raises(UnauthenticatedError, match="disabled"):
        auth.authenticate(other.token)


def test_signatures_verify_only_the_exact_body() -> None:
    header = sign("key-key-key-key-1", b'{"a":1}')
    assert header.startswith("sha256=")
    assert verify_signature("key-key-key-key-1", b'{"a":1}', header)
    assert not verify_signature("key-key-key-key-2", b'{"a":1}', header)
    assert not verify_signature("key-key-key-key-1", b'{"a": 1}', header)
    assert not verify_signature("key-key-key-key-1", b'{"a":1}', None)
    assert not verify_signature("key-key-key-key-1", b'{"a":1}', header.removeprefix("sha256="))


def test_retry_delays_double_up_to_the_cap() -> None:
    config = DispatchConfig(backoff_s=1.0, backoff_cap_s=5.0)
    assert [config.retry_delay_ms(n) for n in range(1, 6)] == [1000, 2000, 4000, 5000, 5000]
