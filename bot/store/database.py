"""Engines, sessions and migrations for SQLite and PostgreSQL.

One URL setting serves both: hosting platforms hand out ``postgres://`` URLs, SQLAlchemy wants a
driver name, and Alembic needs a synchronous driver while the app runs asynchronously. The
helpers here are the one place that translates between those forms.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.util.concurrency import await_only, in_greenlet

from bot.store.audit_keys import AUDIT_KEYS_INFO, AuditKeys
from bot.store.idle_ping import ping_when_idle

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _normalise(url: str, *, asynchronous: bool) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        driver = "sqlite+aiosqlite" if asynchronous else "sqlite"
        return parsed.set(drivername=driver).render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")


def async_url(url: str) -> str:
    return _normalise(url, asynchronous=True)


def sync_url(url: str) -> str:
    return _normalise(url, asynchronous=False)


def is_sqlite(url: str) -> bool:
    return make_url(sync_url(url)).get_backend_name() == "sqlite"


# How long one SQLite call may wait for a lock inside the driver. Kept short on purpose: the
# waiting happens inside ``sqlite3_step`` with the connection's mutex held, so anything else that
# touches that connection blocks meanwhile, even the garbage collector finalising one of its
# cursors on the event loop's thread. Measured: a cursor collected while its connection's
# ``BEGIN IMMEDIATE`` waited froze the loop, and with it the transaction being waited for, until
# a 30 s busy timeout ran out. Longer waits happen in ``_wait_for_lock``, between calls.
_SQLITE_BUSY_MS = 20
# How long a transaction waits for SQLite's one write lock before it fails.
SQLITE_LOCK_WAIT_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits. The driver's own implicit BEGIN is turned
    # off so ``_begin_immediate`` controls it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted and overwritten content is zeroed in the file, not left in free space: erasure
    # (``bot/erasure``) must leave no trace of a customer in the database file.
    cursor.execute("PRAGMA secure_delete=ON")
    _until_unlocked(lambda: _enter_wal(cursor))
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    # WAL is a property of the file and stays once set, so a connection only asks for it when
    # the file is not in WAL yet (switching needs an exclusive lock).
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")


def _is_lock_error(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _wait_for_lock(seconds: float) -> None:
    """Sleep between tries without blocking the event loop: inside SQLAlchemy's greenlet (the
    async engine) this awaits, so the transaction that holds the lock can finish."""
    if in_greenlet():
        await_only(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


def _until_unlocked(attempt: Callable[[], None]) -> None:
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    pause = 0.002
    while True:
        try:
            attempt()
            return
        except Exception as error:
            if not _is_lock_error(error) or time.monotonic() >= deadline:
                raise
        _wait_for_lock(pause * (1 + random.random()))  # noqa: S311 - jitter, not a secret
        pause = min(pause * 2, 0.05)


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY_SNAPSHOT
    # when another writer committed in between (busy_timeout does not apply). Taking the write
    # lock at BEGIN makes every transaction wait its turn instead: SQLite has one writer anyway.
    # It is issued on the driver's connection so a busy try leaves SQLAlchemy's state alone.
    dbapi_connection = connection.connection.dbapi_connection

    def begin() -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.close()

    try:
        _until_unlocked(begin)
    except sqlite3.OperationalError as error:
        # As SQLAlchemy reports every other driver error, so callers see one kind of error.
        raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            async_url(url), echo=echo, connect_args={"timeout": _SQLITE_BUSY_MS / 1000}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    engine = create_async_engine(async_url(url), echo=echo, pool_size=10, max_overflow=20)
    ping_when_idle(engine)
    return engine


SessionFactory = async_sessionmaker[AsyncSession]


def session_factory(engine: AsyncEngine, audit_keys: AuditKeys | None = None) -> SessionFactory:
    """``audit_keys`` ride in every session's ``info``, so ``audit.record`` seals rows with the
    configured key without any caller handling it (``None``: an unkeyed chain)."""
    info = {AUDIT_KEYS_INFO: audit_keys} if audit_keys is not None else None
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, info=info)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def one_round_trip(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session for a read, or a change that is one statement: on PostgreSQL each statement
    commits on its own (autocommit), one round trip where ``BEGIN``, the statement and
    ``COMMIT`` (or a read's ``ROLLBACK``) were three. Several reads in it each see what was
    committed when they start, as under READ COMMITTED in one transaction. SQLite keeps one
    transaction, committed on success (its transactions cost no round trips)."""
    async with sessions() as session:
        if session.bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
        else:
            async with session.begin():
                yield session


async def changed_rows(session: AsyncSession, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed: the row count is the only
    truth about who won a race (SQLite ignores ``SKIP LOCKED``)."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (blocking: call before the event loop starts serving)."""
    if is_sqlite(url):
        database = make_url(sync_url(url)).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
