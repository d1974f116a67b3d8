"""A minimal stored ``Item`` for tests that write rows directly: the required columns filled
with neutral values, everything the test is about passed in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.database import sync_url
from bot.store.models import Item, utcnow
from bot.store.stat_tally import rebuild
from bot.store.ticket_threads import thread_key


def stored_item(
    item_id: str, state: str, *, created_at: datetime | None = None, **fields: Any
) -> Item:
    created = created_at or utcnow()
    values: dict[str, Any] = {
        "source": "generic",
        "external_id": item_id,
        "kind": "ticket",
        "subject": "s",
        "body": "b",
        "customer_name": "n",
        "customer_email": "e@example.com",
        "updated_at": created,
        **fields,
    }
    values.setdefault(
        "thread_key", thread_key(values["source"], values.get("extra") or {}, values["external_id"])
    )
    return Item(id=item_id, state=state, created_at=created, **values)


def rebuild_tallies(url: str) -> int:
    """Recompute the hourly tallies after writing rows directly, as the migration would: the
    live code keeps them as events happen, and rows written here bypass it."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            return rebuild(connection)
    finally:
        engine.dispose()


def insert_at_schema(url: str, items: Sequence[Item]) -> None:
    """Write ``items`` into a database migrated only part way (a migration test's "before"):
    only the columns its ``item`` table has yet, read from the table itself."""
    engine = sa.create_engine(sync_url(url))
    try:
        table = sa.Table("item", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            for item in items:
                values = {column.name: getattr(item, column.name) for column in table.columns}
                connection.execute(table.insert().values(values))
    finally:
        engine.dispose()
