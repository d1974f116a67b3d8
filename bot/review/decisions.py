"""Recording what a human did on a card: approve, edit, reject, re-draft, retry.

Every operation is one transaction that first locks the item's row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), re-checks permission, state,
staleness and the draft version, and only then changes anything, with its audit row in the same
transaction. So of fifty simultaneous clicks exactly one moves the item, a quorum's second
approval never gets lost between two concurrent first approvals, and every refusal changes
nothing but the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.actions.authorise import idempotency_key
from bot.assess.assessment import ProposedAction
from bot.errors import SignoffError
from bot.lead_settings.registry import LeadSettings
from bot.review.outcomes import is_merged
from bot.review.roster import Roles
from bot.review.stale_drafts import (
    mark_merged,
    mark_stale_if_superseded,
    newer_events,
    redraft_body,
)
from bot.stats.edit_stats import edit_size
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import transition
from bot.store.models import Decision, Item, utcnow
from bot.store.stat_tally import count_decision, wait_seconds
from policies.approvers import approval_refusal
from policies.quorum import (
    ApprovalRequirement,
    approval_requirement,
    missing_approvals,
    quorum_met,
)
from policies.reject_reasons import RejectReason
from policies.risk_levels import RiskLevel, highest
from policies.risk_rules import TicketFacts, risk_floor


class ReviewStatus(StrEnum):
    RECORDED = "recorded"  # the item moved (approved, rejected, re-drafted, retried)
    WAITING = "waiting"  # an approval counted, but the quorum is not met yet
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    STALE = "stale"
    CHANGED = "changed"  # the draft was edited since the clicker saw it
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ReviewResult:
    status: ReviewStatus
    message: str
    item: Item | None = None
    # Other items whose cards changed too (events merged into a re-draft).
    also_changed: tuple[str, ...] = ()

    @property
    def changed_card(self) -> bool:
        """Whether the card should be re-rendered (the item or its approvals changed)."""
        return self.item is not None and self.status in {
            ReviewStatus.RECORDED,
            ReviewStatus.WAITING,
            ReviewStatus.STALE,
        }


async def _lock(session: AsyncSession, item_id: str) -> Item | None:
    result = await session.execute(
        select(Item)
        .where(col(Item.id) == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


def _amount(action: dict[str, Any] | None) -> Decimal | None:
    value = (action or {}).get("amount")
    return Decimal(str(value)) if value is not None else None


def _risk(item: Item) -> RiskLevel:
    try:
        return RiskLevel(item.risk_level or "high")
    except ValueError:
        return RiskLevel.HIGH


def requirement_for(item: Item, policy: LeadSettings) -> ApprovalRequirement:
    action = item.proposed_action or {"kind": "reply"}
    currency = action.get("currency")
    return approval_requirement(
        action_kind=str(action.get("kind", "reply")),
        amount=_amount(action),
        risk=_risk(item),
        quorum_amount=policy.quorum_amount,
        currency=str(currency) if currency else None,
        home_currency=policy.thresholds.currency,
        quorum_approvers=policy.quorum_approvers,
    )


def _who(user: str) -> str:
    return "policy (auto)" if user == audit.AUTO else f"<@{user}>"


async def _not_pending(session: AsyncSession, item: Item) -> ReviewResult:
    """Exactly what happened to an item that is no longer waiting (an expiry is not a reject)."""
    decision = await session.get(Decision, item.decision_id) if item.decision_id else None
    if item.state == ItemState.EXPIRED:
        text = "This item expired without a decision and can't be decided now."
    elif decision is not None and decision.outcome == DecisionOutcome.REJECTED:
        text = f"Already rejected by {_who(decision.actor)}."
    elif decision is not None:
        text = f"Already approved by {_who(decision.actor)}."
    else:
        text = f"This item is {item.state.replace('_', ' ')} and can't be decided now."
    return ReviewResult(ReviewStatus.ALREADY_DECIDED, f"{text} Nothing was changed.", item)


async def _refuse(
    session: AsyncSession, item: Item, roles: Roles, attempted: str, why: str
) -> ReviewResult:
    await audit.record(
        session,
        "decision_refused",
        item_id=item.id,
        actor=roles.user_id,
        attempted=attempted,
        why=why,
    )
    return ReviewResult(
        ReviewStatus.NOT_ALLOWED, f"You can't {attempted} this: {why}. Nothing was changed."
    )


def _freeze_ai_version(item: Item) -> dict[str, Any]:
    """Keep the AI's own proposal before anything overwrites the working copy."""
    if item.ai_reply is not None or item.ai_action is not None:
        return {}
    return {"ai_reply": item.draft_reply, "ai_action": item.proposed_action}


