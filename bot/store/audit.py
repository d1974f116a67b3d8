"""The append-only, tamper-evident audit log: one row per step and per human decision.

``record`` only ever inserts; the migration installs triggers that refuse UPDATE and DELETE, so a
bug elsewhere cannot rewrite history. Each row also carries the hash of the previous row, so an
edit made around the triggers (by someone with direct database access) breaks the chain and
``verify_chain`` names the first row that no longer matches.

Callers pass the session of the transaction that made the change, so the change and its audit
row commit together or not at all. On PostgreSQL a transaction-scoped advisory lock serialises
chain appends across instances; SQLite serialises writers already.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.models import AuditEvent, utcnow

SYSTEM = "system"
AUTO = "auto"
GENESIS = "0" * 64
_CHAIN_LOCK = 0x5160FF  # arbitrary, fixed advisory-lock key for the audit chain
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Built once: constructing and cache-keying a statement per row cost more than running it.
_LAST_HASH = select(_AUDIT.c.row_hash).order_by(_AUDIT.c.id.desc()).limit(1)
_APPEND = insert(_AUDIT)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# session.info key: (weakref to the transaction holding the chain, last row hash it appended)
_CHAIN_STATE = "signoff_audit_chain"


def row_hash(
    prev_hash: str, at: datetime, item_id: str | None, actor: str, event: str, detail: Any
) -> str:
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": at.isoformat(timespec="microseconds"),
            "item_id": item_id,
            "actor": actor,
            "event": event,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    # Round-trip now so the hash covers exactly what the database will hand back later.
    loaded: dict[str, Any] = json.loads(json.dumps(detail, default=str))
    return loaded


async def lock_chain(session: AsyncSession) -> None:
    """Take the chain's lock now rather than at the first ``record`` (it is held until commit).

    Timestamps taken after this are in commit order across transactions and instances (on
    SQLite the first statement takes the one writer lock, ``BEGIN IMMEDIATE``), which is what
    ordering by them needs: the card queue is ordered by when items entered review. Only for
    transactions that touch no row another transaction may hold while it waits for the chain.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(_LOCK, {"key": _CHAIN_LOCK})
    else:
        await session.execute(text("SELECT 1"))
    _remember_chain(session, None)


def lock_chain_sync(connection: Connection) -> None:
    """:func:`lock_chain` for a plain (synchronous) connection: migrations and the CLI. On
    SQLite the transaction's first write takes the one writer lock instead."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK, {"key": _CHAIN_LOCK})


def _remember_chain(session: AsyncSession, last_hash: str | None) -> None:
    """Note that this transaction holds the chain (and, once it appended, the hash it ends
    with). Held until commit or rollback, so no other writer can append meanwhile: a second
    ``record`` in the same transaction needs neither the lock nor the read again."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        session.info[_CHAIN_STATE] = (weakref.ref(transaction), last_hash)


def _chain_held(session: AsyncSession) -> tuple[bool, str | None]:
    state = session.info.get(_CHAIN_STATE)
    transaction = session.sync_session.get_transaction()
    if state is None or transaction is None or state[0]() is not transaction:
        return False, None
    return True, state[1]


async def record(
    session: AsyncSession,
    event: str,
    *,
    item_id: str | None = None,
    actor: str = SYSTEM,
    **detail: Any,
) -> None:
    held, prev_hash = _chain_held(session)
    if not held and session.bind.dialect.name == "postgresql":
        await session.execute(_LOCK, {"key": _CHAIN_LOCK})
    if prev_hash is None:
        previous = (await session.execute(_LAST_HASH)).scalar_one_or_none()
        prev_hash = previous or GENESIS
    at = utcnow()
    clean = _jsonable(detail)
    digest = row_hash(prev_hash, at, item_id, actor, event, clean)
    # A Core insert: an ORM object and a flush cost more than the row itself.
    await session.execute(
        _APPEND,
        {
            "at": at,
            "item_id": item_id,
            "actor": actor,
            "event": event,
            "detail": clean,
            "prev_hash": prev_hash,
            "row_hash": digest,
        },
    )
    _remember_chain(session, digest)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_bad_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


async def iter_events(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    last_id = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(col(AuditEvent.id) > last_id)
                    .order_by(col(AuditEvent.id))
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row
        last_id = rows[-1].id or last_id


async def verify_chain(session: AsyncSession) -> ChainReport:
    expected_prev = GENESIS
    count = 0
    async for row in iter_events(session):
        count += 1
        assert row.id is not None
        if row.prev_hash != expected_prev:
            return ChainReport(count, row.id, "previous-hash link does not match the row before")
        recomputed = row_hash(row.prev_hash, row.at, row.item_id, row.actor, row.event, row.detail)
        if row.row_hash != recomputed:
            return ChainReport(count, row.id, "row content does not match its hash")
        expected_prev = row.row_hash
    return ChainReport(count, None, None)
