"""The metadata schema (SQLAlchemy Core tables); Alembic migrations create it.

Metrics are stored twice on purpose: every point in ``metrics`` (append-only, indexed by run, key
and step for histories) and the newest point per run and key in ``latest_metrics``, which carries
the experiment id so that a search filtering or ordering on a metric over 100k runs is an index
range scan rather than an aggregate over every point.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

RUN_ID = String(32)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False, default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ForeignKey("experiments.experiment_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    # The integer key keeps the metrics table and its index compact: a 32-character id in each
    # of a million points halves the insert rate on SQLite.
    Column("run_pk", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", RUN_ID, nullable=False, unique=True),
    Column("experiment_id", ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_id", String(250), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index(None, "experiment_id", "lifecycle_stage", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", RUN_ID, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index(None, "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", RUN_ID, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
)

# NaN is stored as NULL: SQLite has no NaN, and a metric value is never legitimately missing.
metrics = Table(
    "metrics",
    metadata,
    Column("run_pk", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Index(None, "run_pk", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", RUN_ID, nullable=False),
    Column("key", String(250), nullable=False),
    Column("experiment_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    PrimaryKeyConstraint("run_uuid", "key"),
    Index(None, "experiment_id", "key", "value"),
)

# Batches the remote client replays after an outage carry an id, so a batch whose response was
# lost is not stored twice.
ingested_batches = Table(
    "ingested_batches",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("run_uuid", RUN_ID, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

# Artifacts live in the blob store under their digest; this table maps a logical path
# ("<experiment>/<run>/artifacts/model/MLmodel") to the digest.
artifacts = Table(
    "artifacts",
    metadata,
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

# The append-only, hash-chained event log: one row per logical change, each carrying the hash of
# the previous row, so rewriting or deleting any row breaks every hash after it
# (``conveyor.store.events.verify``).
events = Table(
    "events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index(None, "subject", "seq"),
    Index(None, "action", "seq"),
)

# Monitoring. A monitor compares live windows with a reference profile (a blob); replicas (or
# the ingest API) fold traffic into fixed-size window sketches, one row per window and source,
# merged on read; computed signals per window and the alert state are rows too.
monitors = Table(
    "monitors",
    metadata,
    Column("monitor_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("deployment", String(250), nullable=True),
    Column("reference_digest", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("alert_state", Text, nullable=False),
    Column("evaluated_until", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("monitor_id", Integer, ForeignKey("monitors.monitor_id"), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("source", String(100), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("sketch", LargeBinary, nullable=False),
    Column("sample", LargeBinary, nullable=True),  # Parquet: a uniform sample of raw rows
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("monitor_id", "start_ms", "source"),
)

# Predictions kept for joining delayed labels (request id -> prediction, score, label).
monitor_predictions = Table(
    "monitor_predictions",
    metadata,
    Column("monitor_id", Integer, ForeignKey("monitors.monitor_id"), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("prediction", Text, nullable=False),
    Column("score", Float, nullable=True),
    Column("label", Text, nullable=True),
    Column("label_time", BigInteger, nullable=True),
    PrimaryKeyConstraint("monitor_id", "request_id"),
    Index(None, "monitor_id", "time"),
)

monitor_values = Table(
    "monitor_values",
    metadata,
    Column("monitor_id", Integer, ForeignKey("monitors.monitor_id"), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("signal", String(100), nullable=False),
    Column("label", String(250), nullable=False),
    Column("value", Float, nullable=True),
    PrimaryKeyConstraint("monitor_id", "signal", "label", "start_ms"),
    Index(None, "monitor_id", "start_ms"),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_id", Integer, ForeignKey("monitors.monitor_id"), nullable=False),
    Column("event_seq", BigInteger, nullable=True),
    Column("channel", String(50), nullable=False),
    Column("target", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("time", BigInteger, nullable=False),
    Index(None, "monitor_id", "time"),
)
