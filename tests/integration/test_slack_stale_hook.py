"""The arrival hook for stale drafts: a newer event for the same ticket marks the older pending
draft stale and its card says so before anyone clicks; other tickets are left alone."""

from __future__ import annotations

import json

from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.worker import Worker
from bot.review.stale_drafts import mark_older_drafts_stale
from bot.runtime import open_runtime
from bot.store.ingest import ingest
from bot.store.items import get_item
from bot.tickets import TicketIn
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import REVIEWER, slack_settings
from tests.support.ticket_factory import refund_ticket


async def test_a_newer_event_marks_the_older_draft_stale_on_arrival(
    database_url: str, slack: FakeSlack
) -> None:
    settings = slack_settings(
        database_url,
        slack,
        reviewers=REVIEWER,
    )
    async with open_runtime(settings) as rt:
        await seed_thresholds(rt.sessions, settings)

        async def store(ticket: dict[str, object]) -> str:
            return (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id

        older = await store(refund_ticket("300.00", metadata={"thread_id": "conv-1"}))
        other = await store(refund_ticket("300.00", metadata={"thread_id": "conv-2"}))
        await Worker(rt).drain()
        newer = await store(refund_ticket("300.00", metadata={"thread_id": "conv-1"}))

        assert await mark_older_drafts_stale(rt, newer) == [older]
        assert await mark_older_drafts_stale(rt, newer) == []  # once is enough
        stale = await get_item(rt.sessions, older)
        untouched = await get_item(rt.sessions, other)
    assert stale is not None and untouched is not None
    assert stale.stale_reason is not None and newer in stale.stale_reason
    assert untouched.stale_reason is None
    updates = [c for c in slack.calls("chat.update") if c.params["ts"] == stale.slack_ts]
    assert len(updates) == 1
    rendered = json.dumps(updates[0].params["blocks"])
    assert "Stale draft" in rendered and "signoff_redraft" in rendered
    assert "signoff_approve" not in rendered
