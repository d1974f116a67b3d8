"""The one ``Item`` builder for tests that make rows (or render them) without the pipeline: the
required columns filled with neutral values, everything a test is about passed in as keywords."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.column_types import utcnow
from bot.store.database import migrate, sync_url
from bot.store.ingest import new_item_id
from bot.store.item_states import ItemState
from bot.store.models import Item
from bot.store.stat_tally import rebuild
from bot.store.ticket_threads import thread_key

# What the heuristic classifier leaves on a high-risk refund of 80.00 USD waiting for review:
# the fields a card, a modal or App Home renders.
ASSESSED_REFUND: dict[str, Any] = {
    "subject": "Refund",
    "body": "Please refund me",
    "customer_name": "Ann",
    "customer_email": "ann@example.com",
    "classifier": "heuristic",
    "category": "refund",
    "risk_level": "high",
    "risk_score": 0.75,
    "reasons": ["big refund"],
    "draft_reply": "Hi Ann",
    "proposed_action": {"kind": "refund", "amount": "80.00", "currency": "USD"},
}


def stored_item(
    item_id: str | None = None,
    state: str = ItemState.PENDING_REVIEW,
    *,
    created_at: datetime | None = None,
    assessed: bool = False,
    **fields: Any,
) -> Item:
    """An ``Item`` with a fresh id (unless given), created now (unless given) and updated then.

    ``assessed`` starts from ``ASSESSED_REFUND`` instead of a bare ticket; ``fields`` override
    any default, so a test names exactly what it is about."""
    item_id = item_id or new_item_id()
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
        **(ASSESSED_REFUND if assessed else {}),
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


def pairs_after_migration(url: str, revision: str, query: str) -> dict[Any, Any]:
    """Migrate ``url`` to ``revision``, then read ``query``'s two columns as key and value: what
    the migration made of the rows stored before it (a migration test's "after")."""
    migrate(url, revision)
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(sa.text(query))}
    finally:
        engine.dispose()
