"""Engines (SQLite pragmas, write locking), URL errors and idempotent migrations."""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from conveyor.errors import InvalidArgumentError
from conveyor.store import (
    current_revision,
    head_revision,
    make_engine,
    read,
    schema,
    upgrade,
    write,
)
from conveyor.store.engine import BUSY_TIMEOUT_MS
from conveyor.tracking import Workspace


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/conveyor.db")
    yield engine
    engine.dispose()


def test_sqlite_connections_use_wal_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    # Two connections at once: the pragmas are set on every pooled connection, not just one.
    with sqlite_engine.connect() as first, sqlite_engine.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert BUSY_TIMEOUT_MS >= 5_000


def test_sqlite_engine_creates_the_parent_directory(tmp_path: Path, sqlite_engine: Engine) -> None:
    with write(sqlite_engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert (tmp_path / "nested" / "dir" / "conveyor.db").is_file()


def test_sqlite_write_transactions_take_the_write_lock_up_front(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    with write(sqlite_engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(tmp_path / "nested" / "dir" / "conveyor.db", timeout=0.05)
    try:
        other.isolation_level = None
        with write(sqlite_engine) as conn:
            # Nothing written yet, but BEGIN IMMEDIATE already holds the lock.
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with read(sqlite_engine) as conn:
            # A read transaction does not block writers.
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO t VALUES (2)")
            other.execute("COMMIT")
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
    finally:
        other.close()
    with read(sqlite_engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2


def test_write_rolls_back_on_error(sqlite_engine: Engine) -> None:
    with write(sqlite_engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

    def insert_then_fail() -> None:
        with write(sqlite_engine) as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            msg = "abort"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="abort"):
        insert_then_fail()
    with read(sqlite_engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_upgrade_is_idempotent_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/conveyor.db"
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in schema.metadata.sorted_tables} <= tables
        with write(engine) as conn:
            conn.execute(
                schema.experiments.insert().values(
                    name="kept",
                    artifact_location="",
                    lifecycle_stage="active",
                    creation_time=1,
                    last_update_time=1,
                )
            )
        upgrade(engine)  # a second time: nothing to do, nothing lost
    finally:
        engine.dispose()

    again = make_engine(url)  # another process opening the same workspace
    try:
        upgrade(again)
        assert current_revision(again) == head_revision()
        with read(again) as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            names = conn.execute(text("SELECT name FROM experiments")).scalars().all()
        assert names == ["kept"]
    finally:
        again.dispose()


def test_upgrade_is_idempotent_on_every_database(workspace: Workspace) -> None:
    """The ``workspace`` fixture is migrated already (SQLite, and PostgreSQL when reachable)."""
    upgrade(workspace.engine)
    upgrade(workspace.engine)
    assert current_revision(workspace.engine) == head_revision()
    with read(workspace.engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert workspace.experiments.get("0").name == "Default"


def test_opening_a_workspace_twice_keeps_one_default_experiment(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs")
    for _ in range(2):
        ws = Workspace(url, blobs)
        ws.close()
    ws = Workspace(url, blobs)
    try:
        with read(ws.engine) as conn:
            rows = conn.execute(text("SELECT experiment_id, name FROM experiments")).all()
        assert [tuple(r) for r in rows] == [(0, "Default")]
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("not a url", r"invalid database URL 'not a url'.*use e\.g\. sqlite:///"),
        ("", "invalid database URL ''"),
        ("nosuchdb://host/db", "no driver for database URL 'nosuchdb://host/db'"),
        ("postgresql+nosuchdriver://u@h/db", "no driver for database URL"),
    ],
)
def test_make_engine_rejects_bad_urls_and_unknown_drivers(url: str, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        make_engine(url)
    assert info.value.field == "db_url"


@pytest.mark.parametrize(
    ("url", "module", "match"),
    [
        ("mysql://u@h/db", "MySQLdb", r"no driver for database URL 'mysql://u@h/db'"),
        # The message points at the driver Conveyor supports.
        ("postgresql+psycopg2://u@h/db", "psycopg2", r"no driver.*use postgresql\+psycopg://"),
    ],
)
def test_make_engine_reports_a_driver_that_is_not_installed(
    url: str, module: str, match: str
) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    with pytest.raises(InvalidArgumentError, match=match) as info:
        make_engine(url)
    assert info.value.field == "db_url"


def test_make_engine_accepts_postgresql_with_psycopg() -> None:
    pytest.importorskip("psycopg")
    engine = make_engine("postgresql+psycopg://u@127.0.0.1:1/db")  # no connection is made
    try:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_declared_schema(workspace: Workspace) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with workspace.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []
