"""registry, datasets, identity and webhooks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:50:16.695674
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("project", sa.String(length=250), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_cursors")),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version", "key", name=op.f("pk_model_version_tags")),
    )
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projects")),
    )
    op.create_table(
        "registered_models",
        sa.Column("model_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("project", sa.String(length=250), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_registered_models")),
        sa.UniqueConstraint("name", name=op.f("uq_registered_models_name")),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("is_admin", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("disabled_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("project", sa.String(length=250), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "approval_policies",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=250), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_approval_policies_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_approval_policies")),
    )
    op.create_table(
        "approval_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=250), nullable=False),
        sa.Column("requester", sa.String(length=250), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_approval_requests_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_approval_requests")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_requests_model_id_state"), ["model_id", "state"], unique=False
        )

    op.create_table(
        "dataset_versions",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("snapshot_digest", sa.String(length=64), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("profile_digest", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("run_uuid", sa.String(length=32), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.dataset_id"],
            name=op.f("fk_dataset_versions_dataset_id_datasets"),
        ),
        sa.PrimaryKeyConstraint("dataset_id", "version", name=op.f("pk_dataset_versions")),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_dataset_id_digest"),
            ["dataset_id", "digest"],
            unique=True,
        )

    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_model_aliases_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("run_uuid", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=250), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_model_versions_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("model_id", "version", name=op.f("pk_model_versions")),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_versions_run_uuid"), ["run_uuid"], unique=False)

    op.create_table(
        "registered_model_tags",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_registered_model_tags_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("model_id", "key", name=op.f("pk_registered_model_tags")),
    )
    op.create_table(
        "role_bindings",
        sa.Column("user_name", sa.String(length=250), nullable=False),
        sa.Column("project", sa.String(length=250), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name=op.f("fk_role_bindings_user_name_users")
        ),
        sa.PrimaryKeyConstraint("user_name", "project", name=op.f("pk_role_bindings")),
    )
    op.create_table(
        "run_inputs",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("context", sa.String(length=100), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.dataset_id"], name=op.f("fk_run_inputs_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint(
            "run_uuid", "dataset_id", "version", "context", name=op.f("pk_run_inputs")
        ),
    )
    with op.batch_alter_table("run_inputs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_run_inputs_dataset_id_version"), ["dataset_id", "version"], unique=False
        )

    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("user_name", sa.String(length=250), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked_time", sa.BigInteger(), nullable=True),
        sa.Column("last_used_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name=op.f("fk_tokens_user_name_users")
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_user_name"), ["user_name"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_attempt_time", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.webhook_id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_state_next_attempt_time"),
            ["state", "next_attempt_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_webhook_id_event_seq"),
            ["webhook_id", "event_seq"],
            unique=True,
        )

    op.create_table(
        "approval_decisions",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("approver", sa.String(length=250), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.request_id"],
            name=op.f("fk_approval_decisions_request_id_approval_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "approver", name=op.f("pk_approval_decisions")),
    )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("project", sa.String(length=250), server_default="default", nullable=False)
        )

    op.execute(
        sa.text("INSERT INTO projects (name, description, created_time) VALUES ('default', '', 0)")
    )


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("project")

    op.drop_table("approval_decisions")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_webhook_id_event_seq"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_state_next_attempt_time"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_user_name"))

    op.drop_table("tokens")
    with op.batch_alter_table("run_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_inputs_dataset_id_version"))

    op.drop_table("run_inputs")
    op.drop_table("role_bindings")
    op.drop_table("registered_model_tags")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_run_uuid"))

    op.drop_table("model_versions")
    op.drop_table("model_aliases")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_dataset_id_digest"))

    op.drop_table("dataset_versions")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_requests_model_id_state"))

    op.drop_table("approval_requests")
    op.drop_table("approval_policies")
    op.drop_table("webhooks")
    op.drop_table("users")
    op.drop_table("registered_models")
    op.drop_table("projects")
    op.drop_table("model_version_tags")
    op.drop_table("event_cursors")
    op.drop_table("datasets")
