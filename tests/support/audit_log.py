"""Reading and tampering with the audit log from outside the bot, as an attacker or an auditor
would: tests of the hash chains need both, and each used to carry its own copy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

from bot.store.audit_anchors import Anchor
from bot.store.audit_keys import AuditKeys
from bot.store.audit_verify import ChainReport, verify_chain
from bot.store.database import create_engine as create_async_engine
from bot.store.database import session_factory, sync_url


def tamper(url: str, statement: str, **params: Any) -> None:
    """Run ``statement`` around the append-only triggers (dropped on SQLite, disabled on
    PostgreSQL), the way someone with database access would: verify must still notice."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
                connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
            else:
                connection.execute(
                    text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
                )
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


async def verify(url: str, keys: AuditKeys, anchors: list[Anchor] | None = None) -> ChainReport:
    """Walk every chain of the log at ``url`` with ``keys`` (against ``anchors`` if given)."""
    engine = create_async_engine(url)
    try:
        async with session_factory(engine, keys)() as session:
            return await verify_chain(session, keys, anchors or [])
    finally:
        await engine.dispose()
