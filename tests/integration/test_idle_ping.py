"""A pooled PostgreSQL connection is pinged before use only after it sat idle: one that died in
the pool is replaced before a transaction sees it, and one used a moment ago is handed out
without a round trip (a dead one then fails once and the pool starts afresh)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store.database import async_url
from bot.store.idle_ping import ping_when_idle
from tests.conftest import TEST_DATABASE_URL

pytestmark = [
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _one_connection(database_url: str, *, after: float) -> AsyncEngine:
    engine = create_async_engine(async_url(database_url), pool_size=1, max_overflow=0)
    ping_when_idle(engine, after=after)
    return engine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    killer = create_async_engine(async_url(database_url))
    try:
        async with killer.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_a_connection_that_died_idle_is_replaced_before_use(database_url: str) -> None:
    engine = _one_connection(database_url, after=0.0)  # every checkout counts as idle
    try:
        dead = await _backend_pid(engine)
        await _terminate(database_url, dead)
        assert await _backend_pid(engine) != dead  # no error: the ping found it and replaced it
    finally:
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged(database_url: str) -> None:
    engine = _one_connection(database_url, after=3600.0)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        # Handed out without a ping, it fails once as a disconnect; the pool then starts afresh.
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert await _backend_pid(engine) != pid
    finally:
        await engine.dispose()
