"""Retry: a lead sends a failed action again, with the same idempotency key.

One conditional move (failed → executing), so a double click retries once; the far side sees
the same key and can drop a duplicate of an attempt that did arrive.
"""

from __future__ import annotations

from bot.review.decision_steps import not_found, refuse, reload
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import ItemState
from bot.store.items import transition
from bot.store.models import Item


async def retry_failed(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """A lead's Retry: failed → executing with the same idempotency key (one conditional move,
    so a double click retries once)."""
    async with transaction(sessions) as session:
        item = await session.get(Item, item_id)
        if item is None:
            return not_found(item_id)
        if not roles.is_lead:
            return await refuse(session, item, roles, "retry", "only leads can retry a failure")
        moved = await transition(
            session,
            item_id,
            from_states=[ItemState.FAILED],
            to=ItemState.EXECUTING,
            attempts=0,
            # The lead has checked the far side: a cut-off earlier attempt may be resent.
            send_started_at=None,
            next_attempt_at=None,
        )
        if not moved:
            state = item.state.replace("_", " ")
            return ReviewResult(
                ReviewStatus.ALREADY_DECIDED,
                f"This item is {state}, not failed: it was already retried or finished. "
                "Nothing was changed.",
                item,
            )
        await audit.record(
            session,
            "retry_requested",
            item_id=item_id,
            actor=roles.user_id,
            idempotency_key=item.idempotency_key,
            previous_error=item.last_error,
        )
    return ReviewResult(
        ReviewStatus.RECORDED,
        "Retrying with the same idempotency key.",
        await reload(sessions, item_id),
    )
