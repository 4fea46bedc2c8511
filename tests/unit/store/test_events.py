"""The hash-chained event log: appends link, tampering is found and named, no forks."""

from __future__ import annotations

import hashlib
import itertools
import threading

import orjson
import pytest
from sqlalchemy import insert

from conveyor.errors import InvalidArgumentError
from conveyor.store import events, schema, write
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


def _bulk(ws: Workspace, n: int) -> None:
    """Write ``n`` chained entries in one statement, hashed exactly as ``append`` hashes them."""
    rows, prev = [], events.GENESIS
    for seq in range(1, n + 1):
        payload = orjson.dumps({"i": seq}).decode()
        digest = hashlib.sha256(payload.encode()).hexdigest()
        fields = ("u", "tracking.batch", f"runs:/{seq % 7}", digest)
        h = events._chain_hash(prev, seq, 1000 + seq, fields)
        rows.append(
            {
                "seq": seq,
                "time": 1000 + seq,
                "actor": "u",
                "action": "tracking.batch",
                "subject": fields[2],
                "payload": payload,
                "payload_digest": digest,
                "prev_hash": prev,
                "hash": h,
            }
        )
        prev = h
    with write(ws.engine) as conn:
        conn.execute(insert(schema.events), rows)


@pytest.mark.parametrize(
    ("statement", "bad_seq", "reason"),
    [
        ("UPDATE events SET payload = '{\"i\":-1}' WHERE seq = 2600", 2600, "payload"),
        ("DELETE FROM events WHERE seq = 1500", 1500, "missing"),
        ("DELETE FROM events WHERE seq = 2001", 2001, "missing"),  # first entry of a range
        # reorder: two entries swap their contents (each keeps its position)
        (
            "UPDATE events SET subject = CASE seq WHEN 2999 THEN 'runs:/1' ELSE 'runs:/0' END, "
            "action = action WHERE seq IN (2999, 3000)",
            2999,
            "hash",
        ),
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_tampering_is_named_when_ranges_are_verified_in_parallel(
    workspace: Workspace, statement: str, bad_seq: int, reason: str, workers: int
) -> None:
    _bulk(workspace, 4000)
    assert events.verify(workspace.engine, workers=workers).checked == 4000
    with workspace.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    result = events.verify(workspace.engine, workers=workers)
    assert result.first_bad_seq == bad_seq
    assert result.reason is not None
    assert reason in result.reason
