"""Running one ticket through the real pipeline in-process, the way a worker would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.pipeline.pipeline import Pipeline
from bot.runtime import Runtime
from bot.store.ingest import ingest
from bot.store.items import claim, get_item
from bot.store.models import Item
from bot.tickets import TicketIn


async def run_ticket(rt: Runtime, ticket: dict[str, Any], passes: int = 3) -> Item:
    """Ingest ``ticket`` and let one worker advance whatever is due a few times."""
    item_id = (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id
    pipeline = Pipeline(rt, "w-test")
    for _ in range(passes):
        for claimed in await claim(
            rt.sessions, "w-test", lease=timedelta(seconds=30), limit=10, include_unposted=False
        ):
            await pipeline.advance(claimed)
    item = await get_item(rt.sessions, item_id)
    assert item is not None
    return item
