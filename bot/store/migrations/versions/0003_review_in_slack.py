"""Review in Slack: AI/approved/executed versions, edits, quorum, stale drafts, reject reasons.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ai_reply", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ai_action", JSON, nullable=True))
        batch_op.add_column(sa.Column("approved_reply", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("approved_action", JSON, nullable=True))
        batch_op.add_column(sa.Column("executed_reply", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("executed_action", JSON, nullable=True))
        batch_op.add_column(
            sa.Column("draft_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("edited_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("edit_summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("approvals", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("approvals_required", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("lead_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("stale_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("redrafted_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("item", schema=None) as batch_op:
        for name in (
            "redrafted_until",
            "stale_at",
            "stale_reason",
            "lead_required",
            "approvals_required",
            "approvals",
            "edit_summary",
            "edited_at",
            "edited_by",
            "draft_version",
            "executed_action",
            "executed_reply",
            "approved_action",
            "approved_reply",
            "ai_action",
            "ai_reply",
        ):
            batch_op.drop_column(name)
