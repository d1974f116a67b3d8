"""auto_money_reservation: money executed without a human, counted against the lead's budgets.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auto_money_reservation",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("customer", sa.String(length=320), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reserved_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        "ix_auto_money_reservation_customer_at",
        "auto_money_reservation",
        ["customer", "reserved_at"],
    )
    op.create_index(
        "ix_auto_money_reservation_reserved_at", "auto_money_reservation", ["reserved_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_auto_money_reservation_reserved_at", table_name="auto_money_reservation")
    op.drop_index("ix_auto_money_reservation_customer_at", table_name="auto_money_reservation")
    op.drop_table("auto_money_reservation")
