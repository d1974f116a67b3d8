"""An item waiting for review with its card posted, made in-process (no HTTP server), for the
follow-up tests that drive the sweep with their own clock."""

from __future__ import annotations

from datetime import timedelta

from bot.pipeline.pipeline import Pipeline
from bot.runtime import Runtime
from bot.slack.card_backlog import CardPoster
from bot.store.ingest import ingest
from bot.store.items import claim, get_item
from bot.store.models import Item
from bot.tickets import TicketIn
from tests.support.ticket_factory import refund_ticket


async def carded_item(rt: Runtime) -> Item:
    item_id = (
        await ingest(rt.sessions, "generic", TicketIn.model_validate(refund_ticket()))
    ).item_id
    pipeline = Pipeline(rt, "w")
    for claimed in await claim(
        rt.sessions, "w", lease=timedelta(seconds=30), limit=5, include_unposted=True
    ):
        await pipeline.advance(claimed)
    await CardPoster(rt, "w").run()  # the card, if the channel's slot was taken just now
    item = await get_item(rt.sessions, item_id)
    assert item is not None and item.state == "pending_review" and item.slack_ts
    assert item.review_started_at is not None
    return item
