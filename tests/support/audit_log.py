"""Reading and tampering with the audit log from outside the bot, as an attacker or an auditor
would: tests of the hash chains need both, and each used to carry its own copy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text

from bot.store.audit_anchors import Anchor
from bot.store.audit_keys import AuditKeys
from bot.store.audit_verify import ChainReport, verify_chain
from bot.store.database import create_engine as create_async_engine
from bot.store.database import session_factory, sync_url


@contextmanager
def outside(url: str) -> Iterator[Engine]:
    """A plain synchronous engine on the database at ``url``, disposed on leaving: the log as
    an auditor or an insider reaches it, beside the bot rather than through it."""
    engine = create_engine(sync_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def lift_append_only(connection: Connection) -> None:
    """Take the append-only triggers out of the way (dropped on SQLite, disabled on PostgreSQL),
    as someone with database access can: verify must still notice what they do next."""
    if connection.dialect.name == "sqlite":
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
    else:
        connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))


def tamper(url: str, statement: str, **params: Any) -> None:
    """Run ``statement`` on the log at ``url`` with the append-only triggers lifted."""
    with outside(url) as engine, engine.begin() as connection:
        lift_append_only(connection)
        connection.execute(text(statement), params)


async def verify(url: str, keys: AuditKeys, anchors: list[Anchor] | None = None) -> ChainReport:
    """Walk every chain of the log at ``url`` with ``keys`` (against ``anchors`` if given)."""
    engine = create_async_engine(url)
    try:
        async with session_factory(engine, keys)() as session:
            return await verify_chain(session, keys, anchors or [])
    finally:
        await engine.dispose()
