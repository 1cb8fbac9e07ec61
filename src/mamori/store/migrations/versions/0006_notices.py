"""notices: security inbox with notice codes and "this wasn't me", risk feedback flags,
password resets, forced reset and single-device mode on accounts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _keys(table: str) -> tuple[sa.PrimaryKeyConstraint, sa.ForeignKeyConstraint]:
    return (
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name=f"fk_{table}_account_id_accounts",
        ),
    )


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("password_reset_required", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("single_device", sa.Boolean(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("device_id", Id, nullable=True))
    op.create_table(
        "notices",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("channels", sa.String(32), nullable=False, server_default=""),
        sa.Column("params", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("event_id", Id, nullable=True),
        sa.Column("device_id", Id, nullable=True),
        sa.Column("session_id", Id, nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("action_hash", sa.String(64), nullable=True),
        sa.Column("action_expires_at", sa.DateTime(), nullable=True),
        sa.Column("feedback", sa.String(16), nullable=False, server_default=""),
        sa.Column("feedback_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("code_hash", name="uq_notices_code_hash"),
        sa.UniqueConstraint("action_hash", name="uq_notices_action_hash"),
        *_keys("notices"),
    )
    op.create_index("ix_notices_account_id_created_at", "notices", ["account_id", "created_at"])
    op.create_table(
        "risk_flags",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "kind", "value", name="uq_risk_flags_account_id_kind_value"
        ),
        *_keys("risk_flags"),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=False, server_default=""),
        sa.UniqueConstraint("token_hash", name="uq_password_resets_token_hash"),
        *_keys("password_resets"),
    )
    op.create_index("ix_password_resets_account_id", "password_resets", ["account_id"])


def downgrade() -> None:
    op.drop_table("password_resets")
    op.drop_table("risk_flags")
    op.drop_table("notices")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("device_id")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("single_device")
        batch.drop_column("password_reset_required")
