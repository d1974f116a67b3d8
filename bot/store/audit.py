"""The append-only, tamper-evident audit log: one row per step and per human decision.

``record`` only ever inserts; the migrations install triggers that refuse UPDATE and DELETE, so
a bug elsewhere cannot rewrite history. Each row also carries the hash of the previous row of
its chain, and with ``SIGNOFF_AUDIT_KEY`` set that hash is an HMAC (``bot/store/audit_keys.py``):
an edit made around the triggers by someone with direct database access breaks the chain, and
without the key it cannot be re-sealed. ``bot/store/audit_verify.py`` walks it; anchors
published outside the database (``bot/store/audit_anchors.py``) catch deleted tail rows.

The log is ``CHAINS`` hash chains, not one (issue 18): a row goes to the chain of its item
(``chain_of``: a fixed hash of the item id, so one item's rows stay in one chain and in order),
rows without an item to chain 0. Each chain has its own lock, so instances appending steps of
different items do not wait for each other; one global lock made every audited step of every
instance queue behind the others. Rows before migration 0018 are chain 0, unchanged.

The keyed chain begins at a recorded boundary: the first time a process with a key starts on a
log whose last row is unkeyed (or on an empty one), it appends ``audit_chain_keyed`` to chain 0
(keyed, naming the key id and the number of unkeyed rows); a new key appends
``audit_key_rotated``. After the first keyed row no unkeyed row is valid in any chain, and a
process without the key refuses to start; one already running refuses to append (it checks its
row's chain and chain 0, which holds the boundary).

Callers pass the session of the transaction that made the change, so the change and its audit
row commit together or not at all. On PostgreSQL a transaction-scoped advisory lock per chain
serialises a chain's appends across instances; SQLite serialises writers already. A transaction
that appends to several chains takes them as it goes: one that knows its items up front takes
them in ascending order (``lock_chains``, ``record_many``), which cannot deadlock with another
doing the same. The key travels in the session's ``info`` (set once by ``session_factory``), so
callers never handle it.
"""

from __future__ import annotations

import json
import weakref
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text
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
# How many chains: enough that 50 instances rarely meet on one; changing it later moves items'
# new rows to another chain (each chain still verifies, an item's rows then span two).
CHAINS = 16
NO_ITEM_CHAIN = 0
_CHAIN_LOCK = 0x5160FF  # arbitrary, fixed advisory-lock class for the audit chains
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Built once: constructing and cache-keying a statement per row cost more than running it.
_LAST_ROW = (
    select(_AUDIT.c.row_hash, _AUDIT.c.key_id)
    .where(_AUDIT.c.chain == bindparam("chain"))
    .order_by(_AUDIT.c.id.desc())
    .limit(1)
)
_NEWEST_ROW = select(_AUDIT.c.row_hash, _AUDIT.c.key_id).order_by(_AUDIT.c.id.desc()).limit(1)
_APPEND = insert(_AUDIT)
_LOCK = text("SELECT pg_advisory_xact_lock(:key, :chain)")
# Several chains in one round trip (migration 0019): locks taken in the array's (ascending)
# order as ``lock_chains`` takes them, each head read after its lock, then, when asked, chain
# 0's newest row (the keyed boundary) as chain ``_BOUNDARY``. A chain with no rows is absent.
_LOCK_AND_HEADS = text(
    "SELECT chain_no, head_hash, head_key "
    "FROM signoff_audit_chain_heads(:key, CAST(:chains AS integer[]), :with_boundary)"
)
_BOUNDARY = -1
_UNREAD = object()  # the boundary was not read with the heads (``_checked_heads``)
# session.info key: (weakref to the transaction, {chain: last row hash it appended, or None})
_CHAIN_STATE = "signoff_audit_chain"


class AuditKeyMissingError(ConfigurationError):
    """The chain is keyed but this process has no key: an unkeyed row now would be a
    downgrade that verification reports as tampering, so nothing is appended."""


def chain_of(item_id: str | None) -> int:
    """The chain an item's rows go to: CRC-32 (stable across processes and versions, unlike
    ``hash``) of its id; rows without an item go to chain 0."""
    if item_id is None:
        return NO_ITEM_CHAIN
    return zlib.crc32(item_id.encode()) % CHAINS


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


