"""Making erased content unrecoverable from the database files, not only from queries.

* SQLite: every connection runs with ``secure_delete=ON`` (``bot.store.database``), so content
  an UPDATE replaces is zeroed in its page; the old page versions still sit in the WAL until a
  checkpoint, so erasure checkpoints with ``TRUNCATE`` (the WAL file is emptied). ``full`` also
  runs ``VACUUM``, which rewrites the file (free pages from before secure_delete included).
* PostgreSQL: an UPDATE leaves the old row version (a dead tuple) in the table file until a
  VACUUM, and a plain VACUUM only marks its space free. ``full`` runs ``VACUUM (FULL)`` on the
  touched tables, which rewrites them (an exclusive lock for its duration, so it is a CLI
  option); without it a plain ``VACUUM (ANALYZE)`` removes the dead tuples from what any query
  or ``pg_dump`` can see. The server's write-ahead log and base backups keep old pages until they
  are recycled: docs/privacy.md says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
        for table in TOUCHED_TABLES:
            await autocommit.execute(text(f"{command} {table}"))
    return f"PostgreSQL: {command} on {', '.join(TOUCHED_TABLES)}"
