"""two-step verification: account modes, trusted devices, TOTP, recovery codes, login
challenges, and the risk model's login history

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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
            sa.Column("two_step_mode", sa.String(16), nullable=False, server_default="new_devices")
        )
        batch.add_column(
            sa.Column("two_step_forced", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("phone_verified_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("trusted_until", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("ask_again", sa.Boolean(), nullable=False, server_default="0")
        )

    op.create_table(
        "totp_factors",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("account_id", name="uq_totp_factors_account_id"),
        *_keys("totp_factors"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        *_keys("recovery_codes"),
    )
    op.create_index("ix_recovery_codes_account_id", "recovery_codes", ["account_id"])
    op.create_table(
        "challenges",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", Id, nullable=True),
        sa.Column("login_key", sa.String(128), nullable=False),
        sa.Column("password_ok", sa.Boolean(), nullable=False),
        sa.Column("device_hash", sa.String(64), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("strict", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("methods", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("code_channel", sa.String(8), nullable=False, server_default=""),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(16), nullable=False, server_default=""),
        sa.Column("ip", sa.String(45), nullable=False, server_default=""),
        sa.Column("decision", sa.Text(), nullable=False, server_default="{}"),
        sa.UniqueConstraint("token_hash", name="uq_challenges_token_hash"),
        *_keys("challenges"),
    )
    op.create_index("ix_challenges_expires_at", "challenges", ["expires_at"])
    op.create_table(
        "risk_history",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False, server_default=""),
        sa.Column("network", sa.String(128), nullable=False, server_default=""),
        sa.Column("country", sa.String(2), nullable=False, server_default=""),
        sa.Column("ua", sa.String(512), nullable=False, server_default=""),
        sa.Column("browser", sa.String(64), nullable=False, server_default=""),
        sa.Column("os", sa.String(64), nullable=False, server_default=""),
        sa.Column("device_type", sa.String(16), nullable=False, server_default=""),
        sa.Column("device_id", sa.String(64), nullable=True),
        *_keys("risk_history"),
    )
    op.create_index("ix_risk_history_account_id_at", "risk_history", ["account_id", "at"])
    op.create_index("ix_risk_history_at", "risk_history", ["at"])


def downgrade() -> None:
    op.drop_table("risk_history")
    op.drop_table("challenges")
    op.drop_table("recovery_codes")
    op.drop_table("totp_factors")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("ask_again")
        batch.drop_column("trusted_until")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("phone_verified_at")
        batch.drop_column("two_step_forced")
        batch.drop_column("two_step_mode")
