"""item.thread_key: which source ticket an event belongs to, stored and indexed.

Stale-draft detection looked for a ticket's other events by loading every pending item of the
same customer and comparing keys computed from their JSON metadata in Python: with many pending
items from one sender that was most of the pipeline's database time (11% of the server's CPU in
the throughput benchmark), and the lookup of newer events stopped at 50 candidates, so a busy
customer's unrelated tickets could hide the real follow-up. Existing rows get their key here, in
batches, by a frozen copy of ``bot.store.ticket_threads.thread_key`` as it was at this revision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:00:00
"""

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import JSONType
from bot.store.row_batches import in_batches

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_THREAD_KEYS = (
    "thread_id",
    "ticket_id",
    "zendesk_ticket_id",
    "intercom_conversation_id",
    "hubspot_object_id",
)


def _thread_key(source: str, extra: dict[str, Any], external_id: str) -> str:
    """Frozen copy: the vendor's thread id when there is one, else the event's own id; a key
    longer than the column (200) is stored as its digest."""
    key = f"{source}:id:{external_id}"
    for name in _THREAD_KEYS:
        value = extra.get(name)
        if value not in (None, ""):
            key = f"{source}:{name}:{value}"
            break
    if len(key) > 200:
        return f"{source}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_key", sa.String(length=200), nullable=True))
    item = sa.table(
        "item",
        sa.column("id", sa.String),
        sa.column("source", sa.String),
        sa.column("external_id", sa.String),
        sa.column("extra", JSONType),
        sa.column("thread_key", sa.String),
    )
    connection = op.get_bind()
    query = sa.select(item.c.id, item.c.source, item.c.extra, item.c.external_id)
    for rows in in_batches(connection, query, item.c.id):
        connection.execute(
            item.update()
            .where(item.c.id == sa.bindparam("item_id"))
            .values(thread_key=sa.bindparam("key")),
            [{"item_id": row[0], "key": _thread_key(row[1], row[2] or {}, row[3])} for row in rows],
        )
    op.create_index("ix_item_thread_key_created_at", "item", ["thread_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_item_thread_key_created_at", table_name="item")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("thread_key")
