"""Fuzz every documented /api/v1 operation from its OpenAPI schema: never a 5xx.

Schemathesis generates requests from the schema (valid and edge-case bodies, paths, queries)
and sends them to the app in-process; each operation gets a bounded number of examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from conveyor.server import create_app
from conveyor.tracking import Workspace

EXAMPLES_PER_OPERATION = 15


def test_no_operation_answers_with_a_server_error(tmp_path: Path) -> None:
    workspace = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    app = create_app(workspace, monitor_interval_s=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[tuple[str, int, str]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25  # tracking and monitoring routes are documented

    for operation in operations:
        _fuzz(operation, failures)
    workspace.close()
    assert failures == []


def test_no_operation_answers_with_a_server_error_with_auth_on(tmp_path: Path) -> None:
    """The same fuzzing with ``--auth`` and a valid admin token (fewer examples: time-bound)."""
    from conveyor.governance import Tokens, Users

    workspace = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    Users(workspace.engine).create("admin", is_admin=True, actor="test")
    token = Tokens(workspace.engine).create("admin", actor="test").token
    app = create_app(workspace, monitor_interval_s=0, webhook_interval_s=0, auth=True)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"Authorization": f"Bearer {token}"}
    )
    failures: list[tuple[str, int, str]] = []
    statuses: list[int] = []
    for operation in [result.ok() for result in schema.get_all_operations()]:
        _fuzz(
            operation,
            failures,
            examples=5,
            headers={"Authorization": f"Bearer {token}"},
            statuses=statuses,
        )
    workspace.close()
    assert failures == []
    assert statuses
    assert 401 not in statuses  # the token was sent: the fuzzing reached the routes


def _fuzz(
    operation: Any,
    failures: list[tuple[str, int, str]],
    *,
    examples: int = EXAMPLES_PER_OPERATION,
    headers: dict[str, str] | None = None,
    statuses: list[int] | None = None,
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: Any) -> None:
        response = case.call(headers=headers)
        if statuses is not None:
            statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append((operation.label, response.status_code, response.text[:200]))

    call()
