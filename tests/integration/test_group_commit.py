"""Group commit's writers on each database: on PostgreSQL a second batch may be written while
the first is in flight (``writers``), on SQLite never (one writer takes the lock anyway); each
sender gets its own row's answer either way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.store.database import SessionFactory, create_engine, is_sqlite, session_factory
from bot.store.group_commit import GroupCommit


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_batches_overlap_only_where_the_database_takes_concurrent_writers(
    sessions: SessionFactory, database_url: str
) -> None:
    in_flight = 0
    most = 0
    batches: list[list[int]] = []

    async def write(_: SessionFactory, batch: list[int]) -> list[int]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        batches.append(batch)
        if batch == [0]:
            # The first batch stays in flight until a later one could have started.
            for _ in range(20):
                await asyncio.sleep(0)
        in_flight -= 1
        return [n * 10 for n in batch]

    writer: GroupCommit[int, int] = GroupCommit(write, batch_size=100, name="t", writers=3)
    first = asyncio.ensure_future(writer.submit(sessions, 0))
    for _ in range(2):
        await asyncio.sleep(0)  # the first batch is now being written
    later = [asyncio.ensure_future(writer.submit(sessions, n)) for n in range(1, 6)]
    answers = await asyncio.gather(first, *later)
    assert answers == [0, 10, 20, 30, 40, 50]
    assert sorted(n for batch in batches for n in batch) == list(range(6))
    assert most == (1 if is_sqlite(database_url) else 2)
