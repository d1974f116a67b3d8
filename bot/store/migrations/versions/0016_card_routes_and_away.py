"""card_route, reviewer_away, and the card's channel and reviewers on each item.

Leads route cards to team channels (``card_route``; removed rules are kept, marked, so a removal
can be reverted); a reviewer's absence and delegate live in ``reviewer_away``. An item keeps the
channel and reviewer group it was routed to when it entered review, so a later rule change
never moves a card or changes who may decide it.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_route",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("selector", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reviewer_group", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "reviewer_away",
        sa.Column("user_id", sa.String(length=64), primary_key=True),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("delegate", sa.String(length=64), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("review_channel", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("reviewer_group", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("card_route_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_column("card_route_id")
        batch.drop_column("reviewer_group")
        batch.drop_column("review_channel")
    op.drop_table("reviewer_away")
    op.drop_table("card_route")
