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
    Column("project", String(250), nullable=False, default="default", server_default="default"),
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

# Projects group experiments and registered models; roles are granted per project. Experiments
# carry their project's name (``experiments.project``, added in migration 0003).
projects = Table(
    "projects",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
)

# Dataset versions: content-addressed snapshots (Parquet for frames, a file manifest for paths),
# their schema, row count and statistical profile (blobs). Identical content is one version.
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("project", String(250), nullable=False, default="default"),
    Column("description", Text, nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.dataset_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),  # of the content (snapshot or manifest)
    Column("kind", String(20), nullable=False),  # "parquet" | "files"
    Column("snapshot_digest", String(64), nullable=False),  # blob: Parquet file or manifest JSON
    Column("schema", Text, nullable=False),  # JSON
    Column("row_count", BigInteger, nullable=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("profile_digest", String(64), nullable=True),  # blob: statistical profile JSON
    Column("source", Text, nullable=False, default=""),
    Column("run_uuid", RUN_ID, nullable=True),  # the run that logged it, if any
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("dataset_id", "version"),
    Index(None, "dataset_id", "digest", unique=True),
)

# Which dataset versions a run consumed (training, validation, ...): the lineage edge
# dataset version -> run.
run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_uuid", RUN_ID, nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.dataset_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("context", String(100), nullable=False, default="training"),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "dataset_id", "version", "context"),
    Index(None, "dataset_id", "version"),
)

