"""Reading and moving items. Every state change here is one conditional UPDATE.

``transition`` is the single way an item changes state: ``WHERE id = … AND state IN (…)`` with a
row-count check, on SQLite and PostgreSQL alike. ``claim`` hands a worker a batch of items under a
lease; on PostgreSQL it uses ``FOR UPDATE SKIP LOCKED`` so workers do not queue on each other, but
correctness never depends on that (SQLite ignores it): the claim itself is conditional too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.group_commit import GroupCommit
from bot.store.item_states import WORKER_STATES, ItemState
from bot.store.models import Item, utcnow
from bot.store.stat_tally import Metric, count_events, hour_of
from bot.store.ticket_threads import thread_key
from bot.tickets import TicketIn


def new_item_id() -> str:
    return "itm_" + uuid.uuid4().hex[:20]


def claim_token(worker_id: str) -> str:
    """What one claim writes into ``claimed_by``: the worker, and this claim. A fresh token per
    claim means a slot whose item was released and claimed again (by another slot of the same
    process, say) no longer holds it: its conditional writes match nothing."""
    return f"{worker_id[:50]}#{secrets.token_hex(4)}"


@dataclass(frozen=True)
class IngestResult:
    item_id: str
    created: bool
    state: str


_ITEM: Table = Item.__table__  # type: ignore[attr-defined]


def _insert_defaults() -> dict[str, Any]:
    """What a new ``Item()`` writes into the columns ``ingest`` does not set: every non-None
    model default, and None for JSON columns (stored as JSON ``null``, as the ORM does). The
    other columns are left out, which stores the same NULL."""
    defaults: dict[str, Any] = {}
    for column in _ITEM.columns:
        field = Item.model_fields.get(column.name)
        if field is None or field.is_required():
            continue
        value = field.get_default(call_default_factory=True)
        if value is not None or column.type.should_evaluate_none:
            defaults[column.name] = value
    return defaults


_INSERT_DEFAULTS = _insert_defaults()
# Most tickets in one statement; a batch this size is a few hundred kilobytes of parameters.
INGEST_BATCH = 100


def _new_row(source: str, ticket: TicketIn) -> dict[str, Any]:
    now = utcnow()
    return {
        **_INSERT_DEFAULTS,
        "id": new_item_id(),
        "source": source,
        "external_id": ticket.id,
        "kind": ticket.kind,
        "subject": ticket.subject,
        "body": ticket.body,
        "customer_name": ticket.customer.name,
        "customer_email": ticket.customer.email,
        "customer_tier": ticket.customer.tier,
        "requested_action": (
            ticket.requested_action.model_dump(mode="json", exclude_none=True)
            if ticket.requested_action
            else None
        ),
        "extra": ticket.metadata,
        "thread_key": thread_key(source, ticket.metadata, ticket.id),
        "state": ItemState.RECEIVED.value,
        "created_at": now,
        "updated_at": now,
    }


@dataclass
class _Arrival:
    source: str
    ticket: TicketIn
    row: dict[str, Any]
    digest: str


async def _write_batch(sessions: SessionFactory, batch: list[_Arrival]) -> list[IngestResult]:
    async with transaction(sessions) as session:
        dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        statement = (
            dialect_insert(_ITEM)
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(_ITEM.c.id)
        )
        result = await session.execute(statement, [arrival.row for arrival in batch])
        created = set(result.scalars())
        for arrival in batch:
            if arrival.row["id"] in created:
                await audit.record(
                    session,
                    "received",
                    item_id=arrival.row["id"],
                    source=arrival.source,
                    external_id=arrival.ticket.id,
                    content_sha256=arrival.digest,
                )
        arrived = Counter(
            hour_of(arrival.row["created_at"]) for arrival in batch if arrival.row["id"] in created
        )
        for hour, count in sorted(arrived.items()):
            await count_events(session, hour, [Metric.RECEIVED], category=None, count=count)
    repeated = [arrival for arrival in batch if arrival.row["id"] not in created]
    existing: dict[tuple[str, str], tuple[str, str]] = {}
    if repeated:
        async with sessions() as session:
            for source in {arrival.source for arrival in repeated}:
                ids = {arrival.ticket.id for arrival in repeated if arrival.source == source}
                rows = await session.execute(
                    select(_ITEM.c.external_id, _ITEM.c.id, _ITEM.c.state).where(
                        _ITEM.c.source == source, _ITEM.c.external_id.in_(sorted(ids))
                    )
                )
                for external_id, item_id, state in rows:
                    existing[(source, external_id)] = (item_id, state)
    answers = []
    for arrival in batch:
        if arrival.row["id"] in created:
            answers.append(IngestResult(arrival.row["id"], True, ItemState.RECEIVED))
        else:
            item_id, state = existing[(arrival.source, arrival.ticket.id)]
            answers.append(IngestResult(item_id, False, state))
    return answers


# Tickets that arrive while a batch is being written go into the next one: one insert for all
# their rows (a repeated id is skipped, not an error), the audit chain's lock taken once and its
# rows appended in arrival order, one commit.
_writer: GroupCommit[_Arrival, IngestResult] = GroupCommit(
    _write_batch, batch_size=INGEST_BATCH, name="ingest"
)


async def ingest(sessions: SessionFactory, source: str, ticket: TicketIn) -> IngestResult:
    """Store a ticket as a new ``received`` item, or return the existing one for a repeated id.

    The unique (source, external_id) constraint decides, not a read-then-write check, so
    concurrent deliveries of the same ticket create exactly one item. Concurrent tickets share
    one transaction (``bot.store.group_commit``): per ticket, the audit chain's lock and the
    round trips of a transaction cost more than its insert.
    """
    arrival = _Arrival(source, ticket, _new_row(source, ticket), content_digest(ticket))
    return await _writer.submit(sessions, arrival)


def content_digest(ticket: TicketIn) -> str:
    """A digest of the ticket's content, kept in the audit log instead of a copy of it."""
    canonical = json.dumps(ticket.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def update_item(
    session: AsyncSession, item_id: str, *conditions: ColumnElement[bool], **values: Any
) -> bool:
    """One conditional UPDATE of one item row; True when it matched. The row count is the only
    truth about who won a race (SQLite ignores ``SKIP LOCKED``), so every state or claim change
    is this."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Item)
            .where(and_(col(Item.id) == item_id, *conditions))
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


async def transition(
    session: AsyncSession,
    item_id: str,
    *,
    from_states: Collection[ItemState],
    to: ItemState,
    held_by: str | None = None,
    only_if: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """Move ``item_id`` to ``to`` only if it is in one of ``from_states`` (and, when given, still
    claimed by the worker ``held_by``, and ``only_if`` holds). Returns whether this call made
    the move. ``values`` are columns to write, ``claimed_by`` among them."""
    conditions: list[ColumnElement[bool]] = [col(Item.state).in_(list(from_states))]
    if held_by is not None:
        conditions.append(col(Item.claimed_by) == held_by)
    if only_if is not None:
        conditions.append(only_if)
    return await update_item(session, item_id, *conditions, state=to, updated_at=utcnow(), **values)


async def get_item(sessions: SessionFactory, item_id: str) -> Item | None:
    async with sessions() as session:
        return await session.get(Item, item_id)


async def claim(
    sessions: SessionFactory,
    worker_id: str,
    *,
    lease: timedelta,
    limit: int,
    include_unposted: bool,
    now: datetime | None = None,
) -> Sequence[Item]:
    """Claim up to ``limit`` items that need a worker, under a lease that expires on a crash."""
    now = now or utcnow()
    due: list[ColumnElement[bool]] = [col(Item.state).in_(list(WORKER_STATES))]
    if include_unposted:
        due.append(and_(col(Item.state) == ItemState.PENDING_REVIEW, col(Item.slack_ts).is_(None)))
    free = or_(col(Item.claimed_until).is_(None), col(Item.claimed_until) < now)
    ready = or_(col(Item.next_attempt_at).is_(None), col(Item.next_attempt_at) <= now)
    async with transaction(sessions) as session:
        candidates = (
            await session.execute(
                select(col(Item.id))
                .where(or_(*due), free, ready)
                .order_by(col(Item.created_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        claimed: list[str] = []
        for item_id in list(candidates):
            if await update_item(
                session,
                item_id,
                free,
                claimed_by=claim_token(worker_id),
                claimed_until=now + lease,
            ):
                claimed.append(item_id)
        if not claimed:
            return []
        rows = await session.execute(select(Item).where(col(Item.id).in_(claimed)))
        return list(rows.scalars())


# Items that need a card and have none: waiting for review, or failed without ever having had
# one (an auto-approved action that failed needs a human and a Retry button too).
CARD_STATES = (ItemState.PENDING_REVIEW, ItemState.FAILED)


def _unposted() -> ColumnElement[bool]:
    return and_(col(Item.state).in_(CARD_STATES), col(Item.slack_ts).is_(None))


def _review_order() -> Any:
    """Cards go out in the order items entered review (arrival order, unless an assessment took
    longer: a card is not held back for an older item that is not ready yet)."""
    return func.coalesce(col(Item.review_started_at), col(Item.created_at))


async def other_cards_waiting(sessions: SessionFactory, item_id: str) -> bool:
    async with sessions() as session:
        found = await session.execute(
            select(col(Item.id)).where(_unposted(), col(Item.id) != item_id).limit(1)
        )
        return found.first() is not None


async def unposted_cards(sessions: SessionFactory, *, limit: int) -> tuple[int, list[Item]]:
    """How many cards wait to be posted, and the oldest ``limit`` of them."""
    async with sessions() as session:
        total = (
            await session.execute(select(func.count()).select_from(Item).where(_unposted()))
        ).scalar_one()
        oldest = await session.execute(
            select(Item).where(_unposted()).order_by(_review_order(), col(Item.id)).limit(limit)
        )
        return int(total), list(oldest.scalars())


async def claim_unposted_card(
    sessions: SessionFactory, worker_id: str, *, lease: timedelta, now: datetime | None = None
) -> Item | None:
    """Claim the card that has waited longest, so cards appear in the order items entered review
    and two instances never post the same card."""
    now = now or utcnow()
    free = or_(col(Item.claimed_until).is_(None), col(Item.claimed_until) < now)
    ready = or_(col(Item.next_attempt_at).is_(None), col(Item.next_attempt_at) <= now)
    async with transaction(sessions) as session:
        item_id = (
            await session.execute(
                select(col(Item.id))
                .where(_unposted(), free, ready)
                .order_by(_review_order(), col(Item.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if item_id is None:
            return None
        if not await update_item(
            session,
            item_id,
            free,
            _unposted(),
            claimed_by=claim_token(worker_id),
            claimed_until=now + lease,
        ):
            return None
        return await session.get(Item, item_id)


async def renew_claim(
    session: AsyncSession, item_id: str, worker_id: str, *, lease: timedelta, **values: Any
) -> bool:
    """Extend this worker's lease; False when the claim is no longer ours.

    Conditional on ``claimed_by`` alone: a takeover always rewrites ``claimed_by`` (``claim`` is
    conditional on the lease having run out), so while it still names this worker nobody else
    holds the item, even if the lease ran out a moment ago.
    """
    return await update_item(
        session,
        item_id,
        col(Item.claimed_by) == worker_id,
        claimed_until=utcnow() + lease,
        **values,
    )


async def begin_send(
    session: AsyncSession, item_id: str, worker_id: str, *, lease: timedelta
) -> bool:
    """The fence before an executor calls out: count the attempt, mark the send as started and
    renew the lease, all only if this worker still holds the ``executing`` item. A worker whose
    lease was taken over gets False here and never sends."""
    return await update_item(
        session,
        item_id,
        col(Item.state) == ItemState.EXECUTING,
        col(Item.claimed_by) == worker_id,
        attempts=col(Item.attempts) + 1,
        send_started_at=utcnow(),
        claimed_until=utcnow() + lease,
        updated_at=utcnow(),
    )


async def release(session: AsyncSession, item_id: str, worker_id: str, **values: Any) -> None:
    """Give up a claim (optionally recording e.g. a retry time) without changing state."""
    await update_item(
        session,
        item_id,
        col(Item.claimed_by) == worker_id,
        claimed_by=None,
        claimed_until=None,
        updated_at=utcnow(),
        **values,
    )
