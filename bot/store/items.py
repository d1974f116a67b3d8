"""Reading, moving and claiming items. Every state change here is one conditional UPDATE.

Arriving tickets become items in ``bot.store.ingest``; the card queue is ``bot.store.card_queue``.

``transition`` is the single way an item changes state: ``WHERE id = … AND state IN (…)`` with a
row-count check, on SQLite and PostgreSQL alike. ``claim`` hands a worker a batch of items under a
lease; on PostgreSQL it uses ``FOR UPDATE SKIP LOCKED`` so workers do not queue on each other, but
correctness never depends on that (SQLite ignores it): the claim itself is conditional too.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, one_round_trip
from bot.store.item_states import WORKER_STATES, ItemState
from bot.store.models import Item


def claim_token(worker_id: str) -> str:
    """What one claim writes into ``claimed_by``: the worker, and this claim. A fresh token per
    claim means a slot whose item was released and claimed again (by another slot of the same
    process, say) no longer holds it: its conditional writes match nothing."""
    return f"{worker_id[:50]}#{secrets.token_hex(4)}"


def claim_is_free(now: datetime) -> ColumnElement[bool]:
    """Nobody holds the item, or their lease ran out before ``now``."""
    return or_(col(Item.claimed_until).is_(None), col(Item.claimed_until) < now)


def attempt_due(now: datetime) -> ColumnElement[bool]:
    """No retry is scheduled after ``now``."""
    return or_(col(Item.next_attempt_at).is_(None), col(Item.next_attempt_at) <= now)


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
    conditions = _moving(from_states, held_by, only_if)
    return await update_item(session, item_id, *conditions, state=to, updated_at=utcnow(), **values)


async def move(
    session: AsyncSession,
    item_id: str,
    *,
    from_states: Collection[ItemState],
    to: ItemState,
    held_by: str | None = None,
    only_if: ColumnElement[bool] | None = None,
    **values: Any,
) -> Item | None:
    """``transition``, returning the item as the move left it (``None`` when it did not move):
    the row comes back with the UPDATE, where a transition and a read after it were two round
    trips. What a step that goes on with the item uses."""
    moved = await session.scalars(
        update(Item)
        .where(col(Item.id) == item_id, *_moving(from_states, held_by, only_if))
        .values(state=to, updated_at=utcnow(), **values)
        .returning(Item)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return moved.one_or_none()


def _moving(
    from_states: Collection[ItemState], held_by: str | None, only_if: ColumnElement[bool] | None
) -> list[ColumnElement[bool]]:
    """The conditions of a state change: in one of ``from_states``, held by ``held_by``."""
    conditions: list[ColumnElement[bool]] = [col(Item.state).in_(list(from_states))]
    if held_by is not None:
        conditions.append(col(Item.claimed_by) == held_by)
    if only_if is not None:
        conditions.append(only_if)
    return conditions


async def lock_item(session: AsyncSession, item_id: str) -> Item | None:
    """The item row, locked until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` already holds the one writer lock): what decisions and erasure take
    before they look at the item's state."""
    result = await session.execute(
        select(Item)
        .where(col(Item.id) == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


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
    free, ready = claim_is_free(now), attempt_due(now)
    candidates = (
        select(col(Item.id))
        .where(or_(*due), free, ready)
        .order_by(col(Item.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # One statement: pick, lease and read back. ``free`` is checked again on the row itself, so
    # where SKIP LOCKED does not exist (SQLite) a row claimed meanwhile is not taken twice. The
    # token is this claim's, shared by its rows: every write names the item as well, and a row
    # released and claimed again gets a new one. One statement, so it commits on its own.
    async with one_round_trip(sessions) as session:
        claimed = await session.scalars(
            update(Item)
            .where(col(Item.id).in_(candidates), free)
            .values(claimed_by=claim_token(worker_id), claimed_until=now + lease)
            .returning(Item)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return sorted(claimed, key=lambda item: (item.created_at, item.id))


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
    renew the lease, all only if this worker still holds the ``executing`` item and its data was
    not erased meanwhile. A worker whose lease was taken over gets False here and never sends."""
    return await update_item(
        session,
        item_id,
        col(Item.state) == ItemState.EXECUTING,
        col(Item.erased_at).is_(None),
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
