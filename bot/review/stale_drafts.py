"""Stale drafts: a newer event for the same source ticket makes a pending draft out of date.

The customer wrote again, or the ticket was closed: approving the old draft would answer a
conversation that has moved on. Such an item is marked stale (the card says so) and Approve is
refused until someone presses Re-draft, which re-assesses it with the newer messages included.

Which events belong to the same ticket is decided by ``bot.store.ticket_threads.thread_key``, stored
with each item (``item.thread_key``) when it arrives.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.review.outcomes import MERGED_PREFIX
from bot.review.services import ReviewServices
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import one_round_trip, transaction
from bot.store.item_states import ItemState
from bot.store.items import update_item
from bot.store.models import Item
from bot.store.ticket_threads import thread_key


def thread_of(item: Item) -> str:
    """The item's stored key (every row has one since migration 0010), or computed alike."""
    return item.thread_key or thread_key(item.source, item.extra or {}, item.external_id)


async def newer_events(session: AsyncSession, item: Item) -> Sequence[Item]:
    """Items for the same source ticket that arrived after ``item``, oldest first."""
    return (
        (
            await session.execute(
                select(Item)
                .where(
                    col(Item.thread_key) == thread_of(item),
                    col(Item.customer_email) == item.customer_email,
                    col(Item.created_at) > (item.redrafted_until or item.created_at),
                    col(Item.id) != item.id,
                )
                .order_by(col(Item.created_at))
            )
        )
        .scalars()
        .all()
    )


def stale_reason_for(newer: Item) -> str:
    what = "the ticket changed" if newer.kind != "ticket" else "the customer wrote again"
    return f"A newer event arrived for this ticket ({what}: `{newer.id}`)."


async def mark_stale_if_superseded(session: AsyncSession, item: Item) -> bool:
    """Mark ``item`` stale when a newer event exists; True when it is (or already was) stale."""
    if item.stale_reason:
        return True
    if item.state != ItemState.PENDING_REVIEW:
        return False
    newer = await newer_events(session, item)
    if not newer:
        return False
    reason = stale_reason_for(newer[-1])
    now = utcnow()
    await update_item(
        session,
        item.id,
        col(Item.state) == ItemState.PENDING_REVIEW,
        col(Item.stale_reason).is_(None),
        stale_reason=reason,
        stale_at=now,
        updated_at=now,
    )
    await audit.record(
        session, "marked_stale", item_id=item.id, newer_item=newer[-1].id, reason=reason
    )
    item.stale_reason, item.stale_at = reason, now
    return True


async def older_pending_drafts(session: AsyncSession, new_item: Item) -> Sequence[Item]:
    """Pending items that ``new_item`` makes stale (the pipeline's hook calls this on arrival)."""
    return (
        (
            await session.execute(
                select(Item).where(
                    col(Item.thread_key) == thread_of(new_item),
                    col(Item.customer_email) == new_item.customer_email,
                    col(Item.created_at) < new_item.created_at,
                    col(Item.state) == ItemState.PENDING_REVIEW,
                    or_(
                        col(Item.redrafted_until).is_(None),
                        col(Item.redrafted_until) < new_item.created_at,
                    ),
                    col(Item.stale_reason).is_(None),
                )
            )
        )
        .scalars()
        .all()
    )


def redraft_body(item: Item, newer: Sequence[Item]) -> str:
    """The ticket text for a re-draft: the original, then each newer message, marked as such."""
    parts = [item.body]
    for event in newer:
        parts.append(f"\n\n--- Later message ({event.kind}, {event.external_id}) ---\n{event.body}")
    return "".join(parts)


async def mark_older_drafts_stale(
    rt: ReviewServices, new_item_id: str, *, new_item: Item | None = None
) -> list[str]:
    """Hook for the pipeline, called when a new event is stored: mark the pending drafts it makes
    stale and re-render their cards at once (a click would find out anyway, but the card should
    say so before anyone clicks). Returns the ids marked.

    One transaction per older item: a transaction holds at most one item row when it takes the
    audit chain's lock, the order every other writer uses, so this never deadlocks with a click.
    """
    async with one_round_trip(rt.sessions) as session:
        if new_item is None or new_item.id != new_item_id:  # the caller's copy saves a read
            new_item = await session.get(Item, new_item_id)
        older = list(await older_pending_drafts(session, new_item)) if new_item else []
    marked: list[str] = []
    for candidate in older:
        async with transaction(rt.sessions) as session:
            locked = (
                await session.execute(
                    select(Item)
                    .where(col(Item.id) == candidate.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if locked is None or locked.stale_reason:
                continue
            if await mark_stale_if_superseded(session, locked):
                marked.append(locked.id)
    if rt.publisher is not None:
        for item_id in marked:
            async with rt.sessions() as session:
                fresh = await session.get(Item, item_id)
            if fresh is not None:
                await rt.publisher.refresh_card(fresh)
    return marked


_MERGEABLE = (ItemState.RECEIVED, ItemState.ASSESSED, ItemState.PENDING_REVIEW)


async def mark_merged(session: AsyncSession, newer: Sequence[Item], into: str) -> list[Item]:
    """Newer events folded into ``into`` by a re-draft: mark them so nobody approves them too
    (Approve and Re-draft are refused on them; Reject closes them)."""
    reason = (
        f"{MERGED_PREFIX}`{into}` by a re-draft: its text is part of that item's new draft, "
        "so reject this one."
    )
    merged: list[Item] = []
    now = utcnow()
    # Every row first, then the audit rows (whose chain lock must come after the row locks).
    for event in newer:
        folded = await update_item(
            session,
            event.id,
            col(Item.state).in_(list(_MERGEABLE)),
            stale_reason=reason,
            stale_at=now,
            updated_at=now,
        )
        if folded:
            merged.append(event)
    # Their chains' locks in ascending order, once each (``record_many``).
    await audit.record_many(
        session, [audit.Entry("merged_into", event.id, detail={"into": into}) for event in merged]
    )
    return merged
