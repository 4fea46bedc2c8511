"""The append-only, hash-chained event log.

Every logical change appends one event in the same transaction as the change itself::

    hash = sha256(prev_hash | seq | time | actor | action | subject | payload_digest)

where ``payload_digest`` is the SHA-256 of the canonical JSON payload. Editing, inserting or
deleting any row breaks the chain from that row on; ``verify`` recomputes it and names the first
entry that does not match. Appends are serialised by the write lock (SQLite's ``BEGIN
IMMEDIATE``) or a transaction-scoped advisory lock (PostgreSQL), so the chain never forks.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, or_, select

from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError
from conveyor.store import schema
from conveyor.store.engine import is_sqlite, raw_dbapi, read

GENESIS = "0" * 64
_PG_EVENTS_LOCK = 0x45564E54  # "EVNT"
_VERIFY_PAGE = 50_000


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


# The server sets this per request (its principal); domain services then need no actor argument.
ACTOR: ContextVar[str | None] = ContextVar("conveyor_actor", default=None)


@functools.cache
def local_user() -> str:
    """The local user: ``CONVEYOR_USER``, else the OS user, else ``local``."""
    from conveyor.settings import get_settings

    name = get_settings().user
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "local"


def current_actor() -> str:
    """Who is acting: the request's principal in the server, else ``CONVEYOR_USER`` / OS user."""
    return ACTOR.get() or local_user()


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def _chain_hash(prev_hash: str, seq: int, time: int, fields: tuple[str, str, str, str]) -> str:
    """Hash of the previous hash, the position, the time and (actor, action, subject, digest)."""
    material = "|".join((prev_hash, str(seq), str(time), *fields))
    return hashlib.sha256(material.encode()).hexdigest()


_LAST_SQL = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
_COLUMNS = "seq, time, actor, action, subject, payload, payload_digest, prev_hash, hash"
_INSERT_SQLITE = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_PG = f"INSERT INTO events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def append(
    conn: Connection,
    *,
    action: str,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> Event:
    """Append one event inside ``conn``'s (write) transaction and return it.

    ``actor`` defaults to ``current_actor()``: the server's authenticated caller, else the
    local user.
    """
    actor = actor or current_actor()
    if not action or not subject:
        msg = "an event needs an action and a subject"
        raise InvalidArgumentError(msg, field="action" if not action else "subject")
    body = dict(payload or {})
    data = _canonical(body)
    digest = hashlib.sha256(data).hexdigest()
    # the DB-API cursor directly: this runs inside every write, and SQLAlchemy's per-statement
    # overhead was half of an append's cost
    sqlite = is_sqlite(conn.engine)
    cursor = raw_dbapi(conn).cursor()
    try:
        if not sqlite:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_EVENTS_LOCK,))
        cursor.execute(_LAST_SQL)
        last = cursor.fetchone()
        seq = 1 if last is None else int(last[0]) + 1
        prev = GENESIS if last is None else str(last[1])
        at = now_ms()
        digest_hash = _chain_hash(prev, seq, at, (actor, action, subject, digest))
        row = (seq, at, actor, action, subject, data.decode(), digest, prev, digest_hash)
        cursor.execute(_INSERT_SQLITE if sqlite else _INSERT_PG, row)
    finally:
        cursor.close()
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
        else:  # the subject and everything under it: models:/churn includes models:/churn/3
            stmt = stmt.where(
                or_(e.c.subject == subject, e.c.subject.startswith(f"{subject}/", autoescape=True))
            )
    if action_prefix:
        stmt = stmt.where(e.c.action.startswith(action_prefix, autoescape=True))
    with read(engine) as conn:
        return [_event(r) for r in conn.execute(stmt)]


_VERIFY_SQL = (
    "SELECT seq, time, actor, action, subject, payload, payload_digest, prev_hash, hash "
    "FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
)
_PARALLEL_FROM = 200_000  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class _Span:
    """What one worker found in its range of entries."""

    checked: int
    first_bad_seq: int | None
    reason: str | None
    first_prev: str | None  # the stored prev_hash of the range's first entry
    last_hash: str | None


