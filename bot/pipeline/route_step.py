"""The route step: assessed → approved (auto) or pending review. Where the item goes, and why.

The decision is made from facts first: ``policies`` sets the floor of risk from the ticket's text
and action, the leads' thresholds decide the route (the model's risk can only raise it), and
earned autonomy may then let a proven kind of work through without a human. An item folded into
another's re-draft only ever goes to review. Then one transaction writes the outcome: the auto
decision row and its idempotency key, or the review requirements and reminder times, and the
audit event that says which rule decided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.actions.authorise import idempotency_key
from bot.assess.assessment import ProposedAction
from bot.assess.offload import off_loop
from bot.assess.policy_facts import facts_of
from bot.autonomy.evidence import evidence_summary
from bot.autonomy.routing import AutonomyRoute, route_with_autonomy
from bot.lead_settings.card_routes import active_routes
from bot.lead_settings.registry import LeadSettings, load_lead_settings
from bot.review.outcomes import is_merged
from bot.review.reminders import review_schedule
from bot.review.requirements import requirement_for
from bot.runtime import Runtime
from bot.slack.change_diff import redraft_details
from bot.store import audit
from bot.store.card_queue import hold_review_order
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import get_item, move
from bot.store.models import Decision, Item
from bot.store.money_budget import hold_money_budget
from bot.store.stat_tally import count_decision
from policies.card_routes import CardFacts, CardRoute, first_match
from policies.risk_levels import RiskLevel
from policies.risk_rules import RiskFloor, risk_floor
from policies.routing import Route, RouteDecision, decide_route

# The route policy of an item folded into another's re-draft.
MERGED = "merged"
# The route policy of a re-draft made at a reviewer's request: a human approves it again.
CHANGES_REQUESTED = "changes_requested"


@dataclass(frozen=True)
class _Routing:
    """What the step decided before writing anything, with the evidence the audit event keeps."""

    route: RouteDecision  # where it goes: thresholds, then autonomy, then the merge rule
    base: RouteDecision  # what the thresholds alone said
    floor: RiskFloor
    model_risk: RiskLevel | None
    autonomy: AutonomyRoute
    lead_policy: LeadSettings
    values: dict[str, Any]  # written on the item whichever way it goes
    card_route: CardRoute | None  # the leads' rule choosing the card's channel, if any


async def route(rt: Runtime, holder: str, item: Item) -> Item | None:
    """Route an assessed item: the item as routed (approved, or pending review with its claim
    freed for the card poster), or ``None`` if it moved meanwhile."""
    routing = await _decide(rt, item)
    async with transaction(rt.sessions) as session:
        # An item bound for review takes the review order first: then the times below are in
        # commit order, and cards go out in that order. Auto-approved items need no order and
        # no lock shared with other items; the audit chain's lock comes last, as every writer
        # takes it, and is held only from the audit row to the commit (issue 18).
        if routing.route.route != Route.AUTO:
            await hold_review_order(session)
        now = utcnow()
        routing = await _within_money_budget(session, item, routing, now)
        auto = routing.route.route == Route.AUTO
        decision: Decision | None = None
        if auto:
            routed, decision = await _approve(session, holder, item, routing, now)
            event = "auto_approved"
        else:
            routed = await _send_to_review(session, rt, holder, item, routing, now)
            event = "sent_to_review"
        if routed is None:
            await session.rollback()
            # Merged meanwhile (still ours, still assessed): route it again, to review.
            if not auto:
                return None
            return await get_item(rt.sessions, item.id)
        await _record(session, item, routing, event)
        if decision is not None:
            await count_decision(
                session, decision, category=item.category, route_policy=routing.route.policy
            )
    if redrafted_in_place(routed) and rt.publisher is not None:
        # Best effort, like every card update: the card is re-rendered from the row anyway.
        await rt.publisher.refresh_card(routed)
        await rt.publisher.post_in_thread(routed, redraft_details(routed))
    return routed


async def _within_money_budget(
    session: AsyncSession, item: Item, routing: _Routing, now: datetime
) -> _Routing:
    """Money without a human spends the lead's budgets: reserved in this transaction (the one
    that auto-approves), or the item goes to review with the budget named as the reason."""
    route = await hold_money_budget(
        session,
        routing.route,
        item_id=item.id,
        customer_email=item.customer_email,
        action=item.proposed_action,
        thresholds=routing.lead_policy.thresholds,
        now=now,
    )
    if route == routing.route:
        return routing
    values = routing.values | {"route_policy": route.policy, "route_why": route.why}
    return replace(routing, route=route, values=values)


async def _decide(rt: Runtime, item: Item) -> _Routing:
    """Where the item goes: the floor from facts, the thresholds' route, then earned autonomy;
    a merged item only ever to review."""
    lead_policy = await load_lead_settings(rt.sessions, rt.settings)
    thresholds = lead_policy.thresholds
    action = ProposedAction.model_validate(item.proposed_action or {"kind": "reply"})
    facts = facts_of(item, action.model_dump(mode="json", exclude_none=True))
    floor = await off_loop(risk_floor, facts, thresholds)
    model_risk = None if item.assessment_error else RiskLevel(item.risk_level or "critical")
    base = decide_route(facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds)
    autonomy = await route_with_autonomy(
        rt,
        item_id=item.id,
        category=item.category,
        action_kind=action.kind,
        amount=facts.amount,
        base=base,
        floor=floor.level,
    )
    chosen = _unless_requested(item, _unless_merged(item, autonomy.as_route(base)))
    reasons = list(dict.fromkeys([*floor.reasons, *item.reasons]))
    values: dict[str, Any] = {
        "risk_level": chosen.risk.value,
        "reasons": reasons,
        "route_policy": chosen.policy,
        "route_why": chosen.why,
        "autonomy_bucket": autonomy.bucket,
        "autonomy_would_auto": autonomy.decision.would_auto,
        "autonomy_note": autonomy.note,
    }
    card_facts = CardFacts(
        category=item.category,
        action_kind=action.kind,
        tier=item.customer_tier,
        source=item.source,
        amount=facts.amount,
    )
    card_route = first_match(await active_routes(rt.sessions), card_facts)
    return _Routing(chosen, base, floor, model_risk, autonomy, lead_policy, values, card_route)


def _unless_merged(item: Item, chosen: RouteDecision) -> RouteDecision:
    """Folded into another item's re-draft: that item answers the customer; this one only waits
    for a human to close it (its card offers Reject alone)."""
    if not is_merged(item):
        return chosen
    return RouteDecision(Route.REVIEW, chosen.risk, MERGED, item.stale_reason or "merged")


def redrafted_in_place(item: Item) -> bool:
    """A re-draft after Request changes: the item kept its card, which is updated in place."""
    return bool(item.change_request and item.slack_ts)


def _unless_requested(item: Item, chosen: RouteDecision) -> RouteDecision:
    """A re-draft at a reviewer's request waits for a human whatever the thresholds or earned
    autonomy say: the floor still sets its risk (``chosen.risk`` is never below it), and a new
    action or amount brings its own quorum (``_send_to_review``)."""
    if not redrafted_in_place(item):
        return chosen
    why = f"re-drafted at a reviewer's request: a human approves the new draft ({chosen.why})"
    return RouteDecision(Route.REVIEW, chosen.risk, CHANGES_REQUESTED, why)


async def _approve(
    session: AsyncSession, holder: str, item: Item, routing: _Routing, now: datetime
) -> tuple[Item | None, Decision]:
    """Approved without a human: a decision row by ``auto``, the draft and action as assessed,
    and the idempotency key (minted from that row) that every retry of the action will carry."""
    decision = Decision(
        item_id=item.id,
        outcome=DecisionOutcome.AUTO_APPROVED,
        actor=audit.AUTO,
        policy=routing.route.policy,
        created_at=now,
    )
    session.add(decision)
    await session.flush()
    assert decision.id is not None
    moved = await move(
        session,
        item.id,
        from_states=[ItemState.ASSESSED],
        to=ItemState.APPROVED,
        held_by=holder,
        # A re-draft may fold this item into another at any moment: never then.
        only_if=col(Item.stale_reason).is_(None),
        decision_id=decision.id,
        decided_at=now,
        idempotency_key=idempotency_key(item.id, decision.id),
        approved_reply=item.draft_reply,
        approved_action=item.proposed_action,
        **routing.values,
    )
    return moved, decision


async def _send_to_review(
    session: AsyncSession,
    rt: Runtime,
    holder: str,
    item: Item,
    routing: _Routing,
    now: datetime,
) -> Item | None:
    """Pending review: how many approvals (and whether a lead's) the leads' settings require at
    the routed risk, and when reminders and escalation fall due."""
    needs = requirement_for(
        item.model_copy(update={"risk_level": routing.route.risk.value}), routing.lead_policy
    )
    card = routing.card_route
    return await move(
        session,
        item.id,
        from_states=[ItemState.ASSESSED],
        to=ItemState.PENDING_REVIEW,
        held_by=holder,
        approvals_required=needs.approvals,
        lead_required=needs.lead_required,
        # Free for the card poster the moment it is visible, so a card that entered
        # review first is never passed over while its worker is still finishing.
        claimed_by=None,
        claimed_until=None,
        # Where the card goes and who decides it there: fixed now, so a later rule change
        # never moves a waiting card or changes who may decide it.
        review_channel=card.channel if card else None,
        reviewer_group=card.reviewer_group if card else None,
        card_route_id=card.id if card else None,
        **routing.values,
        **review_schedule(rt.settings, routing.lead_policy, now),
    )


async def _record(session: AsyncSession, item: Item, routing: _Routing, event: str) -> None:
    """The audit event: the route, and each input that decided it (floor, model, thresholds,
    autonomy's evidence)."""
    chosen, autonomy = routing.route, routing.autonomy
    await audit.record(
        session,
        event,
        item_id=item.id,
        actor=audit.AUTO if chosen.route == Route.AUTO else audit.SYSTEM,
        policy=chosen.policy,
        why=chosen.why,
        risk=chosen.risk.value,
        rule_floor=routing.floor.level.value,
        model_risk=routing.model_risk.value if routing.model_risk else None,
        threshold_policy=routing.base.policy,
        bucket=autonomy.bucket,
        would_auto=autonomy.decision.would_auto,
        evidence=evidence_summary(autonomy.state, autonomy.policy),
        **(
            {"card_route": routing.card_route.id, "channel": routing.card_route.channel}
            if routing.card_route is not None and chosen.route != Route.AUTO
            else {}
        ),
    )
