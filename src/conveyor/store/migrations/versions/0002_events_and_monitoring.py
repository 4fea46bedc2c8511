"""events and monitoring

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 22:59:45.418553
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_events_hash")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_action_seq"), ["action", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_subject_seq"), ["subject", "seq"], unique=False)

    op.create_table(
        "monitors",
        sa.Column("monitor_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=True),
        sa.Column("reference_digest", sa.String(length=64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("alert_state", sa.Text(), nullable=False),
        sa.Column("evaluated_until", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("name", name=op.f("uq_monitors_name")),
    )
    op.create_table(
        "monitor_predictions",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("label_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.monitor_id"],
            name=op.f("fk_monitor_predictions_monitor_id_monitors"),
        ),
        sa.PrimaryKeyConstraint("monitor_id", "request_id", name=op.f("pk_monitor_predictions")),
    )
    with op.batch_alter_table("monitor_predictions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_predictions_monitor_id_time"),
            ["monitor_id", "time"],
            unique=False,
        )

    op.create_table(
        "monitor_values",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("signal", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.monitor_id"],
            name=op.f("fk_monitor_values_monitor_id_monitors"),
        ),
        sa.PrimaryKeyConstraint(
            "monitor_id", "signal", "label", "start_ms", name=op.f("pk_monitor_values")
        ),
    )
    with op.batch_alter_table("monitor_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_values_monitor_id_start_ms"),
            ["monitor_id", "start_ms"],
            unique=False,
        )

    op.create_table(
        "monitor_windows",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
        sa.Column("sample", sa.LargeBinary(), nullable=True),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.monitor_id"],
            name=op.f("fk_monitor_windows_monitor_id_monitors"),
        ),
        sa.PrimaryKeyConstraint(
            "monitor_id", "start_ms", "source", name=op.f("pk_monitor_windows")
        ),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("delivery_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.monitor_id"],
            name=op.f("fk_notification_deliveries_monitor_id_monitors"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_notification_deliveries")),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_monitor_id_time"),
            ["monitor_id", "time"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_monitor_id_time"))

    op.drop_table("notification_deliveries")
    op.drop_table("monitor_windows")
    with op.batch_alter_table("monitor_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_values_monitor_id_start_ms"))

    op.drop_table("monitor_values")
    with op.batch_alter_table("monitor_predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_predictions_monitor_id_time"))

    op.drop_table("monitor_predictions")
    op.drop_table("monitors")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_subject_seq"))
        batch_op.drop_index(batch_op.f("ix_events_action_seq"))

    op.drop_table("events")
