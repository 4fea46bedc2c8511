"""serving windows, experiment predictions, feedback, rollouts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _deployment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["deployment_id"],
        ["deployments.deployment_id"],
        name=op.f(f"fk_{table}_deployment_id_deployments"),
    )


def upgrade() -> None:
    op.create_table(
        "serving_windows",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("replica_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        _deployment_fk("serving_windows"),
        sa.PrimaryKeyConstraint(
            "deployment_id",
            "start_ms",
            "replica_id",
            "version",
            "route",
            name=op.f("pk_serving_windows"),
        ),
    )
    op.create_table(
        "serving_predictions",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        _deployment_fk("serving_predictions"),
        sa.PrimaryKeyConstraint(
            "deployment_id", "request_id", "version", "route", name=op.f("pk_serving_predictions")
        ),
    )
    op.create_index(
        op.f("ix_serving_predictions_deployment_id_time"),
        "serving_predictions",
        ["deployment_id", "time"],
    )
    op.create_table(
        "serving_feedback",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        _deployment_fk("serving_feedback"),
        sa.PrimaryKeyConstraint("deployment_id", "request_id", name=op.f("pk_serving_feedback")),
    )
    op.create_table(
        "rollouts",
        sa.Column("rollout_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=False),
        sa.Column("primary_version", sa.Integer(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("started_time", sa.BigInteger(), nullable=False),
        sa.Column("step_started_time", sa.BigInteger(), nullable=False),
        sa.Column("finished_time", sa.BigInteger(), nullable=True),
        _deployment_fk("rollouts"),
        sa.PrimaryKeyConstraint("rollout_id", name=op.f("pk_rollouts")),
    )
    op.create_index(
        op.f("ix_rollouts_deployment_id_status"), "rollouts", ["deployment_id", "status"]
    )


def downgrade() -> None:
    op.drop_table("rollouts")
    op.drop_table("serving_feedback")
    op.drop_table("serving_predictions")
    op.drop_table("serving_windows")
