"""The purge waits for every transaction that could keep an erased row version alive.

VACUUM keeps a dead row version while any transaction of the database that began before the
erasure is still open: by its snapshot, and also (once it has written) by its own transaction
id, which stays while it sits between statements with no snapshot. A wait that looked only at
snapshots let VACUUM (FULL) run beside such a writer and copy the erased version into the new
file (seen once in the full suite's proof test).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.erasure.storage import _wait_for_older_snapshots
from bot.store.database import async_url
from tests.conftest import TEST_DATABASE_URL

pytestmark = [
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


async def test_the_purge_waits_for_an_older_writer_idle_between_statements(
    database_url: str,
) -> None:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as writer, engine.connect() as purger:
            await writer.execute(text("CREATE TEMPORARY TABLE t (n int)"))
            await writer.commit()
            await writer.execute(text("INSERT INTO t VALUES (1)"))  # an xid, then idle
            held = (
                await purger.execute(
                    text(
                        "SELECT backend_xmin IS NULL, backend_xid IS NOT NULL "
                        "FROM pg_stat_activity WHERE state = 'idle in transaction' "
                        "AND datname = current_database()"
                    )
                )
            ).one()
            assert tuple(held) == (True, True)  # the case a snapshot-only wait misses
            await purger.commit()
            autocommit = await purger.execution_options(isolation_level="AUTOCOMMIT")
            waiting = asyncio.ensure_future(_wait_for_older_snapshots(autocommit))
            await asyncio.sleep(1.0)
            assert not waiting.done()
            await writer.commit()
            assert await asyncio.wait_for(waiting, timeout=10) is True
    finally:
        await engine.dispose()
