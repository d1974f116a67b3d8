"""Making erased content unrecoverable from the database files, not only from queries.

* SQLite: every connection runs with ``secure_delete=ON`` (``bot.store.database``), so content
  an UPDATE replaces is zeroed in its page; the old page versions still sit in the WAL until a
  checkpoint, so erasure checkpoints with ``TRUNCATE`` (the WAL file is emptied). ``full`` also
  runs ``VACUUM``, which rewrites the file (free pages from before secure_delete included).
* PostgreSQL: an UPDATE leaves the old row version (a dead tuple) in the table file until a
  VACUUM, and a plain VACUUM only marks its space free. ``full`` runs ``VACUUM (FULL)`` on the
  touched tables, which rewrites them (an exclusive lock for its duration, so it is a CLI
  option); without it a plain ``VACUUM (ANALYZE)`` removes the dead tuples from what any query
  or ``pg_dump`` can see. Either VACUUM keeps a dead row version that a transaction still open
  elsewhere may see, so the purge first waits (up to ``SNAPSHOT_WAIT_SECONDS``) for the snapshots
  older than the erasure to end, and says so when one outlives the wait. The server's
  write-ahead log and base backups keep old pages until they are recycled: docs/privacy.md says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

TOUCHED_TABLES = (
    "item",
    "decision",
    "audit_event",
    "interaction_inbox",
    "auto_money_reservation",
)


def _sqlite_purge(path: str, full: bool) -> None:
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
        connection.isolation_level = None
        connection.execute("PRAGMA secure_delete=ON")
        if full:
            connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# How long a purge waits for transactions that began before the erasure (and could still see the
# erased row versions, which VACUUM must then keep) to end.
SNAPSHOT_WAIT_SECONDS = 30.0
# A transaction holds VACUUM's horizon back by its snapshot (``backend_xmin``) and, once it has
# written, by its own transaction id (``backend_xid``), which stays while it sits between
# statements with no snapshot at all: both are waited for.
_OLDER_SNAPSHOTS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND ("
    " (backend_xmin IS NOT NULL"
    "  AND age(backend_xmin) >= age(CAST(CAST(:horizon AS text) AS xid)))"
    " OR (backend_xid IS NOT NULL"
    "  AND age(backend_xid) >= age(CAST(CAST(:horizon AS text) AS xid))))"
)


async def _wait_for_older_snapshots(connection: AsyncConnection) -> bool:
    """True once no other session of this database holds a snapshot from before now."""
    horizon = (await connection.execute(text("SELECT txid_current() % 4294967296"))).scalar_one()
    deadline = asyncio.get_running_loop().time() + SNAPSHOT_WAIT_SECONDS
    while True:
        older = (await connection.execute(_OLDER_SNAPSHOTS, {"horizon": horizon})).scalar_one()
        if not older:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.2)


async def purge_erased(engine: AsyncEngine, *, full: bool) -> str:
    """Clear what the erasure left in the files; returns what was done, for the report."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        if not path or path == ":memory:":
            return "nothing to purge (in-memory database)"
        await asyncio.to_thread(_sqlite_purge, path, full)
        return "SQLite: " + ("VACUUM and " if full else "") + "WAL checkpoint (TRUNCATE)"
    command = "VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        settled = await _wait_for_older_snapshots(autocommit)
        for table in TOUCHED_TABLES:
            await autocommit.execute(text(f"{command} {table}"))
    done = f"PostgreSQL: {command} on {', '.join(TOUCHED_TABLES)}"
    if not settled:
        done += (
            f" (a transaction older than the erasure was still open after "
            f"{SNAPSHOT_WAIT_SECONDS:.0f} s: row versions it can see stay in the files until the "
            "next VACUUM)"
        )
    return done
