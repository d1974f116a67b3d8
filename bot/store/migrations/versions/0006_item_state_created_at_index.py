"""Index on item (state, created_at): the review queue, oldest first, without scanning history.

``/signoff pending`` asks for the oldest items in one state. With only single-column indexes,
PostgreSQL walks ``ix_item_created_at`` from the oldest item and filters by state; pending items
are the newest, so with a million items it read 990,000 rows (1 s) to find ten. The composite
index answers the count and the page from the index alone (benchmarks/scale.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_item_state_created_at", "item", ["state", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_item_state_created_at", table_name="item")