async def _count_approval(
    session: AsyncSession,
    item: Item,
    roles: Roles,
    policy: LeadSettings,
    *,
    extra_values: dict[str, Any],
    event_detail: dict[str, Any],
) -> ReviewResult:
    """Add ``roles.user_id``'s approval of the current draft; approve the item at quorum."""
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
            return await _not_pending(session, item)
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
        raise _LostRaceError
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


def approval_count(count: int, requirement: ApprovalRequirement) -> str:
    """``1 of 2``; past the count but still short of a lead: ``2 approvals``."""
    if count < requirement.approvals:
        return f"{count} of {requirement.approvals}"
    return f"{count} approval" + ("s" if count > 1 else "")


class _LostRaceError(SignoffError):
    pass


async def _reload(sessions: SessionFactory, item_id: str) -> Item | None:
    async with sessions() as session:
        return await session.get(Item, item_id)


async def _with_item(result: ReviewResult, sessions: SessionFactory, item_id: str) -> ReviewResult:
    if result.status in {ReviewStatus.NOT_ALLOWED, ReviewStatus.NOT_FOUND}:
        return result
    decided = result.item is not None and result.item.state != ItemState.PENDING_REVIEW
    if result.status == ReviewStatus.ALREADY_DECIDED and decided:
        # Read under the row lock by the transaction that found it decided and changed nothing:
        # as fresh as a reload (repeated clicks on a decided card are most clicks under load).
        return result
    return ReviewResult(result.status, result.message, await _reload(sessions, item_id))


def _not_found(item_id: str) -> ReviewResult:
    return ReviewResult(ReviewStatus.NOT_FOUND, f"Item `{item_id}` does not exist.")


async def approve(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    policy: LeadSettings,
    version: int | None = None,
) -> ReviewResult:
    try:
        async with transaction(sessions) as session:
            item = await _lock(session, item_id)
            if item is None:
                return _not_found(item_id)
            why = approval_refusal(
                roles.user_id,
                reviewers=roles.reviewers,
                leads=roles.leads,
                raised_by=raised_by(item),
            )
            if why is not None:
                return await _refuse(session, item, roles, "approve", why)
            if item.state != ItemState.PENDING_REVIEW:
                result = await _not_pending(session, item)
            elif await mark_stale_if_superseded(session, item):
                await audit.record(
                    session, "approve_refused_stale", item_id=item.id, actor=roles.user_id
                )
                result = ReviewResult(
                    ReviewStatus.STALE,
                    f"{item.stale_reason} Nothing was changed."
                    if is_merged(item)
                    else f"{item.stale_reason} Approve is refused until the item is re-drafted: "
                    "press *Re-draft* on the card. Nothing was changed.",
                )
            elif version is not None and version != item.draft_version:
                result = ReviewResult(
                    ReviewStatus.CHANGED,
                    f"The draft was edited by <@{item.edited_by}> after you loaded the card; "
                    "look at the updated card and approve again. Nothing was changed.",
                )
            elif roles.user_id in item.approvals:
                requirement = requirement_for(item, policy)
                still = missing_approvals(item.approvals, requirement, leads=roles.leads)
                result = ReviewResult(
                    ReviewStatus.ALREADY_DECIDED,
                    f"You already approved this; it still needs {still} from someone else. "
                    "Nothing was changed.",
                )
            else:
                result = await _count_approval(
                    session,
                    item,
                    roles,
                    policy,
                    extra_values=_freeze_ai_version(item),
                    event_detail={},
                )
    except _LostRaceError:
        async with sessions() as session:
            item = await session.get(Item, item_id)
            assert item is not None
            result = await _not_pending(session, item)
    return await _with_item(result, sessions, item_id)


def raised_by(item: Item) -> str | None:
    """The Slack user who raised an item from Slack (``metadata.slack_user_id``), if any."""
    value = (item.extra or {}).get("slack_user_id")
    return str(value) if value else None


