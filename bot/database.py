"""Engines, sessions and migrations for SQLite and PostgreSQL.

One URL setting serves both: hosting platforms hand out ``postgres://`` URLs, SQLAlchemy wants a
driver name, and Alembic needs a synchronous driver while the app runs asynchronously. The
helpers here are the one place that translates between those forms.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; busy_timeout makes writers wait, not fail.
    # The driver's own implicit BEGIN is turned off so ``_begin_immediate`` controls it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    _enter_wal(cursor)
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    # WAL is a property of the file and stays once set, so a connection only asks for it when
    # the file is not in WAL yet. Switching needs an exclusive lock that SQLite reports busy
    # at once (no busy handler) while another process opens or checkpoints the same file: it
    # is tried again for a few seconds rather than failing the connection.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            contended = "locked" in str(error) or "busy" in str(error)
            if not contended or attempt == 49:
                raise
            time.sleep(0.05 + 0.05 * random.random())  # noqa: S311 - jitter, not a secret


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY_SNAPSHOT
    # when another writer committed in between (busy_timeout does not apply). Taking the write
    # lock at BEGIN makes every transaction wait its turn instead: SQLite has one writer anyway.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(async_url(url), echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(
        async_url(url), echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
    )


SessionFactory = async_sessionmaker[AsyncSession]


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


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
