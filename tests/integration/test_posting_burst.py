"""A burst of high-risk tickets against a Slack that enforces its per-channel rate (429 with
Retry-After when exceeded): no card is lost, 429s stay rare, every card is posted once and in the
order items entered review; a backlog over the threshold gets one digest message first."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlmodel import col

from bot.runtime import open_runtime
from bot.slack.card_backlog import CardPoster
from bot.slack.cluster_card import CLUSTER_APPROVE_ACTION
from bot.store.column_types import utcnow
from bot.store.database import sync_url
from bot.store.models import AuditEvent, Item
from tests.conftest import TEST_DATABASE_URL
from tests.support.approved_items import seed_pending
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack, SlackCall
from tests.support.server_harness import (
    REVIEW_CHANNEL,
    slack_settings,
    start_server,
    wait_until,
)
from tests.support.ticket_factory import refund_ticket

BURST = 300
RATE = 30.0  # messages per second per channel, in the fake and in Signoff (1/s in production)
BACKEND = "postgres" if TEST_DATABASE_URL else "sqlite"


def _cards(slack: FakeSlack) -> list[SlackCall]:
    """Successful top-level item card posts (not thread lines, not digests, not the cluster card
    that offers *Approve all* beside a burst of similar refunds)."""
    return [
        c
        for c in slack.calls("chat.postMessage")
        if not c.failed
        and c.params.get("channel") == REVIEW_CHANNEL
        and not c.params.get("thread_ts")
        and c.params.get("blocks")
        and CLUSTER_APPROVE_ACTION not in json.dumps(c.params["blocks"])
    ]


def _digests(slack: FakeSlack) -> list[SlackCall]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if not c.failed and str(c.params.get("text", "")).startswith(":inbox_tray:")
    ]


def _card_item(call: SlackCall) -> str:
    blocks = json.dumps(call.params["blocks"])
    return blocks.split("review:", 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("database_url", [BACKEND], indirect=True)
def test_burst_of_high_risk_tickets_posts_every_card_in_order_without_a_429_storm(
    database_url: str, sink: HttpSink
) -> None:
    with FakeSlack() as slack:
        slack.rate_limit_per_channel = RATE
        with start_server(
            database_url=database_url,
            slack=slack,
            sink=sink,
            slack_posts_per_second=RATE,
            digest_threshold=20,
        ) as server:
            ids = [
                server.post_ticket(refund_ticket(f"{400 + n}.00")).json()["item_id"]
                for n in range(BURST)
            ]
            wait_until(
                lambda: len({_card_item(c) for c in _cards(slack)}) >= BURST,
                timeout=120,
                what=f"all {BURST} cards posted",
            )
            items = {i: server.item(i) for i in ids}
            card_events = Counter(
                item_id
                for item_id in ids
                for event in server.audit_events(item_id)
                if event == "card_posted"
            )
        posts = slack.calls("chat.postMessage")

    cards = _cards(slack)
    posted = [_card_item(c) for c in cards]
    assert sorted(posted) == sorted(ids)  # every card, each exactly once
    assert card_events == dict.fromkeys(ids, 1)
    assert all(item.slack_ts for item in items.values())
    entered = sorted(ids, key=lambda i: (items[i].review_started_at, i))
    assert posted == entered  # oldest first
    rejected = [c for c in posts if c.failed]
    assert len(rejected) <= 3, f"{len(rejected)} posts answered 429"
    assert len(_digests(slack)) <= 1


async def test_backlog_over_the_threshold_gets_one_digest_then_every_card(
    database_url: str, slack: FakeSlack
) -> None:
    """Two instances work through 30 waiting cards (threshold 20): one digest names the backlog
    oldest first, then every card is posted once."""
    waiting = 30
    now = utcnow()
    db = create_engine(sync_url(database_url))
    ids: list[str] = []
    try:
        for n in range(waiting):  # entered review one minute apart, oldest first
            ids += seed_pending(
                db,
                1,
                slack_channel=None,
                slack_ts=None,
                review_started_at=now - timedelta(minutes=waiting - n),
            )
    finally:
        db.dispose()
    settings = slack_settings(
        database_url,
        slack,
        slack_posts_per_second=50,
        digest_threshold=20,
        log_level="WARNING",
    )
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        for rt in (first, second):
            assert rt.publisher is not None
            rt.publisher.configure(settings)
        counts = await asyncio.gather(
            CardPoster(first, "poster-1").run(), CardPoster(second, "poster-2").run()
        )
        async with first.sessions() as session:
            events = Counter(
                (
                    await session.execute(
                        select(col(AuditEvent.item_id)).where(
                            col(AuditEvent.event) == "card_posted"
                        )
                    )
                ).scalars()
            )
            unposted = (
                await session.execute(select(col(Item.id)).where(col(Item.slack_ts).is_(None)))
            ).all()

    assert sum(counts) == waiting and unposted == []
    assert events == dict.fromkeys(ids, 1)
    [digest] = _digests(slack)
    text = str(digest.params["text"])
    assert f"{waiting} items are waiting" in text and "…and" not in text
    assert [line.split("`")[1] for line in text.splitlines()[1:]] == ids  # oldest first
    posts = [c for c in slack.calls("chat.postMessage") if not c.failed]
    # Before (nearly) all the cards it announces: the other instance does not wait for the
    # digest, so under load it may post a few cards while the digest is being sent.
    assert posts.index(digest) <= 4
    assert sorted(_card_item(c) for c in _cards(slack)) == sorted(ids)