async def reject(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    reason: RejectReason,
    detail: str,
) -> ReviewResult:
    async with transaction(sessions) as session:
        item = await _lock(session, item_id)
        if item is None:
            return _not_found(item_id)
        if not roles.may_decide:
            return await _refuse(
                session,
                item,
                roles,
                "reject",
                "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)",
            )
        if item.state != ItemState.PENDING_REVIEW:
            result = await _not_pending(session, item)
        else:
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
                **_freeze_ai_version(item),
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
    return await _with_item(result, sessions, item_id)


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
    try:
        async with transaction(sessions) as session:
            item = await _lock(session, item_id)
            if item is None:
                return _not_found(item_id)
            why = approval_refusal(
                roles.user_id,
                reviewers=roles.reviewers,
                leads=roles.leads,
                raised_by=raised_by(item),
            )
            if why is not None:
                return await _refuse(session, item, roles, "edit and approve", why)
            if item.state != ItemState.PENDING_REVIEW:
                result = await _not_pending(session, item)
            elif await mark_stale_if_superseded(session, item):
                await audit.record(
                    session, "edit_refused_stale", item_id=item.id, actor=roles.user_id
                )
                result = ReviewResult(
                    ReviewStatus.STALE,
                    f"{item.stale_reason} Your edit was not saved"
                    + ("." if is_merged(item) else ": press *Re-draft* first."),
                )
            elif version != item.draft_version:
                result = ReviewResult(
                    ReviewStatus.CHANGED,
                    f"<@{item.edited_by}> edited this draft while you were editing; your edit "
                    "was not saved. Open Edit again to start from their version.",
                )
            else:
                result = await _apply_edit(
                    session, item, roles, policy, reply=reply, action=action, summary=summary
                )
    except _LostRaceError:
        async with sessions() as session:
            item = await session.get(Item, item_id)
            assert item is not None
            result = await _not_pending(session, item)
    return await _with_item(result, sessions, item_id)


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
    facts = TicketFacts.of(
        text=f"{item.subject}\n{item.body}",
        action=checked.model_dump(mode="json", exclude_none=True),
        requested=item.requested_action,
        customer_tier=item.customer_tier,
        sentiment=item.sentiment,
        category=item.category,
    )
    floor = risk_floor(facts, policy.thresholds)
    risk = highest(floor.level, _risk(item))
    reasons = list(dict.fromkeys([*item.reasons, *floor.reasons]))
    now = utcnow()
    edited = {
        **_freeze_ai_version(item),
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
    result = await _count_approval(
        session, item, roles, policy, extra_values=edited, event_detail={"after_edit": True}
    )
    if result.status == ReviewStatus.WAITING:
        return ReviewResult(
            ReviewStatus.WAITING, f"Edit saved ({summary}). {result.message}", result.item
        )
    if result.status == ReviewStatus.RECORDED:
        return ReviewResult(ReviewStatus.RECORDED, f"Edit saved and approved ({summary}).")
    return result


async def redraft(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """Send a stale item back to the classifier with the newer messages folded in.

    The old card is closed (the caller updates it); the worker posts a fresh one for the new
    draft, so nobody approves a card whose text changed under them.
    """
    async with transaction(sessions) as session:
        item = await _lock(session, item_id)
        if item is None:
            return _not_found(item_id)
        if not roles.may_decide:
            return await _refuse(
                session,
                item,
                roles,
                "re-draft",
                "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)",
            )
        if item.state != ItemState.PENDING_REVIEW:
            return await _not_pending(session, item)
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
        moved = await transition(
            session,
            item_id,
            from_states=[ItemState.PENDING_REVIEW],
            to=ItemState.RECEIVED,
            body=redraft_body(item, newer),
            redrafted_until=newer[-1].created_at if newer else item.redrafted_until,
            stale_reason=None,
            stale_at=None,
            draft_reply=None,
            proposed_action=None,
            ai_reply=None,
            ai_action=None,
            approvals=[],
            edited_by=None,
            edited_at=None,
            edit_summary=None,
            draft_version=item.draft_version + 1,
            slack_ts=None,
            slack_channel=None,
            claimed_by=None,
            claimed_until=None,
        )
        if not moved:
            return await _not_pending(session, item)
        # Row changes before audit rows: the audit chain's lock is always taken last.
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


async def retry_failed(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """A lead's Retry: failed → executing with the same idempotency key (one conditional move,
    so a double click retries once)."""
    async with transaction(sessions) as session:
        item = await session.get(Item, item_id)
        if item is None:
            return _not_found(item_id)
        if not roles.is_lead:
            return await _refuse(session, item, roles, "retry", "only leads can retry a failure")
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
        await _reload(sessions, item_id),
    )


async def record_reveal(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """Audit a reveal of masked personal data; only people who may decide may see it."""
    async with transaction(sessions) as session:
        item = await session.get(Item, item_id)
        if item is None:
            return _not_found(item_id)
        if not roles.may_decide:
            return await _refuse(
                session, item, roles, "reveal", "only reviewers and leads can see unmasked details"
            )
        await audit.record(session, "pii_revealed", item_id=item_id, actor=roles.user_id)
    return ReviewResult(ReviewStatus.RECORDED, "revealed", item)
