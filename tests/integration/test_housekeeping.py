"""Housekeeping on a controlled clock: Slack event ids older than a day are deleted once per hour
across instances (a retry within the day is still recognised), and worker heartbeats count only
while their loop is recent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, select
from sqlmodel import col

from bot.pipeline.scheduler import (
    HEARTBEAT_JOB,
    HOUSEKEEPING_INTERVAL_SECONDS,
    HOUSEKEEPING_JOB,
    build_scheduler,
)
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.store.database import sync_url
from bot.store.housekeeping import EVERY, Pruned, prune_old_rows
from bot.store.models import RunClaim, SlackEvent
from bot.store.slack_event_ids import first_delivery
from bot.store.worker_heartbeats import (
    STALE_AFTER,
    forget_heartbeat,
    heartbeat_key,
    loop_wall_time,
    record_heartbeat,
    workers_seen,
)
from tests.support.server_harness import make_settings

# The controlled clock starts at the real time, because ``first_delivery`` stamps with it.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def two_instances(database_url: str) -> AsyncIterator[tuple[Runtime, Runtime]]:
    settings = make_settings(database_url=database_url, log_level="WARNING")
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        yield first, second


def _seed_events(database_url: str, ages: dict[str, timedelta]) -> None:
    db = create_engine(sync_url(database_url))
    try:
        with db.begin() as connection:
            connection.execute(
                insert(SlackEvent),
                [{"event_id": name, "received_at": NOW - age} for name, age in ages.items()],
            )
    finally:
        db.dispose()


def _event_ids(database_url: str) -> set[str]:
    db = create_engine(sync_url(database_url))
    try:
        with db.connect() as connection:
            return set(connection.execute(select(col(SlackEvent.event_id))).scalars())
    finally:
        db.dispose()


async def test_old_slack_event_ids_are_pruned_once_per_period_across_instances(
    two_instances: tuple[Runtime, Runtime], database_url: str
) -> None:
    first, second = two_instances
    _seed_events(
        database_url,
        {
            "Ev_two_days": timedelta(days=2),
            "Ev_25_hours": timedelta(hours=25),
            "Ev_23_hours": timedelta(hours=23, minutes=30),
            "Ev_minute": timedelta(minutes=1),
        },
    )
    runs = await asyncio.gather(
        prune_old_rows(first.sessions, NOW, by="a"), prune_old_rows(second.sessions, NOW, by="b")
    )
    assert sorted(runs, key=lambda run: run is None) == [Pruned(2, 0), None]
    assert _event_ids(database_url) == {"Ev_23_hours", "Ev_minute"}
    # A Slack retry of a kept event is still answered as a duplicate; a forgotten id is new.
    assert not await first_delivery(first.sessions, "Ev_minute")
    assert await first_delivery(first.sessions, "Ev_two_days")

    # Within the hour neither instance runs again, even though Ev_23_hours is now over a day old.
    later = NOW + EVERY - timedelta(minutes=1)
    assert await prune_old_rows(first.sessions, later, by="a") is None
    assert await prune_old_rows(second.sessions, later, by="b") is None
    assert "Ev_23_hours" in _event_ids(database_url)
    # The next period, whichever instance fires first prunes it.
    next_hour = NOW + EVERY
    assert await prune_old_rows(second.sessions, next_hour, by="b") == Pruned(1, 0)
    assert _event_ids(database_url) == {"Ev_minute", "Ev_two_days"}


async def test_heartbeats_count_while_recent_and_dead_workers_are_pruned(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    first, second = two_instances
    await record_heartbeat(first.sessions, "web-1-a", loop_at=NOW - timedelta(seconds=5))
    await record_heartbeat(second.sessions, "work-2-b", loop_at=NOW - timedelta(seconds=59))
    assert await workers_seen(first.sessions, now=NOW) == 2
    # work-2-b's loop stopped passing: a minute after its last pass it no longer counts, although
    # its row is still there.
    assert await workers_seen(first.sessions, now=NOW + timedelta(seconds=2)) == 1
    # Its scheduler still ticking writes the same stale pass, which does not bring it back.
    await record_heartbeat(second.sessions, "work-2-b", loop_at=NOW - timedelta(seconds=59))
    assert await workers_seen(first.sessions, now=NOW + timedelta(seconds=2)) == 1
    await forget_heartbeat(first.sessions, "web-1-a")  # a clean shutdown
    assert await workers_seen(first.sessions, now=NOW) == 1
    # A day later the dead worker's row goes with the hourly housekeeping.
    pruned = await prune_old_rows(first.sessions, NOW + STALE_AFTER + timedelta(days=1), by="a")
    assert pruned == Pruned(0, 1)
    async with first.sessions() as session:
        assert await session.get(RunClaim, heartbeat_key("work-2-b")) is None


def test_a_monotonic_loop_reading_becomes_the_wall_clock_time_of_that_pass() -> None:
    assert loop_wall_time(None) is None
    passed = loop_wall_time(time.monotonic() - 30, now=NOW)
    assert passed is not None
    assert timedelta(seconds=29) < NOW - passed < timedelta(seconds=31)


async def test_every_instance_schedules_the_heartbeat_and_the_housekeeping(
    two_instances: tuple[Runtime, Runtime],
) -> None:
    worker = Worker(two_instances[0])
    scheduler = build_scheduler(worker, interval_seconds=5)
    heartbeat = scheduler.get_job(HEARTBEAT_JOB)
    housekeeping = scheduler.get_job(HOUSEKEEPING_JOB)
    assert heartbeat is not None and housekeeping is not None
    assert heartbeat.trigger.interval == timedelta(seconds=5)
    assert housekeeping.trigger.interval == timedelta(seconds=HOUSEKEEPING_INTERVAL_SECONDS)
    # Before the loop has passed there is nothing to report; after, the pass is recorded.
    assert await heartbeat.func() is False
    worker.last_loop_at = time.monotonic()
    assert await heartbeat.func() is True
    assert await workers_seen(two_instances[1].sessions, now=datetime.now(UTC)) == 1
