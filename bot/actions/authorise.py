"""The last gate before an action leaves Signoff: it re-checks authority in code.

The model is untrusted and so is any bug upstream (OWASP LLM06), so execution needs proof: the
item's decision row must exist, belong to this item, be an approval by someone allowed (or an
auto-approval naming the policy that allowed it) and match the idempotency key minted with it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actions.sink import ActionRequest, Executor, ExecutorRouter
from bot.errors import ExecutionRefusedError
from bot.store.item_states import EXECUTABLE_OUTCOMES, DecisionOutcome, ItemState
from bot.store.models import Decision, Item, raised_by
from policies.approvers import may_decide


def idempotency_key(item_id: str, decision_id: int) -> str:
    """Stable per (item, decision): every retry of one approved action carries the same key."""
    return f"signoff-{item_id}-{decision_id}"


async def authorise(
    session: AsyncSession, item: Item, *, reviewers: frozenset[str], leads: frozenset[str]
) -> ActionRequest:
    """Return the request to execute, or raise ``ExecutionRefusedError`` explaining what is missing.

    What is executed is the approved snapshot (``approved_action``/``approved_reply``), never the
    working copy, and a human approval must still satisfy the people rules it was given under:
    enough distinct approvers, a lead where one was required, none of them the item's raiser,
    and all of them still allowed to decide. An erased item is never executed (its send fence,
    ``begin_send``, checks the row itself, so an erasure committed after ``item`` was read
    stops the send too).
    """
    if item.erased_at is not None:
        raise ExecutionRefusedError("the customer's data was erased: nothing is executed")
    if item.state != ItemState.EXECUTING:
        raise ExecutionRefusedError(f"item is {item.state}, not executing")
    if item.executed_at is not None:
        raise ExecutionRefusedError("item was already executed: a decision is used once")
    if item.decision_id is None:
        raise ExecutionRefusedError("item has no decision")
    decision = await session.get(Decision, item.decision_id)
    if decision is None or decision.item_id != item.id:
        raise ExecutionRefusedError("decision not found for this item")
    if decision.outcome not in EXECUTABLE_OUTCOMES:
        raise ExecutionRefusedError(f"decision is {decision.outcome}, not an approval")
    assert decision.id is not None
    if item.idempotency_key != idempotency_key(item.id, decision.id):
        raise ExecutionRefusedError("idempotency key does not match the decision")
    if item.expires_at is not None and decision.created_at > item.expires_at:
        raise ExecutionRefusedError("the approval was given after the item expired")
    auto = decision.outcome == DecisionOutcome.AUTO_APPROVED
    if auto:
        if decision.actor != "auto" or not decision.policy:
            raise ExecutionRefusedError("auto-approval does not name the policy that allowed it")
    else:
        _check_people(item, decision, reviewers=reviewers, leads=leads)
    action = item.approved_action
    reply = item.approved_reply
    if action is None and auto:
        # Auto-approved before the approved snapshot was recorded; auto items are never edited.
        action, reply = item.proposed_action, item.draft_reply
    if not action:
        raise ExecutionRefusedError("item has no approved action")
    return ActionRequest(
        item_id=item.id,
        source=item.source,
        ticket_id=item.external_id,
        action=action,
        reply_text=reply or "",
        approved_by="auto" if auto else decision.actor,
        policy=decision.policy,
        idempotency_key=item.idempotency_key,
        customer=_customer(item),
        metadata=dict(item.extra),
    )


def _check_people(
    item: Item, decision: Decision, *, reviewers: frozenset[str], leads: frozenset[str]
) -> None:
    approvers = set(item.approvals) | {decision.actor}
    for person in sorted(approvers):
        if not may_decide(person, reviewers=reviewers, leads=leads):
            raise ExecutionRefusedError(f"{person} is not allowed to approve")
    raiser = raised_by(item)
    if raiser and raiser in approvers:
        raise ExecutionRefusedError(f"{raiser} raised this item and cannot approve it")
    if len(approvers) < item.approvals_required:
        raise ExecutionRefusedError(
            f"{len(approvers)} of {item.approvals_required} required approvals"
        )
    if item.lead_required and not approvers & leads:
        raise ExecutionRefusedError("a lead's approval is required")


def resends_safely(executor: Executor, source: str) -> bool:
    """Whether an attempt whose outcome is unknown may be sent again with the same key: only
    through an executor whose far side de-duplicates by it (``resends_safely = True``). Any
    other executor, including one that does not say, hands the item to a human instead."""
    target = executor.executor_for(source) if isinstance(executor, ExecutorRouter) else executor
    return bool(getattr(target, "resends_safely", False))


def _customer(item: Item) -> dict[str, Any]:
    return {"name": item.customer_name, "email": item.customer_email, "tier": item.customer_tier}
