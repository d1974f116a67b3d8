"""SQLite's one write lock is waited for between driver calls, not inside one.

Inside a driver call the connection's mutex is held, so any other use of that connection blocks
until the call returns, even the garbage collector finalising one of its cursors on the event
loop's thread. With the wait inside ``BEGIN IMMEDIATE`` (a 30 s busy timeout) that froze the
loop, and with it the transaction being waited for: the two-instance backlog test in
``test_posting_burst.py`` failed on ``database is locked`` after 30 s in 1 of 5 to 22 runs
(thread dumps showed the loop's thread stuck in a collection); with the wait moved out of the
driver it passed 40 of 40. A collection at the wrong instant cannot be staged reliably, so these
tests pin the two properties the fix rests on: a driver call waits only briefly, yet a
transaction still gets the lock once its holder commits, and the whole wait is bounded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from bot.store.database import _SQLITE_BUSY_MS as SQLITE_BUSY_MS
from bot.store.database import create_engine, migrate


async def test_a_transaction_waits_for_the_lock_between_driver_calls_and_then_gets_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url)
    holder_engine, waiter_engine = create_engine(url), create_engine(url)
    began = asyncio.Event()
    try:
        async with holder_engine.connect() as holder:
            await holder.begin()  # BEGIN IMMEDIATE: the write lock is ours
            await holder.execute(
                text(
                    "INSERT INTO run_claim (key, claimed_by, claimed_at, held_until)"
                    " VALUES ('k', 'a', '2026-01-01', '2026-01-01')"
                )
            )

            async def wait_for_the_lock() -> int:
                async with waiter_engine.connect() as waiter:
                    began.set()
                    await waiter.begin()  # waits for the holder
                    found = await waiter.execute(text("SELECT count(*) FROM run_claim"))
                    count = int(found.scalar_one())
                    await waiter.commit()
                    return count

            waiter_task = asyncio.create_task(wait_for_the_lock())
            await began.wait()
            await asyncio.sleep(0.3)  # the waiter is now trying BEGIN IMMEDIATE
            assert not waiter_task.done()
            # Held for 15 times the driver's own busy timeout: only the retries between calls
            # get the waiter through.
            assert SQLITE_BUSY_MS / 1000 * 15 <= 0.3
            await holder.commit()
        assert await asyncio.wait_for(waiter_task, timeout=20) == 1
    finally:
        await holder_engine.dispose()
        await waiter_engine.dispose()


async def test_a_lock_held_too_long_fails_the_waiter_with_a_clear_error(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The wait is bounded: past SQLITE_LOCK_WAIT_SECONDS the transaction fails (and the
    caller's retry or error path takes over) instead of waiting forever."""
    import bot.store.database

    monkeypatch.setattr(bot.store.database, "SQLITE_LOCK_WAIT_SECONDS", 0.5)
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url)
    holder_engine, waiter_engine = create_engine(url), create_engine(url)
    try:
        async with holder_engine.connect() as holder:
            await holder.begin()
            async with waiter_engine.connect() as waiter:
                with pytest.raises(sqlalchemy.exc.OperationalError, match=r"locked|busy"):
                    await waiter.begin()
            await holder.rollback()
    finally:
        await holder_engine.dispose()
        await waiter_engine.dispose()
