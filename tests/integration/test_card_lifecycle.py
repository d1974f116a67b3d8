"""Cards appear where a human is needed, once: a failed auto-approved action gets a card with a
lead's Retry, and a card posted twice (after a takeover, or over a re-draft) is taken back."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select, update
from sqlmodel import col

from bot.runtime import open_runtime
from bot.slack.card import RETRY_ACTION
from bot.store.database import sync_url
from bot.store.item_states import ItemState
from bot.store.models import AuditEvent, Item
from tests.support.approved_items import seed_pending
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    REVIEW_CHANNEL,
    RunningServer,
    slack_settings,
    wait_until,
)
from tests.support.ticket_factory import password_ticket


def _action_ids(blocks: list[dict[str, object]]) -> list[str]:
    return [
        str(element["action_id"])
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]  # type: ignore[attr-defined]
    ]


def test_a_failed_auto_approved_action_gets_a_card_with_retry(
    server: RunningServer, sink: HttpSink
) -> None:
    assert server.slack is not None
    sink.respond_with(400)  # permanent: the endpoint refuses the action
    item_id = server.post_ticket(password_ticket()).json()["item_id"]
    item = server.wait_for_state(item_id, ItemState.FAILED)
    [card] = server.slack.wait_for("chat.postMessage")
    assert card.params["channel"] == REVIEW_CHANNEL
    blocks = card.params["blocks"]
    assert _action_ids(blocks) == [RETRY_ACTION]
    rendered = json.dumps(blocks)
    assert "Auto-approved" in rendered and "execution failed" in rendered
    assert "HTTP 400" in rendered
    wait_until(lambda: server.item(item_id).slack_ts, what="the failure card recorded")
    assert item.route_policy == "low_risk_auto"
    assert server.audit_events(item_id)[-2:] == ["execution_failed", "card_posted"]


async def test_a_card_posted_over_another_is_deleted_again(
    database_url: str, slack: FakeSlack
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        [item_id] = seed_pending(db, 1, slack_channel=None, slack_ts=None)
        settings = slack_settings(database_url, slack, log_level="WARNING")
        async with open_runtime(settings) as rt:
            assert rt.publisher is not None
            async with rt.sessions() as session:
                item = await session.get(Item, item_id)
            assert item is not None
            # Meanwhile another instance posted this card (its lease ran out under this one).
            with db.begin() as connection:
                connection.execute(
                    update(Item)
                    .where(col(Item.id) == item_id)
                    .values(slack_channel=REVIEW_CHANNEL, slack_ts="1700000000.000001")
                )
            assert await rt.publisher.post_card_paced(item) is False
        with db.connect() as connection:
            kept = connection.execute(
                select(col(Item.slack_ts)).where(col(Item.id) == item_id)
            ).scalar_one()
            events = list(
                connection.execute(
                    select(col(AuditEvent.event)).where(col(AuditEvent.item_id) == item_id)
                ).scalars()
            )
    finally:
        db.dispose()
    [posted] = slack.calls("chat.postMessage")
    [deleted] = slack.calls("chat.delete")
    assert deleted.params["channel"] == REVIEW_CHANNEL
    assert str(deleted.params["ts"]) not in {"", "1700000000.000001"}
    assert slack.messages == {}  # the duplicate is gone from the channel
    assert kept == "1700000000.000001"
    assert "card_posted" not in events
    assert posted.params["channel"] == REVIEW_CHANNEL
