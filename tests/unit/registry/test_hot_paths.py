"""The promotion hot paths (register, set alias, resolve): their statements and their refusals.

A promotion pipeline calls these three per model version; each reads what it decides on in as
few statements as it can, so these tests pin both the count and every refusal's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from conveyor.errors import ConflictError, NotFoundError
from conveyor.registry.approvals import Approvals
from conveyor.registry.service import Registry
from conveyor.store import events
from conveyor.tracking import LocalClient, Workspace


@pytest.fixture
def registry(workspace: Workspace) -> Registry:
    return Registry(workspace.engine)


@pytest.fixture
def source(workspace: Workspace) -> str:
    client = LocalClient(workspace=workspace)
    run = client.create_run(client.get_or_create_experiment("hot").experiment_id)
    return f"runs:/{run.info.run_id}/model"


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block (BEGIN included, COMMIT not)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _registry_statements(seen: list[str]) -> list[str]:
    """The registry's own statements: not the transaction's, not the audit log's (its own)."""
    return [
        s for s in seen if not s.startswith(("BEGIN", "SELECT pg_advisory")) and "events" not in s
    ]


def test_each_hot_path_runs_its_few_statements(registry: Registry, source: str) -> None:
    registry.create_model("churn")
    registry.create_version("churn", source)  # warm the pool and the statement cache
    with _statements(registry.engine) as create:
        version = registry.create_version("churn", source, tags={"k": "v"}).version
    with _statements(registry.engine) as move:
        registry.set_alias("churn", "production", version)
    with _statements(registry.engine) as resolve:
        found = registry.get_by_alias("churn", "production")
    # model row + run check, version number, version row, its tags
    assert len(_registry_statements(create)) == 4
    # model row + policy + version + current alias, alias row, model's update time
    assert len(_registry_statements(move)) == 3
    # the version through its alias, then its tags and aliases together
    assert len(_registry_statements(resolve)) == 2
    assert (found.version, found.tags, found.aliases) == (version, {"k": "v"}, ["production"])


def test_resolve_lists_every_alias_of_the_version_in_order(registry: Registry) -> None:
    registry.create_model("churn")
    registry.create_version("churn", "/models/a", tags={"b": "2", "a": "1"})
    for alias in ("zeta", "alpha", "mid"):
        registry.set_alias("churn", alias, 1)
    found = registry.get_by_alias("churn", "mid")
    assert found.aliases == ["alpha", "mid", "zeta"]
    assert found.tags == {"a": "1", "b": "2"}
    assert registry.resolve("models:/churn/1").aliases == ["alpha", "mid", "zeta"]


def test_set_alias_refusals_keep_their_order(registry: Registry, workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="registered model 'ghost' does not exist") as err:
        registry.set_alias("ghost", "production", 1)
    assert err.value.field == "name"
    registry.create_model("churn")
    registry.create_version("churn", "/models/a")
    with pytest.raises(NotFoundError, match="model 'churn' has no version 7") as err:
        registry.set_alias("churn", "production", 7)
    assert err.value.field == "version"
    # a policy refuses first, even for a version that does not exist; "*" guards every alias
    Approvals(registry).set_policy("churn", "*", required=2, role="approver")
    with pytest.raises(ConflictError, match="needs 2 approval") as refused:
        registry.set_alias("churn", "staging", 7)
    assert refused.value.field == "alias"
    assert events.list_events(workspace.engine, action_prefix="registry.alias") == []


def test_set_alias_reports_the_previous_version_and_compare_and_set(registry: Registry) -> None:
    registry.create_model("churn")
    for path in ("/models/a", "/models/b"):
        registry.create_version("churn", path)
    assert registry.set_alias("churn", "production", 1) is None
    assert registry.set_alias("churn", "production", 2, expected=1) == 1
    with pytest.raises(ConflictError, match=r"it was version 1 when .* is now version 2"):
        registry.set_alias("churn", "production", 1, expected=1)
    assert registry.get_by_alias("churn", "production").version == 2


def test_create_version_checks_model_then_run(registry: Registry) -> None:
    missing = "runs:/0123456789abcdef0123456789abcdef/model"
    with pytest.raises(NotFoundError, match="registered model 'ghost' does not exist"):
        registry.create_version("ghost", missing)
    registry.create_model("churn")
    with pytest.raises(NotFoundError, match="run '0123456789abcdef0123456789abcdef' does not"):
        registry.create_version("churn", missing)
    assert registry.create_version("churn", "/models/a").version == 1