# The model registry.
registered_models = Table(
    "registered_models",
    metadata,
    Column("model_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("project", String(250), nullable=False, default="default"),
    Column("description", Text, nullable=False, default=""),
    # the highest version number ever issued: deleted versions' numbers are never reused
    Column("last_version", Integer, nullable=False, default=0),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),  # runs:/RUN/path, mlflow-artifacts:/..., or a path
    Column("run_uuid", RUN_ID, nullable=True),
    Column("status", String(20), nullable=False, default="READY"),
    Column("stage", String(20), nullable=False, default="None"),  # MLflow's legacy stages
    Column("description", Text, nullable=False, default=""),
    Column("user_id", String(250), nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("model_id", "version"),
    Index(None, "run_uuid"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "version", "key"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("model_id", "alias"),
)

# Approval policy per registered model and alias ("*" matches every alias): moving the alias
# needs ``required`` approvals from users holding ``role``, none of them the requester.
approval_policies = Table(
    "approval_policies",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("required", Integer, nullable=False, default=1),
    Column("role", String(50), nullable=False, default="approver"),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("model_id", "alias"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(250), nullable=False),
    Column("requester", String(250), nullable=False),
    Column("state", String(20), nullable=False),  # pending | applied | rejected | cancelled
    Column("comment", Text, nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    Index(None, "model_id", "state"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column("request_id", String(32), ForeignKey("approval_requests.request_id"), nullable=False),
    Column("approver", String(250), nullable=False),
    Column("decision", String(20), nullable=False),  # approve | reject
    Column("comment", Text, nullable=False, default=""),
    Column("time", BigInteger, nullable=False),
    PrimaryKeyConstraint("request_id", "approver"),
)

# Identity: users, hashed bearer tokens, roles per project.
users = Table(
    "users",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("is_admin", Integer, nullable=False, default=0),
    Column("created_time", BigInteger, nullable=False),
    Column("disabled_time", BigInteger, nullable=True),
)

role_bindings = Table(
    "role_bindings",
    metadata,
    Column("user_name", String(250), ForeignKey("users.name"), nullable=False),
    Column("project", String(250), nullable=False),
    Column("role", String(20), nullable=False),  # viewer | editor | approver | admin
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_name", "project"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("user_name", String(250), ForeignKey("users.name"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the secret
    Column("description", Text, nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    Column("last_used_time", BigInteger, nullable=True),
    Index(None, "user_name"),
)

# Webhooks subscribe to event types; a dispatcher reads the event log after its cursor, records
# one delivery per (webhook, event), signs the JSON with HMAC-SHA256 and retries with backoff.
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of action patterns ("registry.*")
    Column("secret", Text, nullable=False),  # HMAC key; never returned after creation
    Column("project", String(250), nullable=False, default="default"),
    Column("description", Text, nullable=False, default=""),
    Column("active", Integer, nullable=False, default=1),
    Column("created_time", BigInteger, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.webhook_id"), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("state", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("http_status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("next_attempt_time", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    Index(None, "webhook_id", "event_seq", unique=True),
    Index(None, "state", "next_attempt_time"),
)

# Positions of event-log readers (the webhook dispatcher, ...), advanced with what they handled.
event_cursors = Table(
    "event_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

# Deployments: the desired state serving replicas reconcile to. ``target`` is what the primary
# serves (an alias such as "production", or a version number); ``policy`` is the traffic policy
# as JSON (canary / A/B arms / shadows / sticky key / batching). Every change bumps ``revision``,
# so a replica's poll compares one integer (and the aliases it resolved).
deployments = Table(
    "deployments",
    metadata,
    Column("deployment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("project", String(250), nullable=False, default="default"),
    Column("model_id", Integer, ForeignKey("registered_models.model_id"), nullable=False),
    Column("target", String(250), nullable=False),
    Column("policy", Text, nullable=False, default="{}"),
    Column("revision", Integer, nullable=False, default=1),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", String(250), nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

# Which model versions a deployment has served, in which role: the lineage edge version →
# deployment. Replicas record a version when they first route traffic to it.
deployment_versions = Table(
    "deployment_versions",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("role", String(20), nullable=False),  # primary / canary / arm / shadow
    Column("first_served_time", BigInteger, nullable=False),
    Column("last_served_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("deployment_id", "model_id", "version", "role"),
    Index(None, "model_id", "version"),
)

# Observed state: one row per live serving replica, refreshed by its reconcile loop.
deployment_replicas = Table(
    "deployment_replicas",
    metadata,
    Column("replica_id", String(64), nullable=False),
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("host", String(250), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("routes", Text, nullable=False),  # JSON: the route table it serves
    Column("started_time", BigInteger, nullable=False),
    Column("heartbeat_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("replica_id", "deployment_id"),
    Index(None, "deployment_id"),
)

# Per-window traffic summaries, one row per window, replica, version and route: fixed size
# (counts, a latency histogram, a bounded prediction summary), so their cost does not grow with
# traffic. Rollout analysis and the champion/challenger report merge them across replicas.
serving_windows = Table(
    "serving_windows",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("replica_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("route", String(64), nullable=False),  # primary / canary / an A/B arm / shadow
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: serving.windows.TrafficWindow
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("deployment_id", "start_ms", "replica_id", "version", "route"),
)

# Predictions of deployments under experiment (A/B arms, shadows): request id -> what each
# version answered, for pairing shadows with the primary and joining feedback.
serving_predictions = Table(
    "serving_predictions",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("request_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("route", String(64), nullable=False),  # the route, or "shadow"
    Column("prediction", Text, nullable=True),  # None when the version failed the request
    Column("time", BigInteger, nullable=False),
    PrimaryKeyConstraint("deployment_id", "request_id", "version", "route"),
    Index(None, "deployment_id", "time"),
)

# Outcomes and labels posted for served requests (POST /api/v1/deployments/{name}/feedback).
serving_feedback = Table(
    "serving_feedback",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("request_id", String(200), nullable=False),
    Column("value", Text, nullable=False),  # JSON: a number (outcome, regression label) or label
    Column("time", BigInteger, nullable=False),
    PrimaryKeyConstraint("deployment_id", "request_id"),
)

# Progressive rollouts: a candidate version moved through traffic steps by the controller.
rollouts = Table(
    "rollouts",
    metadata,
    Column("rollout_id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("deployments.deployment_id"), nullable=False),
    Column("candidate_version", Integer, nullable=False),
    Column("primary_version", Integer, nullable=False),
    Column("config", Text, nullable=False),  # JSON: steps, interval, thresholds
    Column("step_index", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # running / succeeded / failed / aborted
    Column("reason", Text, nullable=False, default=""),
    Column("history", Text, nullable=False, default="[]"),  # JSON: one entry per step decision
    Column("created_by", String(250), nullable=False, default=""),
    Column("started_time", BigInteger, nullable=False),
    Column("step_started_time", BigInteger, nullable=False),
    Column("finished_time", BigInteger, nullable=True),
    Index(None, "deployment_id", "status"),
)
