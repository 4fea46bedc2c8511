"""The hash-chained event log: appends link, tampering is found and named, no forks."""

from __future__ import annotations

import itertools
import threading

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.store import events, write
from conveyor.tracking import Workspace


def _append(ws: Workspace, n: int, subject: str = "monitors:/churn") -> None:
    for i in range(n):
        with write(ws.engine) as conn:
            events.append(conn, action="monitor.window", subject=subject, payload={"i": i})


def test_appends_form_a_chain_that_verifies(workspace: Workspace) -> None:
    _append(workspace, 5)
    listed = events.list_events(workspace.engine)
    assert [e.seq for e in listed] == [1, 2, 3, 4, 5]
    assert listed[0].prev_hash == events.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(listed))
    assert listed[2].payload == {"i": 2}
    result = events.verify(workspace.engine)
    assert result.ok
    assert result.checked == 5


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE events SET payload = '{\"i\":99}' WHERE seq = 3", "payload does not match"),
        ("UPDATE events SET actor = 'mallory' WHERE seq = 3", "hash does not match"),
        ("DELETE FROM events WHERE seq = 3", "entry 3 is missing"),
    ],
)
def test_tampering_names_the_first_bad_entry(
    workspace: Workspace, statement: str, reason: str
) -> None:
    _append(workspace, 5)
    with workspace.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    result = events.verify(workspace.engine)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.reason is not None
    assert reason in result.reason


def test_filters_by_subject_prefix_and_action(workspace: Workspace) -> None:
    _append(workspace, 2, "monitors:/churn")
    _append(workspace, 1, "monitors:/fraud")
    assert len(events.list_events(workspace.engine, subject="monitors:/churn")) == 2
    assert len(events.list_events(workspace.engine, subject="monitors:/*")) == 3
    assert events.list_events(workspace.engine, action_prefix="alert.") == []


def test_concurrent_appends_never_fork_the_chain(workspace: Workspace) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(workspace, 10)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert events.count(workspace.engine) == 40
    assert events.verify(workspace.engine).ok


def test_an_event_needs_an_action_and_a_subject(workspace: Workspace) -> None:
    with write(workspace.engine) as conn, pytest.raises(InvalidArgumentError, match="action"):
        events.append(conn, action="", subject="x")
