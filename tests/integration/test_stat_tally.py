"""The hourly tallies ``/signoff stats`` reads are kept by the real flows as events happen, and
equal what a rebuild from the rows computes; the stats read from them count each event once."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.lead_settings.registry import load_lead_settings
from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.pipeline import Pipeline
from bot.review.approve import approve
from bot.review.edit import save_edit
from bot.review.reject import reject
from bot.review.reminders import run_follow_ups
from bot.review.result import ReviewStatus
from bot.review.roster import Roles
from bot.runtime import Runtime, open_runtime
from bot.stats.review_stats import parse_period, review_stats
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import create_engine, migrate, session_factory, sync_url, transaction
from bot.store.ingest import ingest
from bot.store.item_states import ItemState
from bot.store.items import claim, get_item
from bot.store.stat_tally import Metric, hour_of, rejected_metric, wait_seconds
from bot.tickets import TicketIn
from policies.reject_reasons import RejectReason
from tests.support.bot_cli import run_bot
from tests.support.scripted_executor import ScriptedExecutor
from tests.support.server_harness import LEAD, REVIEWER, make_settings
from tests.support.stored_items import (
    insert_at_schema,
    pairs_after_migration,
    rebuild_tallies,
    stored_item,
)
from tests.support.ticket_factory import password_ticket, refund_ticket

ROLES = Roles(user_id=REVIEWER, reviewers=frozenset({REVIEWER}), leads=frozenset({LEAD}))
TallyRows = dict[tuple[str, str, str], tuple[int, float]]


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_url=database_url, reviewers=REVIEWER, leads=LEAD, expire_after="24h"
    )
    async with open_runtime(settings) as rt:
        await seed_thresholds(rt.sessions, settings)
        yield rt


async def _drain(rt: Runtime, passes: int = 3) -> None:
    pipeline = Pipeline(rt, "w-tally")
    for _ in range(passes):
        for claimed in await claim(
            rt.sessions, "w-tally", lease=timedelta(seconds=30), limit=10, include_unposted=True
        ):
            await pipeline.advance(claimed)


async def _run(rt: Runtime, ticket: dict[str, object]) -> str:
    item_id = (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id
    await _drain(rt)
    return item_id


async def _state(rt: Runtime, item_id: str) -> str:
    item = await get_item(rt.sessions, item_id)
    assert item is not None
    return item.state


def _tallies(url: str) -> TallyRows:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(  # live counts are spread over shards (one per audit chain)
                    "SELECT hour, category, metric, sum(count), sum(total) FROM stat_tally "
                    "GROUP BY hour, category, metric"
                )
            ).all()
    finally:
        engine.dispose()
    return {
        (str(hour), category, metric): (count, round(total, 9))
        for hour, category, metric, count, total in rows
    }


async def test_every_flow_counts_once_and_a_rebuild_agrees(
    runtime: Runtime, database_url: str
) -> None:
    rt = runtime
    policy = await load_lead_settings(rt.sessions, rt.settings)
    auto = await _run(rt, password_ticket())
    assert await _state(rt, auto) == ItemState.EXECUTED

    approved = await _run(rt, refund_ticket("120.00"))
    edited = await _run(rt, refund_ticket("130.00"))
    rejected = await _run(rt, refund_ticket("140.00"))
    expiring = await _run(rt, refund_ticket("150.00"))
    for item_id in (approved, edited, rejected, expiring):
        assert await _state(rt, item_id) == ItemState.PENDING_REVIEW
    assert (await approve(rt.sessions, item_id=approved, roles=ROLES, policy=policy)).status == (
        ReviewStatus.RECORDED
    )
    # A second click on a decided item changes nothing and counts nothing.
    assert (await approve(rt.sessions, item_id=approved, roles=ROLES, policy=policy)).status != (
        ReviewStatus.RECORDED
    )
    draft = await get_item(rt.sessions, edited)
    assert draft is not None and draft.proposed_action is not None
    saved = await save_edit(
        rt.sessions,
        item_id=edited,
        roles=ROLES,
        policy=policy,
        version=draft.draft_version,
        reply="Zebra quantum marmalade trombone",
        action=draft.proposed_action,
        summary="rewritten",
    )
    assert saved.status == ReviewStatus.RECORDED
    refused = await reject(
        rt.sessions, item_id=rejected, roles=ROLES, reason=RejectReason.WRONG_TONE, detail=""
    )
    assert refused.status == ReviewStatus.RECORDED
    counts = await run_follow_ups(rt, utcnow() + timedelta(hours=25))
    assert counts.expiries == 1 and await _state(rt, expiring) == ItemState.EXPIRED

    await _drain(rt)
    assert {await _state(rt, i) for i in (approved, edited)} == {ItemState.EXECUTED}
    rt.executor = ScriptedExecutor(ValueError("unreadable answer"))
    failed = await _run(rt, password_ticket())
    assert await _state(rt, failed) == ItemState.FAILED

    live = _tallies(database_url)
    by_metric: dict[str, int] = {}
    for (_, _, metric), (count, _) in live.items():
        by_metric[metric] = by_metric.get(metric, 0) + count
    assert by_metric == {
        Metric.RECEIVED: 6,
        Metric.AUTO: 2,
        Metric.APPROVED: 1,
        Metric.APPROVED_EDITED: 1,
        rejected_metric(RejectReason.WRONG_TONE): 1,
        Metric.EXPIRED: 1,
        Metric.FAILED: 1,
    }
    (size,) = [total for (_, _, m), (_, total) in live.items() if m == Metric.APPROVED_EDITED]
    assert size == 1.0  # the whole reply rewritten

    assert rebuild_tallies(database_url) == len(live)
    assert _tallies(database_url) == live

    since, label = parse_period("week", utcnow())
    stats = await review_stats(rt.sessions, since, label)
    assert (stats.received, stats.auto, stats.approved, stats.approved_after_edit) == (6, 2, 1, 1)
    assert (stats.rejected, stats.expired, stats.failed, stats.pending) == (1, 1, 1, 0)
    assert stats.median_minutes is not None and stats.median_minutes < 1
    # A period that starts after the events counts none of them.
    later = await review_stats(rt.sessions, utcnow() + timedelta(days=2), "later")
    assert (later.received, later.auto, later.expired) == (0, 0, 0)


def test_periods_start_on_the_hour_and_say_when() -> None:
    now = datetime(2026, 12, 1, 12, 34, 56, tzinfo=UTC)
    assert parse_period("today", now) == (datetime(2026, 12, 1, tzinfo=UTC), "today (UTC)")
    since, label = parse_period(None, now)
    assert since == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert label == "the last 7d (since Tue 24 Nov 12:00 UTC)"
    assert parse_period("12h", now)[0] == datetime(2026, 12, 1, 0, tzinfo=UTC)
    assert hour_of(now) == datetime(2026, 12, 1, 12, tzinfo=UTC)
    india = timezone(timedelta(hours=5, minutes=30))
    assert hour_of(now.astimezone(india)) == datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_a_wait_runs_from_the_start_of_review_or_else_creation() -> None:
    created = datetime(2026, 12, 1, 9, tzinfo=UTC)
    started = created + timedelta(minutes=10)
    decided = created + timedelta(minutes=40)
    assert math.isclose(wait_seconds(decided, started, created), 1800.0)
    assert math.isclose(wait_seconds(decided, None, created), 2400.0)


def test_the_migration_fills_waits_and_tallies_from_the_rows_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url, "0008")
    created = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    rows = [
        stored_item("itm_mig1", ItemState.EXECUTED, created_at=created, category="billing"),
        stored_item(
            "itm_mig2",
            ItemState.REJECTED,
            created_at=created,
            review_started_at=created + timedelta(minutes=5),
            category="billing",
        ),
    ]
    insert_at_schema(url, rows)
    engine = sa.create_engine(sync_url(url))
    try:
        decision = sa.Table("decision", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            for item_id, outcome, reason_code in (
                ("itm_mig1", "auto_approved", None),
                ("itm_mig2", "rejected", "wrong_facts"),
            ):
                connection.execute(
                    decision.insert().values(
                        item_id=item_id,
                        outcome=outcome,
                        actor="U0REVIEWER",
                        reason_code=reason_code,
                        created_at=(created + timedelta(minutes=50)).replace(tzinfo=None),
                    )
                )
    finally:
        engine.dispose()
    waits = pairs_after_migration(url, "0009", "SELECT item_id, wait_seconds FROM decision")
    assert waits == {"itm_mig1": None, "itm_mig2": 45 * 60.0}
    # Received at 09:15, decided at 10:05: each counted in its own hour.
    arrived, decided = "2026-11-30 09:00:00.000000", "2026-11-30 10:00:00.000000"
    assert _tallies(url) == {
        (arrived, "", "received"): (2, 0.0),
        (decided, "billing", "auto"): (1, 0.0),
        (decided, "billing", "rejected:wrong_facts"): (1, 0.0),
    }


def test_the_cli_rebuilds_the_tallies_of_rows_written_around_signoff(database_url: str) -> None:
    engine = sa.create_engine(sync_url(database_url))
    created = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    try:
        with Session(engine) as session:
            session.add(stored_item("itm_cli1", ItemState.RECEIVED, created_at=created))
            session.commit()
    finally:
        engine.dispose()
    assert _tallies(database_url) == {}  # written directly: nothing counted it
    done = run_bot("rebuild-stats", database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert "stats rebuilt: 1 hourly tallies" in done.stdout
    assert [(metric, count) for (_, _, metric), (count, _) in _tallies(database_url).items()] == [
        ("received", 1)
    ]


async def test_a_rebuild_waits_for_a_transaction_that_is_counting(database_url: str) -> None:
    """A live count happens while its transaction holds the audit chain; a rebuild beside
    running instances takes the chain first, so it reads the rows only after that commit."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    created = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    try:
        async with transaction(sessions) as session:
            session.add(stored_item("itm_wait1", ItemState.RECEIVED, created_at=created))
        rebuilt: list[int] = []
        async with transaction(sessions) as session:
            await audit.lock_chain(session)  # a live writer mid-transaction
            session.add(stored_item("itm_wait2", ItemState.RECEIVED, created_at=created))
            await session.flush()
            rebuilding = asyncio.create_task(
                asyncio.to_thread(lambda: rebuilt.append(rebuild_tallies(database_url)))
            )
            await asyncio.sleep(0.5)
            assert not rebuilding.done()  # waiting for the chain, not reading around it
        await rebuilding
    finally:
        await engine.dispose()
    assert rebuilt == [1]
    # Both items are counted: the rebuild read the rows after the writer's commit.
    assert [count for (_, _, _), (count, _) in _tallies(database_url).items()] == [2]
