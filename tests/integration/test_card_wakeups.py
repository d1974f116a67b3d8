"""A card goes out as soon as its item entered review, without giving up Slack's pace: a pass
of the worker posts the cards of the items it just routed, and a poster waits out another
instance's hold on the channel's slot before it posts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import create_engine, select
from sqlmodel import col

from bot.pipeline.worker import Worker
from bot.runtime import open_runtime
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
from tests.support.ticket_factory import refund_ticket

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
