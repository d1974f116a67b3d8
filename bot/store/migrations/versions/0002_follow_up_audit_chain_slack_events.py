"""Follow-up due times, LLM usage, the audit hash chain and Slack event de-duplication.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:18:58.679291
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_event",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "llm_usage",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("review_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_item_escalate_at"), ["escalate_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_item_next_reminder_at"), ["next_reminder_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_next_reminder_at"))
        batch_op.drop_index(batch_op.f("ix_item_expires_at"))
        batch_op.drop_index(batch_op.f("ix_item_escalate_at"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalate_at")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("review_started_at")
        batch_op.drop_column("llm_usage")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")

    op.drop_table("slack_event")
