"""Earned autonomy: bucket and shadow note on items, review outcomes per bucket, bucket state
and pins, threshold changes with their dry runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("autonomy_bucket", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column(
                "autonomy_would_auto", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("autonomy_note", sa.Text(), nullable=True))
        batch_op.create_index("ix_item_autonomy_bucket", ["autonomy_bucket"])

    op.create_table(
        "autonomy_outcome",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_id", "source", name="uq_autonomy_outcome_item_source"),
    )
    op.create_index("ix_autonomy_outcome_bucket_at", "autonomy_outcome", ["bucket", "at"])

    op.create_table(
        "autonomy_bucket",
        sa.Column("key", sa.String(length=120), primary_key=True),
        sa.Column("pin", sa.String(length=16), nullable=False, server_default="none"),
        sa.Column("pinned_by", sa.String(length=64), nullable=True),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reset_reason", sa.Text(), nullable=True),
        sa.Column("trusted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "threshold_change",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.String(length=200), nullable=False),
        sa.Column("new_value", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", JSON, nullable=False),
        sa.Column("reverts_id", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("threshold_change")
    op.drop_table("autonomy_bucket")
    op.drop_index("ix_autonomy_outcome_bucket_at", table_name="autonomy_outcome")
    op.drop_table("autonomy_outcome")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index("ix_item_autonomy_bucket")
        batch_op.drop_column("autonomy_note")
        batch_op.drop_column("autonomy_would_auto")
        batch_op.drop_column("autonomy_bucket")
