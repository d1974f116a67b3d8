"""Reject: close a pending item with a reason code (and the reviewer's words), nothing is sent.

Any reviewer or lead may reject, including the person who raised the item; the reason code is
what ``/signoff stats`` counts (``policies.reject_reasons``).
"""

from __future__ import annotations

from bot.review.decision_steps import freeze_ai_version, lock_pending, with_item
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import transition
from bot.store.models import Decision
from bot.store.stat_tally import count_decision, wait_seconds
from policies.reject_reasons import RejectReason


async def reject(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    reason: RejectReason,
    detail: str,
) -> ReviewResult:
    async with transaction(sessions) as session:
        item = await lock_pending(session, item_id, roles, "reject")
        if isinstance(item, ReviewResult):
            return item
        now = utcnow()
        text = f"{reason.label}: {detail}" if detail else reason.label
        decision = Decision(
            item_id=item_id,
            outcome=DecisionOutcome.REJECTED,
            actor=roles.user_id,
            reason=text,
            reason_code=reason.value,
            wait_seconds=wait_seconds(now, item.review_started_at, item.created_at),
            created_at=now,
        )
        session.add(decision)
        await session.flush()
        if not await transition(
            session,
            item_id,
            from_states=[ItemState.PENDING_REVIEW],
            to=ItemState.REJECTED,
            decision_id=decision.id,
            decided_at=now,
            **freeze_ai_version(item),
        ):
            raise RuntimeError("row locked but transition failed")  # pragma: no cover
        await audit.record(
            session,
            "rejected",
            item_id=item_id,
            actor=roles.user_id,
            decision_id=decision.id,
            reason_code=reason.value,
            reason=detail,
        )
        await count_decision(session, decision, category=item.category)
        result = ReviewResult(ReviewStatus.RECORDED, f"Rejected ({reason.label}).")
    return await with_item(result, sessions, item_id)
