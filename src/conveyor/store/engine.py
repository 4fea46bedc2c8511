"""Engines and transactions for SQLite (WAL) and PostgreSQL.

SQLite write transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that later
needs the write lock fails with "database is locked" at once, whatever the busy timeout, when
another process wrote in between. Taking the lock up front makes writers queue instead.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from conveyor.errors import InvalidArgumentError

BUSY_TIMEOUT_MS = 60_000


def _use_wal(cur: sqlite3.Cursor) -> None:
    """Switch the database to WAL (a persistent mode: only its first opener changes it).

    Changing the journal mode needs an exclusive lock, and SQLite may report "database is
    locked" for it without waiting on the busy handler when several processes open a fresh
    file at once; so look first, and retry with backoff until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        else:
            return


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(cur)
    cur.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL mode
    cur.execute("PRAGMA cache_size = -65536")
    cur.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with Conveyor's connection settings.

    Raises:
        InvalidArgumentError: the URL cannot be parsed or its driver is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        msg = f"invalid database URL {url!r}: {exc}; use e.g. sqlite:///path/conveyor.db"
        raise InvalidArgumentError(msg, field="db_url") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, parsed.database)
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (NoSuchModuleError, ImportError) as exc:  # unknown driver, or its module is missing
        msg = (
            f"no driver for database URL {url!r}; for PostgreSQL use "
            "postgresql+psycopg://... and pip install 'conveyor-mlops[postgres]'"
        )
        raise InvalidArgumentError(msg, field="db_url") from exc


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=16,
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def is_sqlite(engine: Engine) -> bool:
    """Return whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit on success."""
    with engine.connect() as plain:
        conn = plain.execution_options(write=True)
        with conn.begin():
            yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """Open a read-only transaction."""
    with engine.connect() as conn, conn.begin():
        yield conn


def raw_dbapi(conn: Connection) -> Any:
    """Return the DB-API connection under ``conn`` for bulk inserts on the hot path."""
    return conn.connection.dbapi_connection
