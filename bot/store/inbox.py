"""The interaction inbox: every Slack interaction Signoff acknowledges is a row here first.

Slack never resends an interaction it got a 200 for, so the work behind an ack must not live only
in the memory of the process that acked. ``accept`` records the interaction (group-committed with
the others arriving meanwhile, so the ack waits for one shared insert) and hands it, already
leased, to the instance that received it. Rows are applied in arrival order per ``lane`` (an
item, a user): a row is only started when no earlier row of its lane is still undone. A worker
that dies leaves its rows leased; when the lease runs out, ``claim_due`` lets any instance take
them over. ``finish`` marks a row done with its outcome, conditional on the claim, and the row
stays (audit, de-duplication of Slack's retries) until ``delete_done_before``.

Applying a row twice (a crash after the work committed but before ``finish``) is safe because
the work itself is conditional (``bot.review.approve`` and its siblings: an approval already
counted, a decided item, a changed draft version change nothing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.store.column_types import UTCDateTime, utcnow
from bot.store.database import SessionFactory, changed_rows, transaction
from bot.store.group_commit import GroupCommit
from bot.store.items import claim_token
from bot.store.models import InboxEntry

_INBOX: Table = InboxEntry.__table__  # type: ignore[attr-defined]
# Most interactions in one statement; each row is a few hundred bytes of essentials.
ACCEPT_BATCH = 200
# Kept this long after they are done: far beyond any retry, long enough to look into a day.
KEEP_DONE_FOR = timedelta(days=1)
OUTCOME_CHARS = 500


def retry_key(*identity: object) -> str:
    """Slack's identity of one request, hashed to a fixed width: a retry carries the same."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


ITEM_LANE = "item:"


def item_lane(item_id: str) -> str:
    """The lane of interactions on one item: its decisions apply in the order they came."""
    return f"{ITEM_LANE}{item_id}"


def user_lane(user_id: str | None) -> str:
    """The lane of one person's interactions that concern no item (commands, events)."""
    return f"user:{user_id}"


