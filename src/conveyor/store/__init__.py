"""Metadata store: schema, migrations, engines and transactions (SQLite or PostgreSQL)."""

from conveyor.store import schema
from conveyor.store.engine import is_sqlite, make_engine, raw_dbapi, read, write
from conveyor.store.migrate import current_revision, head_revision, upgrade
from conveyor.store.statistics import StatisticsKeeper

__all__ = [
    "StatisticsKeeper",
    "current_revision",
    "head_revision",
    "is_sqlite",
    "make_engine",
    "raw_dbapi",
    "read",
    "schema",
    "upgrade",
    "write",
]
