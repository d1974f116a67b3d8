"""Re-draft: send a stale item back to the classifier with the newer messages folded in.

The old card is closed (the caller updates it); the worker posts a fresh one for the new draft,
so nobody approves a card whose text changed under them. Newer events folded in are marked
merged in the same transaction (``bot.review.stale_drafts``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.review.decision_steps import lock_pending, not_pending
from bot.review.outcomes import is_merged
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.review.stale_drafts import mark_merged, newer_events, redraft_body
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import ItemState
from bot.store.items import transition
from bot.store.models import Item


async def back_to_classifier(session: AsyncSession, item: Item, **values: Any) -> bool:
    """Send a pending item back to be drafted again: the working draft, its approvals and edits
    are cleared and the version moves on, so no click on the old draft can count. Shared by
    Re-draft and Request changes (``bot.review.request_changes``)."""
    return await transition(
        session,
        item.id,
        from_states=[ItemState.PENDING_REVIEW],
        to=ItemState.RECEIVED,
        draft_reply=None,
        proposed_action=None,
        ai_reply=None,
        ai_action=None,
        approvals=[],
        edited_by=None,
        edited_at=None,
        edit_summary=None,
        draft_version=item.draft_version + 1,
        claimed_by=None,
        claimed_until=None,
        **values,
    )


async def redraft(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """Send a stale item back to the classifier with the newer messages folded in."""
    async with transaction(sessions) as session:
        item = await lock_pending(session, item_id, roles, "re-draft")
        if isinstance(item, ReviewResult):
            return item
        if is_merged(item):
            return ReviewResult(
                ReviewStatus.ALREADY_DECIDED,
                f"{item.stale_reason} Nothing was changed.",
                item,
            )
        newer = await newer_events(session, item)
        if not newer and not item.stale_reason:
            return ReviewResult(
                ReviewStatus.ALREADY_DECIDED,
                "This draft is not stale; nothing to re-draft. Nothing was changed.",
                item,
            )
        moved = await back_to_classifier(
            session,
            item,
            body=redraft_body(item, newer),
            redrafted_until=newer[-1].created_at if newer else item.redrafted_until,
            stale_reason=None,
            stale_at=None,
            slack_ts=None,
            slack_channel=None,
            # An earlier Request changes was about a draft this one replaces.
            change_request=None,
            change_requested_by=None,
            change_prior_draft=None,
        )
        if not moved:
            return await not_pending(session, item)
        # Row changes before audit rows: the audit chains' locks are always taken last, and
        # several at once in ascending order (two re-drafts never deadlock on them).
        await audit.lock_chains(session, [item_id, *(event.id for event in newer)])
        merged = await mark_merged(session, newer, item_id)
        await audit.record(
            session,
            "redrafted",
            item_id=item_id,
            actor=roles.user_id,
            newer_items=[event.id for event in newer],
            old_card_ts=item.slack_ts,
        )
        result = ReviewResult(
            ReviewStatus.RECORDED,
            "Re-drafting with the newer messages; a fresh card will follow.",
            item,
            also_changed=tuple(event.id for event in merged),
        )
    return result