@dataclass(frozen=True)
class Interaction:
    kind: str
    lane: str
    actor: str | None
    payload: dict[str, Any]
    retry_key: str
    signed_at: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A recorded interaction: ``first`` is False for Slack's retry of one already recorded
    (``entry_id`` is then the original's and ``token`` is None: its work is not ours)."""

    entry_id: int
    first: bool
    lane: str
    token: str | None


@dataclass(frozen=True)
class _Arrival:
    interaction: Interaction
    token: str
    lease: timedelta
    # The payload as JSON, encoded once by the sender (not in the writer, which every ack waits
    # for, and not again when a failed batch is written row by row).
    payload_json: str


# PostgreSQL: one statement whatever the batch size (arrays, one element per row), so psycopg
# prepares it after a few batches and the server parses and plans it once per connection. It
# runs on its own (autocommit): its one round trip is the commit, and once it answers, every row
# of it is durable. ``ORDER BY n`` keeps the ids in arrival order.
_PG_ACCEPT = text(
    """
    INSERT INTO interaction_inbox (retry_key, kind, lane, actor, payload, signed_at,
                                   received_at, claimed_by, claimed_until, attempts)
    SELECT r.retry_key, r.kind, r.lane, r.actor, CAST(r.payload AS jsonb), r.signed_at,
           :now, r.claimed_by, r.claimed_until, 0
    FROM unnest(CAST(:retry_keys AS text[]), CAST(:kinds AS text[]), CAST(:lanes AS text[]),
                CAST(:actors AS text[]), CAST(:payloads AS text[]), CAST(:signed_ats AS text[]),
                CAST(:claimed_bys AS text[]), CAST(:claimed_untils AS timestamptz[]))
         WITH ORDINALITY AS r(retry_key, kind, lane, actor, payload, signed_at, claimed_by,
                              claimed_until, n)
    ORDER BY r.n
    ON CONFLICT (retry_key) DO NOTHING
    RETURNING id, retry_key
    """
)


def _columns(batch: list[_Arrival], now: datetime) -> dict[str, Any]:
    rows = [
        (
            a.interaction.retry_key,
            a.interaction.kind,
            a.interaction.lane[:100],
            (a.interaction.actor or "")[:64] or None,
            a.payload_json,
            (a.interaction.signed_at or "")[:20] or None,
            a.token,
            now + a.lease,
        )
        for a in batch
    ]
    names = ("retry_keys", "kinds", "lanes", "actors", "payloads", "signed_ats", "claimed_bys")
    columns: dict[str, Any] = {name: [row[n] for row in rows] for n, name in enumerate(names)}
    columns["claimed_untils"] = [row[7] for row in rows]
    columns["now"] = now
    return columns


async def _insert_postgres(session: AsyncSession, batch: list[_Arrival]) -> dict[int, str]:
    connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    result = await connection.execute(_PG_ACCEPT, _columns(batch, utcnow()))
    return {int(entry_id): str(key) for entry_id, key in result.tuples()}


async def _insert_sqlite(session: AsyncSession, batch: list[_Arrival]) -> dict[int, str]:
    """SQLite has no round trips to save: one transaction (``BEGIN IMMEDIATE``) for the batch."""
    now = utcnow()
    rows = [
        {
            "retry_key": a.interaction.retry_key,
            "kind": a.interaction.kind,
            "lane": a.interaction.lane[:100],
            "actor": (a.interaction.actor or "")[:64] or None,
            "payload": a.payload_json,
            "signed_at": (a.interaction.signed_at or "")[:20] or None,
            "received_at": now,
            "claimed_by": a.token,
            "claimed_until": now + a.lease,
            "attempts": 0,
        }
        for a in batch
    ]
    async with session.begin():
        result = await session.execute(_SQLITE_ACCEPT, rows)
        return {int(entry_id): str(key) for entry_id, key in result.tuples()}


# The payload column is JSON text on SQLite: the encoded payload goes in as it is.
_SQLITE_ACCEPT = (
    sqlite_insert(_INBOX)
    .values(payload=bindparam("payload", type_=Text()))
    .on_conflict_do_nothing(index_elements=["retry_key"])
    .returning(_INBOX.c.id, _INBOX.c.retry_key)
)


async def _write_batch(sessions: SessionFactory, batch: list[_Arrival]) -> list[Accepted]:
    async with sessions() as session:
        postgres = session.bind.dialect.name == "postgresql"
        insert = _insert_postgres if postgres else _insert_sqlite
        created = await insert(session, batch)
        earlier: dict[str, int] = {}
        if len(created) < len(batch):
            # Slack's retries (the rows are committed: a conflicting insert waits for the other).
            keys = {a.interaction.retry_key for a in batch} - set(created.values())
            found = await session.execute(
                select(_INBOX.c.retry_key, _INBOX.c.id).where(_INBOX.c.retry_key.in_(keys))
            )
            earlier = {str(key): int(entry_id) for key, entry_id in found.tuples()}
    by_key = {key: entry_id for entry_id, key in created.items()}
    answers = []
    seen: set[str] = set()
    for a in batch:
        key = a.interaction.retry_key
        if key in by_key and key not in seen:  # a key twice in one batch: the second is a retry
            seen.add(key)
            answers.append(Accepted(by_key[key], True, a.interaction.lane, a.token))
        else:
            original = by_key.get(key) or earlier[key]
            answers.append(Accepted(original, False, a.interaction.lane, None))
    return answers


# One batch at a time, on purpose: rows of a lane must get their ids in the order their acks
# hand them to the runners (``InteractionInbox.run``), or a runner finds an earlier undone row
# of its lane, gives its own back, and the sweep applies the lane one row per tick. (Measured:
# with three batches in flight, most ``/signoff pending`` answers of one user did not arrive
# within the ack benchmark's 40 s.)
_writer: GroupCommit[_Arrival, Accepted] = GroupCommit(
    _write_batch, batch_size=ACCEPT_BATCH, name="inbox"
)


async def accept(
    sessions: SessionFactory, interaction: Interaction, *, token: str, lease: timedelta
) -> Accepted:
    """Record ``interaction`` (held by ``token`` for ``lease``) or recognise Slack's retry of
    one already recorded. Returns after the commit: only then may Slack get its ack."""
    payload_json = json.dumps(interaction.payload, separators=(",", ":"))
    return await _writer.submit(sessions, _Arrival(interaction, token, lease, payload_json))


def _no_earlier_undone() -> ColumnElement[bool]:
    earlier = aliased(InboxEntry)
    return ~exists(
        select(col(earlier.id)).where(
            col(earlier.lane) == col(InboxEntry.lane),
            col(earlier.id) < col(InboxEntry.id),
            col(earlier.done_at).is_(None),
        )
    )


async def _update(*conditions: ColumnElement[bool], sessions: SessionFactory, **values: Any) -> int:
    async with transaction(sessions) as session:
        return await changed_rows(
            session, update(InboxEntry).where(and_(*conditions)).values(**values)
        )


# Built once, like every statement a click runs: building and cache-keying an ORM update with
# an aliased subquery on each call cost more CPU than running it (py-spy, under 50 clients).
# This row, while this token holds it: what start, renew and finish all update.
_HELD = (
    update(InboxEntry)
    .where(
        col(InboxEntry.id) == bindparam("entry_id"),
        col(InboxEntry.claimed_by) == bindparam("token"),
    )
    .execution_options(synchronize_session=False)
)
_STARTED = (
    _HELD.where(col(InboxEntry.done_at).is_(None), _no_earlier_undone())
    .values(
        attempts=col(InboxEntry.attempts) + 1,
        claimed_until=bindparam("until", type_=UTCDateTime()),
    )
    .returning(InboxEntry)
)
_RENEWED = _HELD.values(claimed_until=bindparam("until", type_=UTCDateTime()))
_FINISHED = _HELD.where(col(InboxEntry.done_at).is_(None)).values(
    done_at=bindparam("done_at", type_=UTCDateTime()),
    outcome=bindparam("outcome", type_=Text()),
    claimed_by=None,
    claimed_until=None,
)


async def start(
    sessions: SessionFactory, entry_id: int, token: str, *, lease: timedelta
) -> InboxEntry | None:
    """Begin applying a row this worker holds: only if it is still ours, undone, and every
    earlier row of its lane is done (else None: it must wait its turn). Counts the attempt."""
    async with transaction(sessions) as session:
        # One statement: the row comes back with the update (no second read).
        started = await session.scalars(
            _STARTED, {"entry_id": entry_id, "token": token, "until": utcnow() + lease}
        )
        return started.one_or_none()


async def renew(sessions: SessionFactory, entry_id: int, token: str, *, lease: timedelta) -> bool:
    """Extend the lease of a row being applied; False when it is no longer ours."""
    params = {"entry_id": entry_id, "token": token, "until": utcnow() + lease}
    return await _changed(sessions, _RENEWED, params) == 1


async def finish(sessions: SessionFactory, entry_id: int, token: str, outcome: str) -> bool:
    """Mark the row done with ``outcome``; False when another worker took it over meanwhile."""
    params = {
        "entry_id": entry_id,
        "token": token,
        "done_at": utcnow(),
        "outcome": outcome[:OUTCOME_CHARS],
    }
    return await _changed(sessions, _FINISHED, params) == 1


async def _changed(sessions: SessionFactory, statement: Update, params: dict[str, Any]) -> int:
    async with transaction(sessions) as session:
        result = await session.execute(statement, params)
        return int(cast(CursorResult[Any], result).rowcount)


async def release(sessions: SessionFactory, tokens: Sequence[str]) -> int:
    """Give undone rows back (their work was not started): any instance's sweep takes them at
    once instead of after the lease."""
    if not tokens:
        return 0
    return await _update(
        col(InboxEntry.claimed_by).in_(list(tokens)),
        col(InboxEntry.done_at).is_(None),
        sessions=sessions,
        claimed_by=None,
        claimed_until=None,
    )


async def claim_due(
    sessions: SessionFactory,
    worker_id: str,
    *,
    lease: timedelta,
    limit: int,
    now: datetime | None = None,
) -> list[tuple[InboxEntry, str]]:
    """Claim up to ``limit`` undone rows nobody holds (never held, released, or whose holder's
    lease ran out: it crashed) and whose lane has no earlier undone row. Oldest first."""
    now = now or utcnow()
    free = or_(col(InboxEntry.claimed_until).is_(None), col(InboxEntry.claimed_until) < now)
    async with transaction(sessions) as session:
        candidates = (
            await session.execute(
                select(col(InboxEntry.id))
                .where(col(InboxEntry.done_at).is_(None), free, _no_earlier_undone())
                .order_by(col(InboxEntry.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        claimed: list[tuple[InboxEntry, str]] = []
        for entry_id in list(candidates):
            token = claim_token(worker_id)
            taken = await changed_rows(
                session,
                update(InboxEntry)
                .where(col(InboxEntry.id) == entry_id, col(InboxEntry.done_at).is_(None), free)
                .values(claimed_by=token, claimed_until=now + lease),
            )
            if taken == 1:
                entry = await session.get(InboxEntry, entry_id)
                if entry is not None:
                    claimed.append((entry, token))
        return claimed


async def delete_done_before(sessions: SessionFactory, cutoff: datetime) -> int:
    """Forget rows done before ``cutoff``; an undone row is never deleted."""
    async with transaction(sessions) as session:
        return await changed_rows(
            session, delete(InboxEntry).where(col(InboxEntry.done_at) < cutoff)
        )
