"""operations: webhook delivery queue, operators and their sessions and tokens, audit log,
incidents and their resumable actions, dormant-account fields

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("last_login_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("dormant_warned_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(), nullable=True))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("event_id", Id, nullable=True),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=False, server_default=""),
        _pk("webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "operators",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("totp_secret_enc", sa.Text(), nullable=False, server_default=""),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("name", name="uq_operators_name"),
        _pk("operators"),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("operator_id", Id, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("reauth_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_operator_sessions_token_hash"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            ondelete="CASCADE",
            name="fk_operator_sessions_operator_id_operators",
        ),
        _pk("operator_sessions"),
    )
    op.create_table(
        "operator_tokens",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_operator_tokens_token_hash"),
        _pk("operator_tokens"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("details", sa.Text(), nullable=False, server_default="{}"),
        _pk("audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "incidents",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("summary", sa.Text(), nullable=False, server_default="{}"),
        _pk("incidents"),
    )
    op.create_table(
        "incident_actions",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("incident_id", Id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="running"),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("params", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            ondelete="CASCADE",
            name="fk_incident_actions_incident_id_incidents",
        ),
        _pk("incident_actions"),
    )
    op.create_index("ix_incident_actions_incident_id", "incident_actions", ["incident_id"])
    op.create_table(
        "incident_action_items",
        sa.Column("action_id", Id, nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["incident_actions.id"],
            ondelete="CASCADE",
            name="fk_incident_action_items_action_id_incident_actions",
        ),
        sa.PrimaryKeyConstraint("action_id", "target", name="pk_incident_action_items"),
    )


def downgrade() -> None:
    op.drop_table("incident_action_items")
    op.drop_table("incident_actions")
    op.drop_table("incidents")
    op.drop_table("audit_log")
    op.drop_table("operator_tokens")
    op.drop_table("operator_sessions")
    op.drop_table("operators")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("dormant_warned_at")
        batch.drop_column("last_login_at")