async def lock_chain(session: AsyncSession, item_id: str | None = None) -> None:
    """Take the lock of ``item_id``'s chain now rather than at the first ``record`` (it is held
    until commit): for transactions that must take it before a row another appender of that
    chain may lock (the order: chain, then rows). On SQLite the first statement takes the one
    writer lock (``BEGIN IMMEDIATE``), which is what ordering by timestamps needs there."""
    await lock_chains(session, [item_id])


async def lock_chains(session: AsyncSession, item_ids: Iterable[str | None]) -> None:
    """Take the chains of ``item_ids`` now, in ascending order (two transactions doing this
    never deadlock). Call before appending to any of them."""
    held = _held(session)
    wanted = sorted({chain_of(item_id) for item_id in item_ids} - set(held))
    if session.bind.dialect.name == "postgresql":
        for chain in wanted:
            await session.execute(_LOCK, {"key": _CHAIN_LOCK, "chain": chain})
    else:
        await session.execute(text("SELECT 1"))
    for chain in wanted:
        held[chain] = None
    _remember(session, held)


def lock_all_chains_sync(connection: Connection) -> None:
    """Every chain's lock, in order, on a plain (synchronous) connection: migrations and the
    CLI, to exclude every appender at once. On SQLite the transaction's first write takes the
    one writer lock instead."""
    if connection.dialect.name == "postgresql":
        for chain in range(CHAINS):
            connection.execute(_LOCK, {"key": _CHAIN_LOCK, "chain": chain})


