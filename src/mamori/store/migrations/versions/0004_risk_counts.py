"""risk counts: frequency tables of the risk model, maintained incrementally

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_counts",
        sa.Column("scope", sa.String(24), nullable=False),
        sa.Column("key", sa.String(600), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_risk_counts"),
    )


def downgrade() -> None:
    op.drop_table("risk_counts")
