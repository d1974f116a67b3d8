"""The daily digest: the right counts, posted once by two instances firing together, scheduled
at the configured UTC time (or not at all); and the run claim it relies on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, update
from sqlmodel import col

from bot.errors import ConfigurationError
from bot.pipeline.scheduler import DAILY_DIGEST_JOB, build_scheduler
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.settings import load_settings
from bot.slack.daily_digest import send_daily_digest
from bot.store.database import sync_url
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision, Item
from bot.store.run_claims import claim_run
from tests.support.approved_items import seed_approved, seed_pending
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import REVIEW_CHANNEL, slack_settings

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(hours=20)


@pytest.fixture
async def two_instances(database_url: str, slack: FakeSlack) -> AsyncIterator[tuple[Runtime, ...]]:
    settings = slack_settings(
        database_url,
        slack,
        slack_posts_per_second=50,
        log_level="WARNING",
    )
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        yield first, second


def _seed(database_url: str) -> str:
    """Yesterday: 2 approved, 1 rejected, 5 auto-approved, 1 expired, 4 executed, 1 failed;
    today: 1 more decision (not counted); 2 waiting, the oldest for 3 hours."""
    db = create_engine(sync_url(database_url))
    try:
        [oldest] = seed_pending(db, 1, review_started_at=NOW - timedelta(hours=3))
        seed_pending(db, 1, review_started_at=NOW - timedelta(hours=1))
        decided = seed_approved(db, 8, state=ItemState.EXECUTED)
        with db.begin() as connection:
            connection.execute(update(Decision).values(created_at=YESTERDAY))
            outcomes = [DecisionOutcome.APPROVED] * 2 + [DecisionOutcome.REJECTED]
            for item_id, outcome in zip(decided[:3], outcomes, strict=True):
                connection.execute(
                    update(Decision)
                    .where(col(Decision.item_id) == item_id)
                    .values(outcome=outcome, actor="U0REVIEWER")
                )
            connection.execute(
                insert(Decision),
                [
                    {
                        "item_id": decided[7],
                        "outcome": DecisionOutcome.APPROVED,
                        "actor": "U0REVIEWER",
                        "created_at": NOW - timedelta(minutes=5),
                    }
                ],
            )
            connection.execute(
                update(Item).where(col(Item.id).in_(decided[:4])).values(executed_at=YESTERDAY)
            )
            connection.execute(
                update(Item)
                .where(col(Item.id) == decided[4])
                .values(state=ItemState.FAILED, updated_at=YESTERDAY)
            )
            connection.execute(
                update(Item)
                .where(col(Item.id) == decided[5])
                .values(state=ItemState.EXPIRED, decided_at=YESTERDAY)
            )
    finally:
        db.dispose()
    return oldest


async def test_two_instances_post_one_digest_with_yesterdays_numbers(
    two_instances: tuple[Runtime, Runtime], slack: FakeSlack, database_url: str
) -> None:
    oldest = _seed(database_url)
    first, second = two_instances
    sent = await asyncio.gather(
        send_daily_digest(first, NOW, by="a"), send_daily_digest(second, NOW, by="b")
    )
    assert sorted(sent) == [False, True]
    [post] = [c for c in slack.calls("chat.postMessage") if not c.failed]
    text = str(post.params["text"])
    assert post.params["channel"] == REVIEW_CHANNEL
    assert "Tue 24 Nov 2026" in text
    assert f"*2* waiting for review; oldest `{oldest}`" in text and "waiting 3 h 0 min" in text
    # 8 decisions yesterday: 2 approved, 1 rejected, 5 auto (today's approval is not counted)
    assert "2 approved, 1 rejected, 5 auto-approved by policy, 1 expired" in text
    assert "4 executed, 1 failed" in text
    assert "Auto-execution rate yesterday: 62% of 8 decisions" in text

    # Later the same day (a second scheduler firing, a restart): nothing more.
    assert not await send_daily_digest(first, NOW + timedelta(hours=2), by="a")
    # The next day posts again.
    assert await send_daily_digest(second, NOW + timedelta(days=1), by="b")
    assert len([c for c in slack.calls("chat.postMessage") if not c.failed]) == 2


async def test_digest_schedule_follows_the_setting(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    rt = two_instances[0]
    for at, expected in (("07:30", (7, 30)), ("", None)):
        rt.settings = rt.settings.model_copy(update={"daily_digest_at": at})
        scheduler = build_scheduler(Worker(rt), interval_seconds=5)
        job = scheduler.get_job(DAILY_DIGEST_JOB)
        if expected is None:
            assert job is None
            continue
        assert job is not None
        fire = job.trigger.get_next_fire_time(None, NOW)
        assert fire == datetime(2026, 11, 26, *expected, tzinfo=UTC)  # 07:30 is past at 09:00
    with pytest.raises(ConfigurationError):
        load_settings(_env_file=None, SIGNOFF_DAILY_DIGEST_AT="9am")


async def test_run_claim_is_exclusive_until_the_hold_ends(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    first, second = two_instances
    until = NOW + timedelta(minutes=10)
    results = await asyncio.gather(
        *(
            claim_run(rt.sessions, "job", by=f"i{n}", now=NOW, until=until)
            for n, rt in enumerate([first, second] * 3)
        )
    )
    assert sorted(results) == [False] * 5 + [True]
    assert not await claim_run(
        first.sessions, "job", by="x", now=until - timedelta(seconds=1), until=until
    )
    assert await claim_run(
        second.sessions, "job", by="y", now=until, until=until + timedelta(minutes=1)
    )
