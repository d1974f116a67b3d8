"""The interaction inbox's store, on SQLite and PostgreSQL: recorded once per Slack request,
applied in arrival order per lane, taken over only when a lease has run out, pruned when done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.store import inbox
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, create_engine, session_factory
from bot.store.housekeeping import prune_old_rows
from bot.store.inbox import Interaction, retry_key
from bot.store.models import InboxEntry

LEASE = timedelta(seconds=30)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def _interaction(n: int, lane: str = "item:itm_1") -> Interaction:
    return Interaction(
        kind="approve",
        lane=lane,
        actor="U1",
        payload={"n": n},
        retry_key=retry_key("test", n),
        signed_at="1700000000",
    )


async def _count(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(InboxEntry))).scalar_one()
        )


async def test_concurrent_interactions_are_recorded_in_arrival_order_and_retries_once(
    sessions: SessionFactory,
) -> None:
    accepted = await asyncio.gather(
        *(inbox.accept(sessions, _interaction(n), token=f"w#{n}", lease=LEASE) for n in range(20))
    )
    assert all(a.first for a in accepted)
    assert [a.entry_id for a in accepted] == sorted(a.entry_id for a in accepted)
    # Slack's retries of the first request, one alone and two sharing a batch.
    again = await asyncio.gather(
        *(inbox.accept(sessions, _interaction(0), token="w#x", lease=LEASE) for _ in range(3))
    )
    assert [(a.first, a.entry_id, a.token) for a in again] == [
        (False, accepted[0].entry_id, None)
    ] * 3
    assert await _count(sessions) == 20


async def test_rows_of_a_lane_get_their_ids_in_the_order_their_senders_are_answered(
    sessions: SessionFactory,
) -> None:
    """The runners take a lane's rows in the order the acks hand them over; a row handed over
    before an earlier-numbered one would find that one undone and be given back to the sweep."""
    answered: list[int] = []

    async def one(n: int) -> None:
        accepted = await inbox.accept(sessions, _interaction(n), token=f"w#{n}", lease=LEASE)
        answered.append(accepted.entry_id)

    waves = []
    for wave in range(4):  # each wave arrives while the batch before it is being written
        waves.append(asyncio.gather(*(one(wave * 10 + n) for n in range(10))))
        await asyncio.sleep(0)
    await asyncio.gather(*waves)
    assert len(answered) == 40
    assert answered == sorted(answered)


async def test_a_recorded_row_holds_what_the_work_needs_and_is_leased_to_its_receiver(
    sessions: SessionFactory,
) -> None:
    before = utcnow()
    payload = {"user": {"id": "U1"}, "text": "naïve “quotes” \u2028", "n": [1, 2.5, None]}
    accepted = await inbox.accept(
        sessions,
        Interaction(
            kind="approve",
            lane="item:itm_9",
            actor="U1",
            payload=payload,
            retry_key=retry_key("test", "fields"),
            signed_at="1700000000",
        ),
        token="w#1",
        lease=LEASE,
    )
    async with sessions() as session:  # another connection: the row is committed
        row = await session.get(InboxEntry, accepted.entry_id)
    assert row is not None
    assert (row.kind, row.lane, row.actor, row.signed_at) == (
        "approve",
        "item:itm_9",
        "U1",
        "1700000000",
    )
    assert row.payload == payload
    assert row.claimed_by == "w#1" and row.attempts == 0 and row.done_at is None
    assert row.claimed_until is not None and row.claimed_until - row.received_at == LEASE
    assert before <= row.received_at <= utcnow()


async def test_a_row_waits_for_the_earlier_rows_of_its_lane(sessions: SessionFactory) -> None:
    first = await inbox.accept(sessions, _interaction(1), token="a#1", lease=LEASE)
    second = await inbox.accept(sessions, _interaction(2), token="b#2", lease=LEASE)
    other = await inbox.accept(
        sessions, _interaction(3, lane="item:itm_2"), token="b#3", lease=LEASE
    )
    assert await inbox.start(sessions, second.entry_id, "b#2", lease=LEASE) is None
    assert await inbox.start(sessions, other.entry_id, "b#3", lease=LEASE) is not None
    assert await inbox.start(sessions, first.entry_id, "b#1", lease=LEASE) is None  # not b's
    started = await inbox.start(sessions, first.entry_id, "a#1", lease=LEASE)
    assert started is not None and started.attempts == 1 and started.payload == {"n": 1}
    assert await inbox.finish(sessions, first.entry_id, "a#1", "recorded")
    assert await inbox.start(sessions, second.entry_id, "b#2", lease=LEASE) is not None


async def test_rows_are_taken_over_only_when_their_lease_ran_out_or_they_were_released(
    sessions: SessionFactory,
) -> None:
    crashed = await inbox.accept(sessions, _interaction(1), token="dead#1", lease=LEASE)
    behind = await inbox.accept(sessions, _interaction(2), token="dead#2", lease=LEASE)
    handed_back = await inbox.accept(
        sessions, _interaction(3, lane="user:U1"), token="live#3", lease=LEASE
    )
    assert await inbox.claim_due(sessions, "b", lease=LEASE, limit=10) == []
    assert await inbox.release(sessions, ["live#3"]) == 1
    [(entry, token)] = await inbox.claim_due(sessions, "b", lease=LEASE, limit=10)
    assert entry.id == handed_back.entry_id and token.startswith("b#")
    assert await inbox.start(sessions, handed_back.entry_id, token, lease=LEASE) is not None
    assert await inbox.finish(sessions, handed_back.entry_id, token, "done")

    later = utcnow() + LEASE + timedelta(seconds=1)
    taken = await inbox.claim_due(sessions, "b", lease=LEASE, limit=10, now=later)
    # The crashed instance's first row; the one behind it waits until that one is done.
    assert [e.id for e, _ in taken] == [crashed.entry_id]
    [(_, new_token)] = taken
    assert not await inbox.finish(sessions, crashed.entry_id, "dead#1", "late")  # not its own
    assert await inbox.start(sessions, crashed.entry_id, new_token, lease=LEASE) is not None
    assert await inbox.finish(sessions, crashed.entry_id, new_token, "recorded")
    taken = await inbox.claim_due(sessions, "b", lease=LEASE, limit=10, now=later)
    assert [e.id for e, _ in taken] == [behind.entry_id]


async def test_done_rows_are_pruned_a_day_later_and_undone_rows_never(
    sessions: SessionFactory,
) -> None:
    done = await inbox.accept(sessions, _interaction(1), token="a#1", lease=LEASE)
    await inbox.accept(sessions, _interaction(2, lane="user:U2"), token="a#2", lease=LEASE)
    assert await inbox.start(sessions, done.entry_id, "a#1", lease=LEASE) is not None
    assert await inbox.finish(sessions, done.entry_id, "a#1", "recorded")
    assert (await prune_old_rows(sessions, utcnow(), by="a")) is not None
    assert await _count(sessions) == 2
    pruned = await prune_old_rows(sessions, utcnow() + timedelta(days=2), by="a")
    assert pruned is not None and pruned.inbox_rows == 1
    assert await _count(sessions) == 1
