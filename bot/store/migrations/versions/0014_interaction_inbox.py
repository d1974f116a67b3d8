"""interaction_inbox: every acknowledged Slack interaction, recorded before its ack.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.store.column_types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "interaction_inbox",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("retry_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("signed_at", sa.String(length=20), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.UniqueConstraint("retry_key", name="uq_interaction_inbox_retry_key"),
    )
    op.create_index("ix_interaction_inbox_lane_id", "interaction_inbox", ["lane", "id"])
    op.create_index("ix_interaction_inbox_done_at_id", "interaction_inbox", ["done_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_interaction_inbox_done_at_id", table_name="interaction_inbox")
    op.drop_index("ix_interaction_inbox_lane_id", table_name="interaction_inbox")
    op.drop_table("interaction_inbox")
