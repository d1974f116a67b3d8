"""item.edit_size: how much of the AI's reply an approved edit changed, stored once.

``/signoff stats`` used to diff the AI's and the approved texts of every edited approval in the
period, in Python, on each answer (and read a row per approval to count them): over a million
items that alone took more than a second. Fixed at approval, the size is summed by the database.
Rows approved before this migration get their size computed here, in batches, by a frozen copy
of the measure as it was when this migration was written (``bot.review.edit_size`` may change;
this migration must not).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import sqlalchemy as sa
from alembic import op

from bot.store.row_batches import in_batches

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPROVED = ("approved", "executing", "executed", "failed")
_TOKENS = re.compile(r"\w+|[^\w\s]")


def _edit_size(original: str | None, edited: str | None) -> float:
    """Frozen copy: 1 - difflib's ratio over words and punctuation (0 = untouched)."""
    a, b = (original or "").strip(), (edited or "").strip()
    if a == b:
        return 0.0
    return (
        1.0 - SequenceMatcher(None, _TOKENS.findall(a), _TOKENS.findall(b), autojunk=False).ratio()
    )


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_size", sa.Float(), nullable=True))
    item = sa.table(
        "item",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("edited_by", sa.String),
        sa.column("ai_reply", sa.Text),
        sa.column("draft_reply", sa.Text),
        sa.column("approved_reply", sa.Text),
        sa.column("edit_size", sa.Float),
    )
    connection = op.get_bind()
    query = sa.select(item.c.id, item.c.ai_reply, item.c.draft_reply, item.c.approved_reply).where(
        item.c.edited_by.is_not(None),
        item.c.state.in_(_APPROVED),
        item.c.edit_size.is_(None),
    )
    for rows in in_batches(connection, query, item.c.id):
        for item_id, ai_reply, draft_reply, approved_reply in rows:
            original = ai_reply if ai_reply is not None else draft_reply
            connection.execute(
                item.update()
                .where(item.c.id == item_id)
                .values(edit_size=_edit_size(original, approved_reply or draft_reply))
            )


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("edit_size")