def _remember(session: AsyncSession, held: dict[int, str | None]) -> None:
    """Note which chains this transaction holds (and the hash each ends with once it appended).
    Held until commit or rollback, so no other writer can append to them meanwhile: a second
    ``record`` on a held chain needs neither the lock nor the read again."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        session.info[_CHAIN_STATE] = (weakref.ref(transaction), held)


def _held(session: AsyncSession) -> dict[int, str | None]:
    state = session.info.get(_CHAIN_STATE)
    transaction = session.sync_session.get_transaction()
    if state is None or transaction is None or state[0]() is not transaction:
        return {}
    return dict(state[1])


def tally_shard(session: AsyncSession) -> int:
    """Where this transaction's tally increments go: the lowest chain it holds (chain 0 when
    none), so a shard's rows are only written under that chain's lock."""
    held = _held(session)
    return min(held) if held else NO_ITEM_CHAIN


async def _head(session: AsyncSession, chain: int, key: AuditKey | None) -> str:
    """The hash chain ``chain`` ends with (its lock held)."""
    previous = (await session.execute(_LAST_ROW, {"chain": chain})).one_or_none()
    return (await _checked_heads(session, key, {chain: previous}))[chain]


async def _lock_and_heads(
    session: AsyncSession, chains: list[int], key: AuditKey | None
) -> dict[int, str]:
    """Take the locks of ``chains`` (ascending) and read their heads. On PostgreSQL one round
    trip for all of them and, without a key, for the keyed boundary too (migration 0019's
    function reads each after the locks, with a fresh snapshot): an ingest batch touches most
    chains, and a round trip per chain was most of its transaction; the boundary's own read was
    one more round trip for every audited step."""
    if not chains:
        return {}
    if session.bind.dialect.name != "postgresql":
        return {chain: await _head(session, chain, key) for chain in chains}
    # Without a key the boundary is needed unless chain 0 is among the chains (its head is it).
    with_boundary = key is None and NO_ITEM_CHAIN not in chains
    found = await session.execute(
        _LOCK_AND_HEADS, {"key": _CHAIN_LOCK, "chains": chains, "with_boundary": with_boundary}
    )
    rows = {chain: (head, head_key) for chain, head, head_key in found}
    boundary = rows.pop(_BOUNDARY, None)
    previous = {chain: rows.get(chain) for chain in chains}
    return await _checked_heads(session, key, previous, boundary if with_boundary else _UNREAD)


async def _checked_heads(
    session: AsyncSession,
    key: AuditKey | None,
    previous: dict[int, Any],
    boundary: Any = _UNREAD,
) -> dict[int, str]:
    """Each chain's head hash (``previous``: its last row's hash and key id, or None). Refuses
    an unkeyed append to a keyed log: a head says so, or chain 0's newest row (where the keyed
    boundary is), read once for all the chains rather than once per chain, and not at all
    when the caller read it with the heads (``boundary``: that row, or None for none)."""
    if key is None:
        keyed = any(row is not None and row[1] is not None for row in previous.values())
        if not keyed and any(chain != NO_ITEM_CHAIN for chain in previous):
            if NO_ITEM_CHAIN in previous:
                boundary = previous[NO_ITEM_CHAIN]
            elif boundary is _UNREAD:
                boundary = (
                    await session.execute(_LAST_ROW, {"chain": NO_ITEM_CHAIN})
                ).one_or_none()
            keyed = boundary is not None and boundary[1] is not None
        if keyed:
            raise AuditKeyMissingError(
                ["the audit chain is keyed but SIGNOFF_AUDIT_KEY is not set: set it"]
            )
    return {chain: str(row[0]) if row is not None else GENESIS for chain, row in previous.items()}


@dataclass(frozen=True)
class Entry:
    """One row to append with ``record_many``: the same arguments as ``record``."""

    event: str
    item_id: str | None = None
    actor: str = SYSTEM
    detail: dict[str, Any] = field(default_factory=dict)


def _sealed(key: AuditKey | None, entry: Entry, prev_hash: str, chain: int) -> dict[str, Any]:
    if ERASED in entry.detail:
        raise ValueError(f"{ERASED} is reserved for erased content")
    at = utcnow()
    clean = _jsonable(entry.detail)
    item_id, actor, event = entry.item_id, entry.actor, entry.event
    row: dict[str, Any] = {
        "at": at,
        "item_id": item_id,
        "actor": actor,
        "event": event,
        "detail": clean,
        "prev_hash": prev_hash,
        "chain": chain,
        "key_id": None,
        "detail_mac": None,
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
    return row


async def record(
    session: AsyncSession,
    event: str,
    *,
    item_id: str | None = None,
    actor: str = SYSTEM,
    **detail: Any,
) -> None:
    await record_many(session, [Entry(event, item_id, actor, detail)])


async def record_many(session: AsyncSession, entries: Sequence[Entry]) -> None:
    """Append ``entries`` in order: each chain's rows keep the order given, its lock is taken
    once (all of them in ascending order, before any row) and its rows go in one INSERT. The
    rows are exactly those ``record`` would append one by one."""
    if not entries:
        return
    key = _keys(session).current
    chains = [chain_of(entry.item_id) for entry in entries]
    held: dict[int, str | None] = _held(session)
    # Ascending, like ``lock_chains``: never a deadlock.
    held.update(await _lock_and_heads(session, sorted(set(chains) - set(held)), key))
    by_chain: dict[int, list[dict[str, Any]]] = {}
    for entry, chain in zip(entries, chains, strict=True):
        prev_hash = held[chain]
        if prev_hash is None:
            prev_hash = await _head(session, chain, key)
        row = _sealed(key, entry, prev_hash, chain)
        held[chain] = row["row_hash"]
        by_chain.setdefault(chain, []).append(row)
    # A Core insert: an ORM object and a flush cost more than the row itself. One statement for
    # every chain's rows, chain after chain: ids follow the list's order, so each chain's rows
    # keep theirs.
    rows = [row for chain in sorted(by_chain) for row in by_chain[chain]]
    await session.execute(_APPEND, rows if len(rows) > 1 else rows[0])
    _remember(session, held)


async def start_keyed_chain(session: AsyncSession) -> str | None:
    """Record where this process's key takes over the chain, once (call at start-up, inside a
    transaction). Returns the event appended, if any.

    * no key, unkeyed or empty chain: nothing (the chain stays unkeyed; start-up warns);
    * no key, keyed chain: refused (``AuditKeyMissingError``);
    * a key on an unkeyed or empty chain: ``audit_chain_keyed`` marks the boundary;
    * a key other than the newest row's: ``audit_key_rotated`` names both key ids.

    Both go to chain 0, whose head then tells a process without the key that the log is keyed.
    """
    await lock_chain(session, None)  # chain 0 holds the boundary
    key = _keys(session).current
    last = (await session.execute(_NEWEST_ROW)).one_or_none()
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
