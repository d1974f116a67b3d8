"""The last gate before an action leaves Signoff: it re-checks authority in code.

The model is untrusted and so is any bug upstream (OWASP LLM06), so execution needs proof: the
item's decision row must exist, belong to this item, be an approval by someone allowed (or an
auto-approval naming the policy that allowed it) and match the idempotency key minted with it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.action_sink import ActionRequest
from bot.item_states import EXECUTABLE_OUTCOMES, DecisionOutcome, ItemState
from bot.models import Decision, Item
from policies.approvers import may_decide


class ExecutionRefused(Exception):
    """There is no valid decision behind this execution; nothing was sent."""


def idempotency_key(item_id: str, decision_id: int) -> str:
    """Stable per (item, decision): every retry of one approved action carries the same key."""
    return f"signoff-{item_id}-{decision_id}"


async def authorise(
    session: AsyncSession, item: Item, *, reviewers: frozenset[str], leads: frozenset[str]
) -> ActionRequest:
    """Return the request to execute, or raise ``ExecutionRefused`` explaining what is missing."""
    if item.state != ItemState.EXECUTING:
        raise ExecutionRefused(f"item is {item.state}, not executing")
    if item.decision_id is None:
        raise ExecutionRefused("item has no decision")
    decision = await session.get(Decision, item.decision_id)
    if decision is None or decision.item_id != item.id:
        raise ExecutionRefused("decision not found for this item")
    if decision.outcome not in EXECUTABLE_OUTCOMES:
        raise ExecutionRefused(f"decision is {decision.outcome}, not an approval")
    if decision.outcome == DecisionOutcome.AUTO_APPROVED:
        if decision.actor != "auto" or not decision.policy:
            raise ExecutionRefused("auto-approval does not name the policy that allowed it")
    elif not may_decide(decision.actor, reviewers=reviewers, leads=leads):
        raise ExecutionRefused(f"{decision.actor} is not allowed to approve")
    assert decision.id is not None
    if item.idempotency_key != idempotency_key(item.id, decision.id):
        raise ExecutionRefused("idempotency key does not match the decision")
    if not item.proposed_action:
        raise ExecutionRefused("item has no proposed action")
    return ActionRequest(
        item_id=item.id,
        source=item.source,
        ticket_id=item.external_id,
        action=item.proposed_action,
        reply_text=item.draft_reply or "",
        approved_by="auto" if decision.outcome == DecisionOutcome.AUTO_APPROVED else decision.actor,
        policy=decision.policy,
        idempotency_key=item.idempotency_key,
        customer=_customer(item),
        metadata=dict(item.extra),
    )


def _customer(item: Item) -> dict[str, Any]:
    return {"name": item.customer_name, "email": item.customer_email, "tier": item.customer_tier}
