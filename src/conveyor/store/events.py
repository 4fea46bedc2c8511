"""The append-only, hash-chained event log.

Every logical change appends one event in the same transaction as the change itself::

    hash = sha256(prev_hash | seq | time | actor | action | subject | payload_digest)

where ``payload_digest`` is the SHA-256 of the canonical JSON payload. Editing, inserting or
deleting any row breaks the chain from that row on; ``verify`` recomputes it and names the first
entry that does not match. Appends are serialised by the write lock (SQLite's ``BEGIN
IMMEDIATE``) or a transaction-scoped advisory lock (PostgreSQL), so the chain never forks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, text

from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError
from conveyor.store import schema
from conveyor.store.engine import is_sqlite, read

GENESIS = "0" * 64
_PG_EVENTS_LOCK = 0x45564E54  # "EVNT"
_VERIFY_PAGE = 5_000


@dataclass(frozen=True)
class Event:
    """One entry of the log."""

    seq: int
    time: int
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    payload_digest: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """Render the event for JSON output."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "payload_digest": self.payload_digest,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: how many entries were checked, and the first bad one."""

    checked: int
    first_bad_seq: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """Whether the whole chain matched."""
        return self.first_bad_seq is None


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def _chain_hash(prev_hash: str, seq: int, time: int, fields: tuple[str, str, str, str]) -> str:
    """Hash of the previous hash, the position, the time and (actor, action, subject, digest)."""
    material = "|".join((prev_hash, str(seq), str(time), *fields))
    return hashlib.sha256(material.encode()).hexdigest()


def append(
    conn: Connection,
    *,
    action: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    actor: str = "local",
) -> Event:
    """Append one event inside ``conn``'s (write) transaction and return it."""
    if not action or not subject:
        msg = "an event needs an action and a subject"
        raise InvalidArgumentError(msg, field="action" if not action else "subject")
    body = dict(payload or {})
    data = _canonical(body)
    digest = hashlib.sha256(data).hexdigest()
    if not is_sqlite(conn.engine):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENTS_LOCK})
    e = schema.events
    last = conn.execute(select(e.c.seq, e.c.hash).order_by(e.c.seq.desc()).limit(1)).first()
    seq = 1 if last is None else int(last.seq) + 1
    prev = GENESIS if last is None else str(last.hash)
    at = now_ms()
    digest_hash = _chain_hash(prev, seq, at, (actor, action, subject, digest))
    conn.execute(
        insert(e).values(
            seq=seq,
            time=at,
            actor=actor,
            action=action,
            subject=subject,
            payload=data.decode(),
            payload_digest=digest,
            prev_hash=prev,
            hash=digest_hash,
        )
    )
    return Event(seq, at, actor, action, subject, body, digest, prev, digest_hash)


def _event(row: Any) -> Event:
    return Event(
        seq=int(row.seq),
        time=int(row.time),
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload=orjson.loads(row.payload),
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def list_events(
    engine: Engine,
    *,
    subject: str | None = None,
    action_prefix: str | None = None,
    after_seq: int = 0,
    limit: int = 1000,
) -> list[Event]:
    """Return events in order, filtered by subject (or a ``prefix*``) and action prefix."""
    e = schema.events
    stmt = select(e).where(e.c.seq > after_seq).order_by(e.c.seq).limit(limit)
    if subject is not None:
        if subject.endswith("*"):
            stmt = stmt.where(e.c.subject.startswith(subject[:-1], autoescape=True))
        else:
            stmt = stmt.where(e.c.subject == subject)
    if action_prefix:
        stmt = stmt.where(e.c.action.startswith(action_prefix, autoescape=True))
    with read(engine) as conn:
        return [_event(r) for r in conn.execute(stmt)]


def _rows(engine: Engine) -> Iterator[Any]:
    e = schema.events
    after = 0
    while True:
        with read(engine) as conn:
            page = conn.execute(
                select(e).where(e.c.seq > after).order_by(e.c.seq).limit(_VERIFY_PAGE)
            ).all()
        yield from page
        if len(page) < _VERIFY_PAGE:
            return
        after = int(page[-1].seq)


def verify(engine: Engine) -> Verification:
    """Recompute the chain; name the first entry whose payload, hash or link does not match."""
    prev, expected_seq, checked = GENESIS, 1, 0
    for row in _rows(engine):
        seq = int(row.seq)
        if seq != expected_seq:
            return Verification(checked, expected_seq, f"entry {expected_seq} is missing")
        if hashlib.sha256(row.payload.encode()).hexdigest() != row.payload_digest:
            return Verification(checked, seq, "its payload does not match its digest")
        if row.prev_hash != prev:
            return Verification(checked, seq, "it does not link to the previous entry")
        fields = (row.actor, row.action, row.subject, row.payload_digest)
        want = _chain_hash(prev, seq, int(row.time), fields)
        if row.hash != want:
            return Verification(checked, seq, "its hash does not match its contents")
        prev, expected_seq, checked = row.hash, seq + 1, checked + 1
    return Verification(checked, None, None)


def count(engine: Engine) -> int:
    """Return the number of events."""
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())
