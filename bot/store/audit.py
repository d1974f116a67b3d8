"""The append-only, tamper-evident audit log: one row per step and per human decision.

``record`` only ever inserts; the migrations install triggers that refuse UPDATE and DELETE, so
a bug elsewhere cannot rewrite history. Each row also carries the hash of the previous row, and
with ``SIGNOFF_AUDIT_KEY`` set that hash is an HMAC (``bot/store/audit_keys.py``): an edit made
around the triggers by someone with direct database access breaks the chain, and without the key
it cannot be re-sealed. ``bot/store/audit_verify.py`` walks it; anchors published outside the
database (``bot/store/audit_anchors.py``) catch deleted tail rows.

The keyed chain begins at a recorded boundary: the first time a process with a key starts on a
chain whose last row is unkeyed (or on an empty one), it appends ``audit_chain_keyed`` (keyed,
naming the key id and the last unkeyed row); a new key appends ``audit_key_rotated``. After the
first keyed row no unkeyed row is valid, and a process without the key refuses to start.

Callers pass the session of the transaction that made the change, so the change and its audit
row commit together or not at all. On PostgreSQL a transaction-scoped advisory lock serialises
chain appends across instances; SQLite serialises writers already. The key travels in the
session's ``info`` (set once by ``session_factory``), so callers never handle it.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.errors import ConfigurationError
from bot.store.audit_keys import (
    AUDIT_KEYS_INFO,
    ERASED,
    NO_KEYS,
    AuditKey,
    AuditKeys,
    field_digests,
    fields_mac,
    keyed_row_mac,
    legacy_hash,
)
from bot.store.column_types import utcnow
from bot.store.models import AuditEvent

SYSTEM = "system"
AUTO = "auto"
GENESIS = "0" * 64
CHAIN_KEYED = "audit_chain_keyed"
KEY_ROTATED = "audit_key_rotated"
_CHAIN_LOCK = 0x5160FF  # arbitrary, fixed advisory-lock key for the audit chain
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Built once: constructing and cache-keying a statement per row cost more than running it.
_LAST_ROW = select(_AUDIT.c.row_hash, _AUDIT.c.key_id).order_by(_AUDIT.c.id.desc()).limit(1)
_APPEND = insert(_AUDIT)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# session.info key: (weakref to the transaction holding the chain, last row hash it appended)
_CHAIN_STATE = "signoff_audit_chain"


class AuditKeyMissingError(ConfigurationError):
    """The chain is keyed but this process has no key: an unkeyed row now would be a
    downgrade that verification reports as tampering, so nothing is appended."""


def _keys(session: AsyncSession) -> AuditKeys:
    keys = session.info.get(AUDIT_KEYS_INFO)
    return keys if isinstance(keys, AuditKeys) else NO_KEYS


def current_key(session: AsyncSession) -> AuditKey | None:
    """The key this session seals new rows with (``None``: the chain is unkeyed)."""
    return _keys(session).current


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
        await _lock(session)
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


async def _lock(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(_LOCK, {"key": _CHAIN_LOCK})


async def record(
    session: AsyncSession,
    event: str,
    *,
    item_id: str | None = None,
    actor: str = SYSTEM,
    **detail: Any,
) -> None:
    held, prev_hash = _chain_held(session)
    key = _keys(session).current
    if not held:
        await _lock(session)
    if prev_hash is None:
        previous = (await session.execute(_LAST_ROW)).one_or_none()
        if previous is not None and previous.key_id is not None and key is None:
            raise AuditKeyMissingError(
                ["the audit chain is keyed but SIGNOFF_AUDIT_KEY is not set: set it"]
            )
        prev_hash = previous.row_hash if previous is not None else GENESIS
    if ERASED in detail:
        raise ValueError(f"{ERASED} is reserved for erased content")
    at = utcnow()
    clean = _jsonable(detail)
    row: dict[str, Any] = {
        "at": at,
        "item_id": item_id,
        "actor": actor,
        "event": event,
        "detail": clean,
        "prev_hash": prev_hash,
    }
    if key is None:
        row["row_hash"] = legacy_hash(prev_hash, at, item_id, actor, event, clean)
    else:
        digests = field_digests(key, clean)
        assert digests is not None  # a dict without the erasure key always is
        content = fields_mac(key, digests)
        row["key_id"] = key.key_id
        row["detail_mac"] = content
        row["row_hash"] = keyed_row_mac(key, prev_hash, at, item_id, actor, event, content)
    # A Core insert: an ORM object and a flush cost more than the row itself.
    await session.execute(_APPEND, row)
    _remember_chain(session, row["row_hash"])


async def start_keyed_chain(session: AsyncSession) -> str | None:
    """Record where this process's key takes over the chain, once (call at start-up, inside a
    transaction). Returns the event appended, if any.

    * no key, unkeyed or empty chain: nothing (the chain stays unkeyed; start-up warns);
    * no key, keyed chain: refused (``AuditKeyMissingError``);
    * a key on an unkeyed or empty chain: ``audit_chain_keyed`` marks the boundary;
    * a key other than the last row's: ``audit_key_rotated`` names both key ids.
    """
    await _lock(session)
    key = _keys(session).current
    last = (await session.execute(_LAST_ROW)).one_or_none()
    last_key = last.key_id if last is not None else None
    if key is None:
        if last_key is not None:
            raise AuditKeyMissingError(
                [
                    f"SIGNOFF_AUDIT_KEY is not set, but the audit chain is keyed (key "
                    f"{last_key}): set the key, or every audited step would fail"
                ]
            )
        return None
    if last_key == key.key_id:
        return None
    if last_key is None:
        unkeyed = (await session.execute(select(func.count()).select_from(_AUDIT))).scalar_one()
        await record(session, CHAIN_KEYED, key_id=key.key_id, unkeyed_rows=int(unkeyed))
        return CHAIN_KEYED
    await record(session, KEY_ROTATED, from_key_id=last_key, to_key_id=key.key_id)
    return KEY_ROTATED


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
