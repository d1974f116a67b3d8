"""The card queue: items that need a Slack card and have none yet, oldest first.

Cards go out in the order items entered review, and a card is claimed (under a lease, like any
worker claim) before it is posted, so two instances never post the same card. The backlog loop
(``bot.slack.card_backlog``) drains it; the publisher asks whether others wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import ItemState
from bot.store.items import attempt_due, claim_is_free, claim_token, update_item
from bot.store.models import Item

# Items that need a card and have none: waiting for review, or failed without ever having had
# one (an auto-approved action that failed needs a human and a Retry button too).
CARD_STATES = (ItemState.PENDING_REVIEW, ItemState.FAILED)


# Arbitrary, fixed advisory-lock key of the review order (next to the audit chains' class).
_REVIEW_ORDER_LOCK = 0x516100
_HOLD_REVIEW_ORDER = text("SELECT pg_advisory_xact_lock(:key)")


async def hold_review_order(session: AsyncSession) -> None:
    """Serialise, across instances, transactions that put items into review, until commit:
    timestamps taken after this are in commit order, so a card poster that saw an item never
    later sees one that entered review before it. Take it before any other lock. On SQLite the
    first statement takes the one writer lock (``BEGIN IMMEDIATE``), which does the same."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(_HOLD_REVIEW_ORDER, {"key": _REVIEW_ORDER_LOCK})
    else:
        await session.execute(text("SELECT 1"))


def _unposted() -> ColumnElement[bool]:
    return and_(col(Item.state).in_(CARD_STATES), col(Item.slack_ts).is_(None))


def _review_order() -> Any:
    """Cards go out in the order items entered review (arrival order, unless an assessment took
    longer: a card is not held back for an older item that is not ready yet)."""
    return func.coalesce(col(Item.review_started_at), col(Item.created_at))


def _in_channel(channel: str | None) -> ColumnElement[bool]:
    """Cards bound for ``channel`` (a route's; None: the review channel). Each channel's cards
    keep their own order: a busy team channel does not hold back another's."""
    column = col(Item.review_channel)
    return column.is_(None) if channel is None else column == channel


async def other_cards_waiting(
    sessions: SessionFactory, item_id: str, channel: str | None = None
) -> bool:
    async with sessions() as session:
        found = await session.execute(
            select(col(Item.id))
            .where(_unposted(), _in_channel(channel), col(Item.id) != item_id)
            .limit(1)
        )
        return found.first() is not None


async def unposted_cards(
    sessions: SessionFactory, *, limit: int, channel: str | None = None
) -> tuple[int, list[Item]]:
    """How many cards wait to be posted to ``channel``, and the oldest ``limit`` of them."""
    waiting = and_(_unposted(), _in_channel(channel))
    async with sessions() as session:
        total = (
            await session.execute(select(func.count()).select_from(Item).where(waiting))
        ).scalar_one()
        oldest = await session.execute(
            select(Item).where(waiting).order_by(_review_order(), col(Item.id)).limit(limit)
        )
        return int(total), list(oldest.scalars())


async def claim_unposted_card(
    sessions: SessionFactory, worker_id: str, *, lease: timedelta, now: datetime | None = None
) -> Item | None:
    """Claim the card that has waited longest, so cards appear in the order items entered review
    and two instances never post the same card."""
    now = now or utcnow()
    free, ready = claim_is_free(now), attempt_due(now)
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
