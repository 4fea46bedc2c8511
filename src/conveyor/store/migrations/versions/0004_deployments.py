"""deployments, the versions they served, and their replicas

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("deployment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("project", sa.String(length=250), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=250), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_deployments_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("name", name=op.f("uq_deployments_name")),
    )
    op.create_table(
        "deployment_versions",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("first_served_time", sa.BigInteger(), nullable=False),
        sa.Column("last_served_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.deployment_id"],
            name=op.f("fk_deployment_versions_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "model_id", "version", "role", name=op.f("pk_deployment_versions")
        ),
    )
    op.create_index(
        op.f("ix_deployment_versions_model_id_version"),
        "deployment_versions",
        ["model_id", "version"],
    )
    op.create_table(
        "deployment_replicas",
        sa.Column("replica_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=250), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("routes", sa.Text(), nullable=False),
        sa.Column("started_time", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.deployment_id"],
            name=op.f("fk_deployment_replicas_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("replica_id", "deployment_id", name=op.f("pk_deployment_replicas")),
    )
    op.create_index(
        op.f("ix_deployment_replicas_deployment_id"), "deployment_replicas", ["deployment_id"]
    )


def downgrade() -> None:
    op.drop_table("deployment_replicas")
    op.drop_table("deployment_versions")
    op.drop_table("deployments")
