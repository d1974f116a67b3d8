"""Recording a human's Approve or Reject: permission, one conditional move, one audit trail.

The decision row and the state change commit in one transaction. Of fifty simultaneous clicks
exactly one moves the item out of ``pending_review``; the rest roll back and are told who won.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot import audit
from bot.database import SessionFactory, transaction
from bot.executor import idempotency_key
from bot.item_states import DecisionOutcome, ItemState
from bot.item_store import transition
from bot.models import Decision, Item, utcnow
from policies.approvers import may_decide


class ReviewStatus(StrEnum):
    RECORDED = "recorded"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ReviewResult:
    status: ReviewStatus
    message: str
    item: Item | None = None


class _LostRace(Exception):
    pass


async def record_review(
    sessions: SessionFactory,
    *,
    item_id: str,
    user_id: str,
    outcome: DecisionOutcome,
    reviewers: frozenset[str],
    leads: frozenset[str],
    reason: str | None = None,
) -> ReviewResult:
    if outcome not in {DecisionOutcome.APPROVED, DecisionOutcome.REJECTED}:
        raise ValueError(f"humans approve or reject, not {outcome}")
    verb = "approve" if outcome == DecisionOutcome.APPROVED else "reject"
    if not may_decide(user_id, reviewers=reviewers, leads=leads):
        async with transaction(sessions) as session:
            if await session.get(Item, item_id) is None:
                return ReviewResult(ReviewStatus.NOT_FOUND, f"Item `{item_id}` does not exist.")
            await audit.record(
                session,
                "decision_refused",
                item_id=item_id,
                actor=user_id,
                attempted=verb,
                why="not a reviewer or lead",
            )
        return ReviewResult(
            ReviewStatus.NOT_ALLOWED,
            f"You can't {verb} this: only reviewers and leads can decide "
            "(SIGNOFF_REVIEWERS / SIGNOFF_LEADS). Nothing was changed.",
        )
    now = utcnow()
    try:
        async with transaction(sessions) as session:
            if await session.get(Item, item_id) is None:
                return ReviewResult(ReviewStatus.NOT_FOUND, f"Item `{item_id}` does not exist.")
            decision = Decision(
                item_id=item_id, outcome=outcome, actor=user_id, reason=reason, created_at=now
            )
            session.add(decision)
            await session.flush()
            assert decision.id is not None
            extra = (
                {"idempotency_key": idempotency_key(item_id, decision.id)}
                if outcome == DecisionOutcome.APPROVED
                else {}
            )
            target = (
                ItemState.APPROVED if outcome == DecisionOutcome.APPROVED else ItemState.REJECTED
            )
            if not await transition(
                session,
                item_id,
                from_states=[ItemState.PENDING_REVIEW],
                to=target,
                decision_id=decision.id,
                decided_at=now,
                **extra,
            ):
                raise _LostRace
            await audit.record(
                session,
                outcome.value,
                item_id=item_id,
                actor=user_id,
                decision_id=decision.id,
                reason=reason,
            )
    except _LostRace:
        return await _already_decided(sessions, item_id)
    async with sessions() as session:
        item = await session.get(Item, item_id)
    return ReviewResult(ReviewStatus.RECORDED, f"{verb.capitalize()}d.", item)


async def _already_decided(sessions: SessionFactory, item_id: str) -> ReviewResult:
    async with sessions() as session:
        item = await session.get(Item, item_id)
        decision = (
            await session.get(Decision, item.decision_id) if item and item.decision_id else None
        )
    if item is None:
        return ReviewResult(ReviewStatus.NOT_FOUND, f"Item `{item_id}` does not exist.")
    if decision is not None:
        who = "policy (auto)" if decision.actor == audit.AUTO else f"<@{decision.actor}>"
        verb = "rejected" if decision.outcome == DecisionOutcome.REJECTED else "approved"
        return ReviewResult(
            ReviewStatus.ALREADY_DECIDED, f"Already {verb} by {who}. Nothing was changed.", item
        )
    return ReviewResult(
        ReviewStatus.ALREADY_DECIDED,
        f"This item is {item.state.replace('_', ' ')} and can't be decided now.",
        item,
    )
