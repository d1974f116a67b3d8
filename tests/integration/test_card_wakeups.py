"""A card goes out as soon as its item entered review, without giving up Slack's pace: a pass
of the worker posts the cards of the items it just routed, and a poster waits out another
instance's hold on the channel's slot before it posts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlmodel import col

from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.slack.card_backlog import CardPoster
from bot.store.column_types import utcnow
from bot.store.database import sync_url, transaction
from bot.store.ingest import ingest
from bot.store.models import AuditEvent, Item, RunClaim
from bot.tickets import TicketIn
from tests.support.approved_items import seed_pending
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import REVIEW_CHANNEL, slack_settings
from tests.support.ticket_factory import password_ticket, refund_ticket

# Only a guard against hanging when the behaviour is wrong; nothing asserts how long anything took.
HANG_GUARD_SECONDS = 20.0


def _settings(database_url: str, slack: FakeSlack) -> Settings:
    return slack_settings(
        database_url,
        slack,
        log_level="WARNING",
    )


async def test_a_pass_posts_the_cards_of_the_items_it_sent_to_review(
    database_url: str, slack: FakeSlack
) -> None:
    settings = _settings(database_url, slack)
    async with open_runtime(settings) as rt:
        ticket = TicketIn.model_validate(refund_ticket())
        item_id = (await ingest(rt.sessions, "generic", ticket)).item_id
        worker = Worker(rt)
        assert await worker.run_once() == 1
        # The poster the pass started (or woke) after routing, not one left for the next sweep.
        posting = worker._posting
        assert posting is not None
        await asyncio.wait_for(posting, timeout=HANG_GUARD_SECONDS)
        async with rt.sessions() as session:
            item = await session.get(Item, item_id)
        await worker.close()
    assert item is not None and item.slack_ts is not None
    cards = [c for c in slack.calls("chat.postMessage") if item_id in str(c.params)]
    assert len(cards) == 1


async def test_a_slot_another_instance_holds_is_waited_out_before_posting(
    database_url: str, slack: FakeSlack
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        [item_id] = seed_pending(db, 1, slack_channel=None, slack_ts=None)
    finally:
        db.dispose()
    settings = _settings(database_url, slack)
    async with open_runtime(settings) as rt:
        assert rt.publisher is not None
        held = utcnow() + timedelta(seconds=0.3)
        async with transaction(rt.sessions) as session:
            session.add(
                RunClaim(
                    key=f"post_slot:{REVIEW_CHANNEL}",
                    claimed_by="other-instance",
                    claimed_at=utcnow(),
                    held_until=held,
                )
            )
        posted = await asyncio.wait_for(
            CardPoster(rt, "poster-1").run(), timeout=HANG_GUARD_SECONDS
        )
        async with rt.sessions() as session:
            card_at = (
                await session.execute(
                    select(col(AuditEvent.at)).where(
                        col(AuditEvent.item_id) == item_id, col(AuditEvent.event) == "card_posted"
                    )
                )
            ).scalar_one()
            slot = await session.get(RunClaim, f"post_slot:{REVIEW_CHANNEL}")
    assert posted == 1
    assert card_at >= held  # not before the other instance's slot ended
    assert slot is not None and slot.claimed_by == "poster-1" and slot.claimed_at >= held


def _unposted_card_lookups(statements: list[str]) -> int:
    return sum(1 for s in statements if "slack_ts IS NULL" in s and s.startswith("SELECT item.id"))


async def test_the_loop_looks_for_cards_when_one_may_wait_not_after_every_executed_item(
    database_url: str, slack: FakeSlack
) -> None:
    """Items executed without a human leave no card, so the slots they free start no card pass
    (a query each); an item sent to review does, and its card goes out at once, long before the
    loop's idle poll (an hour here) would have looked."""
    settings = _settings(database_url, slack)
    async with open_runtime(settings) as rt:
        statements: list[str] = []

        def note(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            statements.append(" ".join(statement.split()))

        executed = [await _add(rt, password_ticket(subject=f"password {n}")) for n in range(6)]
        event.listen(rt.engine.sync_engine, "before_cursor_execute", note)
        worker = Worker(rt, concurrency=2, idle_wait=3600)
        loop = asyncio.create_task(worker.run_forever())
        try:
            await asyncio.wait_for(_until_in(rt, executed, "executed"), HANG_GUARD_SECONDS)
            # One look when the loop started; none for the six executed items.
            assert _unposted_card_lookups(statements) == 1
            refund = await _add(rt, refund_ticket())
            worker.notify()
            await asyncio.wait_for(_until_posted(rt, refund), HANG_GUARD_SECONDS)
        finally:
            worker.stop()
            await loop
            await worker.close()
            event.remove(rt.engine.sync_engine, "before_cursor_execute", note)
    cards = [c for c in slack.calls("chat.postMessage") if refund in str(c.params)]
    assert len(cards) == 1


async def _add(rt: Runtime, ticket: dict[str, Any]) -> str:
    return (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id


async def _until_in(rt: Runtime, item_ids: list[str], state: str) -> None:
    while True:
        async with rt.sessions() as session:
            rows = await session.execute(select(col(Item.state)).where(col(Item.id).in_(item_ids)))
            if all(found == state for found in rows.scalars()):
                return
        await asyncio.sleep(0.05)


async def _until_posted(rt: Runtime, item_id: str) -> None:
    while True:
        async with rt.sessions() as session:
            item = await session.get(Item, item_id)
            if item is not None and item.slack_ts is not None:
                return
        await asyncio.sleep(0.05)