def _pages(engine: Engine, lo: int, hi: int) -> Iterator[list[tuple[Any, ...]]]:
    """Pages of raw row tuples with lo < seq <= hi, in order (no per-row Row objects)."""
    sql = _VERIFY_SQL if is_sqlite(engine) else _VERIFY_SQL.replace("?", "%s")
    after = lo
    while True:
        with read(engine) as conn:
            cursor = raw_dbapi(conn).cursor()
            cursor.execute(sql, (after, hi, _VERIFY_PAGE))
            page = cursor.fetchall()
            cursor.close()
        yield page
        if len(page) < _VERIFY_PAGE:
            return
        after = int(page[-1][0])


def _verify_span(engine: Engine, lo: int, hi: int, prev: str | None) -> _Span:
    """Check entries lo < seq <= hi; ``prev`` None: link the first entry to whatever it names.

    The hot loop of ``conveyor audit verify``: tuples from the DB-API cursor, and the same
    ``_chain_hash`` that ``append`` writes with.
    """
    sha = hashlib.sha256
    expected_seq, checked, first_prev = lo + 1, 0, None
    for page in _pages(engine, lo, hi):
        if page and first_prev is None:
            first_prev = page[0][7]
            prev = first_prev if prev is None else prev
        for seq, at, actor, action, subject, payload, digest, prev_hash, stored in page:
            bad = None
            if seq != expected_seq:
                missing = f"entry {expected_seq} is missing"
                return _Span(checked, expected_seq, missing, first_prev, None)
            if sha(payload.encode()).hexdigest() != digest:
                bad = "its payload does not match its digest"
            elif prev_hash != prev:
                bad = "it does not link to the previous entry"
            elif _chain_hash(prev_hash, seq, at, (actor, action, subject, digest)) != stored:
                bad = "its hash does not match its contents"
            if bad is not None:
                return _Span(checked, seq, bad, first_prev, None)
            prev, expected_seq, checked = stored, seq + 1, checked + 1
    if expected_seq <= hi:
        return _Span(checked, expected_seq, f"entry {expected_seq} is missing", first_prev, None)
    return _Span(checked, None, None, first_prev, prev)


def _verify_worker(url: str, lo: int, hi: int) -> _Span:
    from conveyor.store.engine import make_engine

    engine = make_engine(url)
    try:
        return _verify_span(engine, lo, hi, None)
    finally:
        engine.dispose()


def verify(engine: Engine, *, workers: int | None = None) -> Verification:
    """Recompute the chain; name the first entry whose payload, hash or link does not match.

    Every check is local to an entry and its predecessor, so a long log is split into ranges
    verified by ``workers`` processes (default: one per CPU, up to 8, from 200k entries on);
    the ranges' boundary links are then checked here.
    """
    with read(engine) as conn:
        top = int(conn.execute(select(func.max(schema.events.c.seq))).scalar() or 0)
    if workers is None:
        # fork only a single-threaded process (the CLI): forking beside other threads (a
        # server) can copy a held lock into the child
        alone = threading.active_count() == 1
        workers = min(os.cpu_count() or 1, 8) if top >= _PARALLEL_FROM and alone else 1
    if workers <= 1 or top < workers * 1000:
        span = _verify_span(engine, 0, top, GENESIS)
        return Verification(span.checked, span.first_bad_seq, span.reason)
    bounds = [top * k // workers for k in range(workers + 1)]
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        spans = list(pool.map(_verify_worker, [url] * workers, bounds[:-1], bounds[1:]))
    checked, prev = 0, GENESIS
    for lo, span in zip(bounds[:-1], spans, strict=True):
        if span.checked and span.first_prev != prev:
            return Verification(checked, lo + 1, "it does not link to the previous entry")
        if span.first_bad_seq is not None:
            return Verification(checked + span.checked, span.first_bad_seq, span.reason)
        checked += span.checked
        prev = span.last_hash or prev
    return Verification(checked, None, None)


def count(engine: Engine) -> int:
    """Return the number of events."""
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())
