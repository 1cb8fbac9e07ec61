"""counters: windowed counters, deadlines, member sets, tallies (SQLCounters)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_counters"),
    )
    op.create_index("ix_counters_expires_at", "counters", ["expires_at"])
    op.create_table(
        "deadlines",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_deadlines"),
    )
    op.create_table(
        "counter_members",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("member", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", "member", name="pk_counter_members"),
    )
    op.create_table(
        "tallies",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("member", sa.String(200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", "member", name="pk_tallies"),
    )
    op.create_index("ix_tallies_key_count", "tallies", ["key", "count"])
    op.create_index("ix_tallies_expires_at", "tallies", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tallies_expires_at", table_name="tallies")
    op.drop_index("ix_tallies_key_count", table_name="tallies")
    op.drop_table("tallies")
    op.drop_table("counter_members")
    op.drop_table("deadlines")
    op.drop_index("ix_counters_expires_at", table_name="counters")
    op.drop_table("counters")
