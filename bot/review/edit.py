"""Save and approve: store a reviewer's edited draft and count their approval of it.

The Edit modal's input is checked first at the edge (``bot.review.edit_validation``); here the
edit re-runs the risk floor and the approval requirement on the edited action, in the same
transaction that saves it (``bot.review.decision_steps`` says why every command locks the row).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.assess.assessment import ProposedAction
from bot.assess.offload import off_loop
from bot.assess.policy_facts import facts_of
from bot.lead_settings.registry import LeadSettings
from bot.review.approve import count_approval
from bot.review.decision_steps import (
    approve_current_draft,
    freeze_ai_version,
)
from bot.review.requirements import risk_of
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory
from bot.store.models import Item
from policies.risk_levels import highest
from policies.risk_rules import risk_floor


async def save_edit(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    policy: LeadSettings,
    version: int,
    reply: str,
    action: dict[str, Any],
    summary: str,
) -> ReviewResult:
    """Save an edited draft and approve it as edited ("Save and approve").

    The edit re-runs the risk floor and the approval requirement on the edited action: raising a
    refund can add a second approver or a lead, and risk never goes down because of an edit.
    Earlier approvals were of another text, so they no longer count.
    """

    async def apply_edit(session: AsyncSession, item: Item) -> ReviewResult:
        return await _apply_edit(
            session, item, roles, policy, reply=reply, action=action, summary=summary
        )

    return await approve_current_draft(
        sessions, item_id, roles, "edit and approve", version, apply_edit
    )


async def _apply_edit(
    session: AsyncSession,
    item: Item,
    roles: Roles,
    policy: LeadSettings,
    *,
    reply: str,
    action: dict[str, Any],
    summary: str,
) -> ReviewResult:
    checked = ProposedAction.model_validate(action)
    facts = facts_of(item, checked.model_dump(mode="json", exclude_none=True))
    floor = await off_loop(risk_floor, facts, policy.thresholds)
    risk = highest(floor.level, risk_of(item))
    reasons = list(dict.fromkeys([*item.reasons, *floor.reasons]))
    now = utcnow()
    edited = {
        **freeze_ai_version(item),
        "draft_reply": reply,
        "proposed_action": checked.model_dump(mode="json", exclude_none=True),
        "draft_version": item.draft_version + 1,
        "edited_by": roles.user_id,
        "edited_at": now,
        "edit_summary": summary,
        "risk_level": risk.value,
        "reasons": reasons,
    }
    before_risk = item.risk_level
    await audit.record(
        session,
        "edited",
        item_id=item.id,
        actor=roles.user_id,
        version=item.draft_version + 1,
        original_reply=item.ai_reply if item.ai_reply is not None else item.draft_reply,
        original_action=item.ai_action if item.ai_action is not None else item.proposed_action,
        previous_reply=item.draft_reply,
        previous_action=item.proposed_action,
        edited_reply=reply,
        edited_action=edited["proposed_action"],
        summary=summary,
        risk_before=before_risk,
        risk_after=risk.value,
    )
    # The approvals so far were given to another text: start counting again, with the editor.
    # (Detached first, so these in-memory changes never flush over the conditional UPDATE.)
    session.expunge(item)
    item.approvals = []
    item.draft_version = edited["draft_version"]
    item.risk_level = risk.value
    item.proposed_action = edited["proposed_action"]
    item.edited_by = roles.user_id
    result = await count_approval(
        session, item, roles, policy, extra_values=edited, event_detail={"after_edit": True}
    )
    if result.status == ReviewStatus.WAITING:
        return ReviewResult(
            ReviewStatus.WAITING, f"Edit saved ({summary}). {result.message}", result.item
        )
    if result.status == ReviewStatus.RECORDED:
        return ReviewResult(ReviewStatus.RECORDED, f"Edit saved and approved ({summary}).")
    return result
