"""Crashes at the two dangerous moments, and the same idempotency key afterwards.

1. A ``python -m bot work`` process is SIGKILLed while the action endpoint holds its request
   open (the endpoint already acted, the answer is lost). After the lease another process sends
   the action again with the SAME Idempotency-Key; the endpoint, like a real vendor, treats it as
   a repeat, so the action took effect once.
2. A process dies right after the approval committed (item ``approved``, key minted, claim held):
   nothing runs it until the lease expires, then the sweep executes it with that key.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from sqlmodel import col

from bot.actions.authorise import idempotency_key
from bot.pipeline.worker import Worker
from bot.runtime import open_runtime
from bot.store.column_types import utcnow
from bot.store.database import sync_url
from bot.store.item_states import ItemState
from bot.store.models import Item
from tests.conftest import TEST_DATABASE_URL
from tests.support.approved_items import item_events, seed_approved
from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import (
    ACTION_SECRET,
    WEBHOOK_SECRET,
    make_settings,
    read_item,
    wait_until,
)
from tests.support.worker_processes import logs, start_worker, stop, worker_env

LEASE_SECONDS = 2


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_worker_killed_mid_execution_is_finished_by_another_with_the_same_key(
    database_url: str, tmp_path: Path
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        ids = seed_approved(db, 3)
        victim = ids[0]
        with HttpSink(idempotent=True) as sink:
            env = worker_env(
                database_url,
                sink=sink,
                SIGNOFF_LEASE_SECONDS=str(LEASE_SECONDS),
            )
            key = read_item(db, victim).idempotency_key
            assert key is not None
            held = sink.hold(key)
            first = start_worker(env, tmp_path, "first")
            try:
                assert held.arrived.wait(timeout=30), logs(tmp_path)
                lease_ends = read_item(db, victim).claimed_until
                first.send_signal(signal.SIGKILL)
                assert first.wait(timeout=10) == -signal.SIGKILL
            finally:
                stop(first)
            crashed = read_item(db, victim)
            assert crashed.state == ItemState.EXECUTING and crashed.claimed_by is not None

            second = start_worker(env, tmp_path, "second")
            try:
                wait_until(
                    lambda: (
                        all(read_item(db, i).state == ItemState.EXECUTED for i in ids)
                        or second.poll() is not None
                    ),
                    timeout=30,
                    what="the second worker to finish every item",
                )
                assert second.poll() is None, logs(tmp_path)
            finally:
                stop(second)
                sink.release_all()
            deliveries = [r for r in sink.requests if r.headers.get("idempotency-key") == key]
            effects = sink.effects
        finished = read_item(db, victim)
        events = item_events(db, victim)
        all_keys = {read_item(db, i).idempotency_key for i in ids}
    finally:
        db.dispose()

    assert len(deliveries) == 2  # the one the killed worker never heard back from, and the retry
    assert lease_ends is not None and deliveries[1].at >= lease_ends.timestamp()
    assert {r.headers["idempotency-key"] for r in deliveries} == {key}
    assert deliveries[1].status == 200  # answered from the endpoint's idempotency store
    assert effects == dict.fromkeys(all_keys, 1)
    assert finished.state == ItemState.EXECUTED and finished.claimed_by is None
    # The killed attempt was counted before it went out; the takeover knew it was a resend.
    assert finished.attempts == 2
    assert events.count("execution_attempt") == 2
    assert finished.execution_result is not None and finished.execution_result["sent"] is True
    assert events.count("executed") == 1


@pytest.mark.parametrize("left_in", [ItemState.APPROVED, ItemState.EXECUTING])
async def test_crash_between_approval_and_execution_is_recovered_by_the_sweep(
    database_url: str, sink: HttpSink, left_in: ItemState
) -> None:
    """``approved``: died after the decision committed; ``executing``: died after marking the
    item executing but before calling out. Either way the claim outlives the process."""
    db = create_engine(sync_url(database_url))
    settings = make_settings(
        database_url=database_url,
        action_url=sink.url,
        webhook_secret=WEBHOOK_SECRET,
        action_secret=ACTION_SECRET,
        lease_seconds=LEASE_SECONDS,
        log_level="WARNING",
    )
    try:
        [item_id] = seed_approved(db, 1, state=left_in)
        seeded = read_item(db, item_id)
        assert seeded.decision_id is not None
        key = idempotency_key(item_id, seeded.decision_id)
        with db.begin() as connection:
            connection.execute(
                update(Item)
                .where(col(Item.id) == item_id)
                .values(
                    claimed_by="crashed-worker",
                    claimed_until=utcnow() + timedelta(seconds=LEASE_SECONDS),
                )
            )
        async with open_runtime(settings) as rt:
            sweeper = Worker(rt)
            assert await sweeper.run_once() == 0  # the lease still protects the item
            assert sink.requests == []
            with db.begin() as connection:  # the lease runs out (time passes)
                connection.execute(
                    update(Item)
                    .where(col(Item.id) == item_id)
                    .values(claimed_until=utcnow() - timedelta(seconds=1))
                )
            assert await sweeper.run_once() == 1
        finished = read_item(db, item_id)
        events = item_events(db, item_id)
    finally:
        db.dispose()

    [delivery] = sink.requests
    assert delivery.headers["idempotency-key"] == key == seeded.idempotency_key
    assert finished.state == ItemState.EXECUTED and finished.attempts == 1
    assert finished.claimed_by is None
    assert events.count("executed") == 1
    assert events.count("execution_started") == (1 if left_in == ItemState.APPROVED else 0)
