"""item.send_started_at: an execution call has gone out and its outcome is not known yet.

Set in the same conditional UPDATE that counts the attempt, right before the executor calls out,
and cleared when the outcome is recorded. A worker that takes over an ``executing`` item whose
previous attempt is still marked knows the far side may already have acted: it resends only
through executors that de-duplicate by idempotency key, and otherwise hands the item to a human.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("send_started_at")
