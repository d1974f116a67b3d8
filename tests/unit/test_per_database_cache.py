"""The per-database cache reads at most once per ttl, keeps databases apart, and never keeps a
value read before a change that ``forget`` announced."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.store.per_database_cache import PerDatabaseCache


async def test_reads_once_per_ttl_per_database_and_again_after_forget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("bot.store.per_database_cache.time.monotonic", lambda: clock[0])
    cache: PerDatabaseCache[int] = PerDatabaseCache(ttl=2.0)
    one, two = async_sessionmaker(), async_sessionmaker()
    reads: list[str] = []

    def loader(name: str, value: int) -> Callable[[], Awaitable[int]]:
        async def load() -> int:
            reads.append(name)
            return value

        return load

    assert await cache.get(one, loader("one", 1)) == 1
    assert await cache.get(one, loader("one", 99)) == 1  # cached
    assert await cache.get(two, loader("two", 2)) == 2  # another database
    clock[0] += 2.5
    assert await cache.get(one, loader("one", 3)) == 3  # expired
    cache.forget(one)
    assert await cache.get(one, loader("one", 4)) == 4  # forgotten
    assert reads == ["one", "two", "one", "one"]


async def test_a_read_that_started_before_a_change_is_not_kept() -> None:
    cache: PerDatabaseCache[str] = PerDatabaseCache(ttl=60.0)
    sessions = async_sessionmaker()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> str:
        started.set()
        await release.wait()
        return "old"

    async def fresh_read() -> str:
        return "new"

    reading = asyncio.create_task(cache.get(sessions, slow_old_read))
    await started.wait()
    cache.forget(sessions)  # a change committed while the old read was in flight
    release.set()
    assert await reading == "old"  # that caller gets what it read...
    assert await cache.get(sessions, fresh_read) == "new"  # ...but nobody after it
