"""Reminders, escalation and expiry under a controllable clock, with two instances sweeping the
same database at the same moments: each follow-up happens exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.lead_settings.seed import seed_thresholds
from bot.review.reminders import FollowUpCounts, run_follow_ups
from bot.runtime import Runtime, open_runtime
from bot.store.items import get_item
from tests.support.fakes.slack_api import FakeSlack
from tests.support.pending_items import carded_item
from tests.support.server_harness import LEAD, REVIEW_CHANNEL, REVIEWER, slack_settings


@pytest.fixture
async def two_instances(
    database_url: str, slack: FakeSlack, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = slack_settings(
        database_url,
        slack,
        reviewers=REVIEWER,
        leads=LEAD,
        escalate_after="2h",
        expire_after="24h",
        reminder_fractions="0.5,0.9",
        **overrides,
    )
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        await seed_thresholds(first.sessions, settings)
        yield first, second


async def _pending_item(rt: Runtime) -> tuple[str, datetime]:
    item = await carded_item(rt)
    assert item.review_started_at is not None
    return item.id, item.review_started_at


async def _sweep_both(pair: tuple[Runtime, Runtime], now: datetime) -> FollowUpCounts:
    a, b = await asyncio.gather(run_follow_ups(pair[0], now), run_follow_ups(pair[1], now))
    return FollowUpCounts(
        a.reminders + b.reminders, a.escalations + b.escalations, a.expiries + b.expiries
    )


def _thread_posts(slack: FakeSlack, ts: str) -> list[str]:
    return [
        c.params["text"] for c in slack.calls("chat.postMessage") if c.params.get("thread_ts") == ts
    ]


async def test_each_follow_up_fires_once_across_two_instances(
    two_instances: tuple[Runtime, Runtime], slack: FakeSlack
) -> None:
    first = two_instances[0]
    item_id, started = await _pending_item(first)
    item = await get_item(first.sessions, item_id)
    assert item is not None and item.slack_ts

    assert await _sweep_both(two_instances, started + timedelta(minutes=59)) == FollowUpCounts()
    assert await _sweep_both(two_instances, started + timedelta(minutes=61)) == FollowUpCounts(
        1, 0, 0
    )
    assert await _sweep_both(two_instances, started + timedelta(minutes=62)) == FollowUpCounts()
    first_reminder = _thread_posts(slack, item.slack_ts)
    assert len(first_reminder) == 1 and f"<@{REVIEWER}>" in first_reminder[0]
    assert "waiting 1 h 1 min" in first_reminder[0]

    assert await _sweep_both(two_instances, started + timedelta(minutes=109)) == FollowUpCounts(
        1, 0, 0
    )
    assert await _sweep_both(two_instances, started + timedelta(minutes=121)) == FollowUpCounts(
        0, 1, 0
    )
    assert await _sweep_both(two_instances, started + timedelta(hours=5)) == FollowUpCounts()
    dms = [c for c in slack.calls("chat.postMessage") if str(c.params["channel"]).startswith("D")]
    assert [c.params["channel"] for c in dms] == [f"D{LEAD}"]
    assert "Escalated" in dms[0].params["text"]
    assert len(_thread_posts(slack, item.slack_ts)) == 3

    assert await _sweep_both(
        two_instances, started + timedelta(hours=24, minutes=1)
    ) == FollowUpCounts(0, 0, 1)
    assert await _sweep_both(two_instances, started + timedelta(hours=30)) == FollowUpCounts()
    expired = await get_item(first.sessions, item_id)
    assert expired is not None and expired.state == "expired" and expired.decision_id is None
    card = slack.messages[(REVIEW_CHANNEL, item.slack_ts)]
    assert "Expired" in str(card["blocks"]) and "actions" not in str(card["blocks"])


@pytest.mark.parametrize("two_instances", [{"expiry_action": "keep_waiting"}], indirect=True)
async def test_keep_waiting_leaves_the_item_pending(
    two_instances: tuple[Runtime, Runtime], slack: FakeSlack
) -> None:
    item_id, started = await _pending_item(two_instances[0])
    counts = await _sweep_both(two_instances, started + timedelta(hours=25))
    # Both reminders are overdue after a day of downtime: one is sent, not a burst of them.
    assert counts == FollowUpCounts(reminders=1, escalations=1, expiries=1)
    assert await _sweep_both(two_instances, started + timedelta(hours=26)) == FollowUpCounts()
    item = await get_item(two_instances[0].sessions, item_id)
    assert item is not None and item.state == "pending_review"


async def test_decided_items_get_no_follow_up(
    two_instances: tuple[Runtime, Runtime], slack: FakeSlack
) -> None:
    from bot.review.reject import reject
    from bot.review.result import ReviewStatus
    from bot.review.roster import Roles
    from policies.reject_reasons import RejectReason

    first = two_instances[0]
    item_id, started = await _pending_item(first)
    result = await reject(
        first.sessions,
        item_id=item_id,
        roles=Roles(REVIEWER, frozenset({REVIEWER}), frozenset()),
        reason=RejectReason.SHOULD_NOT_ACT,
        detail="",
    )
    assert result.status == ReviewStatus.RECORDED
    assert await _sweep_both(two_instances, started + timedelta(days=3)) == FollowUpCounts()
