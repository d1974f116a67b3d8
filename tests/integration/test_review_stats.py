"""``/signoff stats`` from the hourly tallies rebuilt from stored rows: each event counted in the
period it happened in, the median wait exact, "pending" the queue as it is now."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from bot.stats.review_stats import ReviewStats, review_stats
from bot.store.database import create_engine, session_factory, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision
from bot.store.stat_tally import wait_seconds
from tests.support.stored_items import rebuild_tallies, stored_item

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)


async def _seed(url: str) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    # (state, decision outcome or None, minutes from review start to decision, edited, days ago)
    cases: list[tuple[str, str | None, float, bool, float]] = [
        (ItemState.EXECUTED, DecisionOutcome.AUTO_APPROVED, 0, False, 1),
        (ItemState.EXECUTED, DecisionOutcome.APPROVED, 30, False, 2),
        (ItemState.EXECUTED, DecisionOutcome.APPROVED, 10, True, 3),
        (ItemState.REJECTED, DecisionOutcome.REJECTED, 90, False, 1),
        (ItemState.FAILED, DecisionOutcome.APPROVED, 5, False, 0.5),
        (ItemState.EXPIRED, None, 0, False, 2),
        (ItemState.PENDING_REVIEW, None, 0, False, 0.1),
        (ItemState.EXECUTED, DecisionOutcome.APPROVED, 60, False, 30),  # before the period
        # Received before the period, decided in it: a decision of the period, not an arrival.
        (ItemState.EXECUTED, DecisionOutcome.APPROVED, 1440, False, 7.5),
    ]
    try:
        async with transaction(sessions) as session:
            for number, (state, outcome, minutes, edited, days) in enumerate(cases):
                created = NOW - timedelta(days=days)
                started = created + timedelta(minutes=2) if number % 2 else None
                item = stored_item(
                    f"itm_stats{number:04d}",
                    state,
                    created_at=created,
                    updated_at=created + timedelta(hours=1),
                    review_started_at=started,
                    edited_by="U0EDITOR" if edited else None,
                    category="billing",
                )
                session.add(item)
                await session.flush()
                if outcome is None:
                    continue
                decided = (started or created) + timedelta(minutes=minutes)
                human = outcome != DecisionOutcome.AUTO_APPROVED
                decision = Decision(
                    item_id=item.id,
                    outcome=outcome,
                    actor="U0REVIEWER",
                    wait_seconds=wait_seconds(decided, started, created) if human else None,
                    created_at=decided,
                )
                session.add(decision)
                await session.flush()
                item.decision_id = decision.id
    finally:
        await engine.dispose()
    rebuild_tallies(url)


async def _week(url: str) -> ReviewStats:
    engine = create_engine(url)
    try:
        return await review_stats(session_factory(engine), SINCE, "week")
    finally:
        await engine.dispose()


async def test_stats_count_the_events_of_the_period(database_url: str) -> None:
    await _seed(database_url)
    found = await _week(database_url)
    assert (found.received, found.auto, found.approved, found.approved_after_edit) == (7, 1, 3, 1)
    assert (found.rejected, found.expired, found.failed, found.pending) == (1, 1, 1, 1)
    assert found.median_minutes is not None
    assert math.isclose(found.median_minutes, 30.0, abs_tol=1e-6)  # of 5, 10, 30, 90, 1440
    assert found.lines()[1] == "• Items received: *7* · waiting for review now: 1"


async def test_stats_of_an_empty_period(database_url: str) -> None:
    found = await _week(database_url)
    assert found.received == 0 and found.median_minutes is None
