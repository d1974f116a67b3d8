"""stat_tally and decision.wait_seconds: ``/signoff stats`` without counting the period's items.

``stat_tally`` holds hourly counts kept as events happen (``bot.store.stat_tally``); this migration
fills it from the existing rows. ``decision.wait_seconds`` is a human decision's wait, stored
once (decisions are never updated), so the median is read from one narrow index; earlier human
decisions get theirs computed here, in batches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime
from bot.store.row_batches import in_batches
from bot.store.stat_tally import rebuild, wait_seconds

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill_waits(connection: sa.Connection) -> None:
    decision = sa.table(
        "decision",
        sa.column("id", sa.BigInteger),
        sa.column("item_id", sa.String),
        sa.column("outcome", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("wait_seconds", sa.Float),
    )
    item = sa.table(
        "item",
        sa.column("id", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("review_started_at", UTCDateTime()),
    )
    query = (
        sa.select(decision.c.id, decision.c.created_at, item.c.review_started_at, item.c.created_at)
        .join(item, item.c.id == decision.c.item_id)
        .where(decision.c.outcome != "auto_approved")
    )
    for rows in in_batches(connection, query, decision.c.id):
        connection.execute(
            decision.update()
            .where(decision.c.id == sa.bindparam("decision_id"))
            .values(wait_seconds=sa.bindparam("wait")),
            [{"decision_id": row[0], "wait": wait_seconds(row[1], row[2], row[3])} for row in rows],
        )


def upgrade() -> None:
    op.create_table(
        "stat_tally",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "category", "metric"),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wait_seconds", sa.Float(), nullable=True))
    op.create_index("ix_decision_created_at_wait", "decision", ["created_at", "wait_seconds"])
    connection = op.get_bind()
    _backfill_waits(connection)
    rebuild(connection)


def downgrade() -> None:
    op.drop_index("ix_decision_created_at_wait", table_name="decision")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("wait_seconds")
    op.drop_table("stat_tally")
