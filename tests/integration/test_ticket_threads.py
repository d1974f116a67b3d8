"""A ticket's other events are found by its stored thread key, however many other tickets its
customer has waiting, and the migration that adds the key fills it for earlier rows."""

from __future__ import annotations

from pathlib import Path

from bot.review.stale_drafts import newer_events, older_pending_drafts
from bot.store.database import (
    SessionFactory,
    create_engine,
    migrate,
    session_factory,
    transaction,
)
from bot.store.ingest import ingest
from bot.store.item_states import ItemState
from bot.store.items import update_item
from bot.store.models import Item
from bot.store.ticket_threads import MAX_KEY, thread_key
from bot.tickets import TicketIn
from tests.support.stored_items import insert_at_schema, pairs_after_migration, stored_item
from tests.support.ticket_factory import refund_ticket


def test_the_vendor_thread_wins_over_the_event_id_and_long_keys_are_digested() -> None:
    assert (
        thread_key("zendesk", {"zendesk_ticket_id": 42}, "ev-1") == "zendesk:zendesk_ticket_id:42"
    )
    assert thread_key("generic", {"thread_id": ""}, "T-1") == "generic:id:T-1"
    long = thread_key("generic", {"thread_id": "x" * 500}, "T-1")
    assert len(long) <= MAX_KEY and long.startswith("generic:sha256:")
    assert long == thread_key("generic", {"thread_id": "x" * 500}, "T-2")
    assert long != thread_key("generic", {"thread_id": "x" * 499}, "T-1")


async def _store(sessions: SessionFactory, ticket: dict[str, object], *, pending: bool) -> Item:
    result = await ingest(sessions, "generic", TicketIn.model_validate(ticket))
    async with transaction(sessions) as session:
        if pending:
            await update_item(session, result.item_id, state=ItemState.PENDING_REVIEW.value)
        item = await session.get(Item, result.item_id)
    assert item is not None
    return item


async def test_a_follow_up_is_found_among_many_unrelated_tickets_of_its_customer(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        original = await _store(
            sessions, refund_ticket(metadata={"thread_id": "conv-7"}), pending=True
        )
        # More unrelated pending tickets from the same customer than the old lookup's 50.
        for _ in range(60):
            await _store(sessions, refund_ticket(), pending=True)
        follow_up = await _store(
            sessions, refund_ticket(metadata={"thread_id": "conv-7"}), pending=False
        )
        assert original.thread_key == follow_up.thread_key == "generic:thread_id:conv-7"
        async with sessions() as session:
            assert [i.id for i in await older_pending_drafts(session, follow_up)] == [original.id]
            assert [i.id for i in await newer_events(session, original)] == [follow_up.id]
    finally:
        await engine.dispose()


def test_the_migration_keys_the_items_stored_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url, "0009")
    rows = [
        stored_item("itm_thr1", ItemState.PENDING_REVIEW, extra={"ticket_id": "Z-9"}),
        stored_item("itm_thr2", ItemState.EXECUTED, external_id="T-77"),
    ]
    insert_at_schema(url, rows)
    keys = pairs_after_migration(url, "0010", "SELECT id, thread_key FROM item ORDER BY id")
    assert keys == {"itm_thr1": "generic:ticket_id:Z-9", "itm_thr2": "generic:id:T-77"}
