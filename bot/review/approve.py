"""Approve: count a reviewer's approval of the current draft, approve the item at quorum.

An approval is of one version of the draft: a click on a card older than the latest edit is
refused (``CHANGED``), a stale draft must be re-drafted first, and the approval that meets the
quorum writes the decision, the idempotency key the send will carry and the approved text in the
same transaction (``bot.review.decision_steps`` says why every command locks the row first).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions.authorise import idempotency_key
from bot.lead_settings.registry import LeadSettings
from bot.review.decision_steps import (
    LostRaceError,
    approve_current_draft,
    freeze_ai_version,
    not_pending,
)
from bot.review.edit_size import edit_size
from bot.review.requirements import approval_count, requirement_for
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import transition
from bot.store.models import Decision, Item
from bot.store.stat_tally import count_decision, wait_seconds
from policies.quorum import missing_approvals, quorum_met


async def approve(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    policy: LeadSettings,
    version: int | None = None,
) -> ReviewResult:

    async def add_approval(session: AsyncSession, item: Item) -> ReviewResult:
        if roles.user_id in item.approvals:
            requirement = requirement_for(item, policy)
            still = missing_approvals(item.approvals, requirement, leads=roles.leads)
            return ReviewResult(
                ReviewStatus.ALREADY_DECIDED,
                f"You already approved this; it still needs {still} from someone else. "
                "Nothing was changed.",
            )
        extra = freeze_ai_version(item)
        return await count_approval(
            session, item, roles, policy, extra_values=extra, event_detail={}
        )

    return await approve_current_draft(sessions, item_id, roles, "approve", version, add_approval)


async def count_approval(
    session: AsyncSession,
    item: Item,
    roles: Roles,
    policy: LeadSettings,
    *,
    extra_values: dict[str, Any],
    event_detail: dict[str, Any],
) -> ReviewResult:
    """Add ``roles.user_id``'s approval of the current draft; approve the item at quorum.

    Shared with *Save and approve* (``bot.review.edit``), whose approval is of the edited text.
    """
    approvers = [*item.approvals, roles.user_id]
    requirement = requirement_for(item, policy)
    counts: dict[str, Any] = {
        "approvals": approvers,
        "approvals_required": requirement.approvals,
        "lead_required": requirement.lead_required,
    }
    now = utcnow()
    if not quorum_met(approvers, requirement, leads=roles.leads):
        moved = await transition(
            session,
            item.id,
            from_states=[ItemState.PENDING_REVIEW],
            to=ItemState.PENDING_REVIEW,
            **counts,
            **extra_values,
        )
        if not moved:
            return await not_pending(session, item)
        still = missing_approvals(approvers, requirement, leads=roles.leads)
        await audit.record(
            session,
            "approval_recorded",
            item_id=item.id,
            actor=roles.user_id,
            approvals=approvers,
            required=requirement.approvals,
            lead_required=requirement.lead_required,
            why=requirement.why,
            version=item.draft_version,
            **event_detail,
        )
        return ReviewResult(
            ReviewStatus.WAITING,
            f"Your approval is recorded ({approval_count(len(set(approvers)), requirement)}). "
            f"This item {requirement.describe()} ({requirement.why}); still waiting for {still}.",
        )
    others = [user for user in approvers if user != roles.user_id]
    decision = Decision(
        item_id=item.id,
        outcome=DecisionOutcome.APPROVED,
        actor=roles.user_id,
        reason=("with " + ", ".join(others)) if others else None,
        wait_seconds=wait_seconds(now, item.review_started_at, item.created_at),
        created_at=now,
    )
    session.add(decision)
    await session.flush()
    assert decision.id is not None
    values = {**counts, **extra_values}
    reply = values.get("draft_reply", item.draft_reply)
    action = values.get("proposed_action", item.proposed_action)
    edited = bool(item.edited_by or extra_values.get("edited_by"))
    if edited:
        ai_reply = values.get("ai_reply", item.ai_reply)
        original = ai_reply if ai_reply is not None else item.draft_reply
        values["edit_size"] = edit_size(original, reply)
    if not await transition(
        session,
        item.id,
        from_states=[ItemState.PENDING_REVIEW],
        to=ItemState.APPROVED,
        decision_id=decision.id,
        decided_at=now,
        idempotency_key=idempotency_key(item.id, decision.id),
        approved_reply=reply,
        approved_action=action,
        **values,
    ):
        raise LostRaceError
    await audit.record(
        session,
        "approved",
        item_id=item.id,
        actor=roles.user_id,
        decision_id=decision.id,
        approvers=approvers,
        edited=edited,
        version=values.get("draft_version", item.draft_version),
        **event_detail,
    )
    await count_decision(
        session, decision, category=item.category, edited=edited, edit_size=values.get("edit_size")
    )
    return ReviewResult(ReviewStatus.RECORDED, "Approved.")
