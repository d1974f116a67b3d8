"""The steps every review command shares: lock the item's row, refuse, say what already happened.

Every command (``approve``, ``edit``, ``reject``, ``redraft``, ``retry``, ``reveal``) is one
transaction that first locks the item's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), re-checks permission, state, staleness and the
draft version, and only then changes anything, with its audit row in the same transaction. So of
fifty simultaneous clicks exactly one moves the item, a quorum's second approval never gets lost
between two concurrent first approvals, and every refusal changes nothing but the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import SignoffError
from bot.review.outcomes import is_merged
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.review.stale_drafts import mark_stale_if_superseded
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import lock_item
from bot.store.models import Decision, Item, raised_by
from policies.approvers import approval_refusal

ONLY_DECIDERS = "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)"
ONLY_ROUTE = "only this route's reviewers (<!subteam^{group}>) and leads can decide this card"


class LostRaceError(SignoffError):
    """The locked row moved anyway (another transaction decided it first): nothing was changed."""


async def lock_for_decision(
    session: AsyncSession, item_id: str, roles: Roles, attempted: str, *, approving: bool = False
) -> Item | ReviewResult:
    """The item, locked, or the answer that ends the command: it does not exist, or
    ``roles.user_id`` may not ``attempted`` it (refused and audited). An approval (approve, save
    and approve) is also refused to the person who raised the item. On a routed card (its
    ``reviewer_group``) only that group's members and the leads may decide."""
    item = await lock_item(session, item_id)
    if item is None:
        return not_found(item_id)
    # A card routed to a team's channel is decided by that route's reviewers and the leads.
    roles = roles.for_route(item.reviewer_group)
    if approving:
        why = approval_refusal(
            roles.user_id, reviewers=roles.reviewers, leads=roles.leads, raised_by=raised_by(item)
        )
    else:
        why = None if roles.may_decide else ONLY_DECIDERS
    if why is not None and item.reviewer_group and not roles.may_decide:
        why = ONLY_ROUTE.format(group=item.reviewer_group)
    if why is not None:
        return await refuse(session, item, roles, attempted, why)
    return item


async def lock_pending(
    session: AsyncSession, item_id: str, roles: Roles, attempted: str, *, approving: bool = False
) -> Item | ReviewResult:
    """:func:`lock_for_decision`, then the answer for an item no longer waiting for review:
    every command on a pending draft (approve, edit, reject, re-draft, request changes) starts
    with these two refusals."""
    item = await lock_for_decision(session, item_id, roles, attempted, approving=approving)
    if isinstance(item, ReviewResult) or item.state == ItemState.PENDING_REVIEW:
        return item
    return await not_pending(session, item)


@dataclass(frozen=True)
class _ApprovalRefusals:
    """What an approval of a draft that is not the current one answers, per command."""

    stale_event: str  # the audit event of a refusal because a newer event superseded the draft
    merged: str  # after the stale reason, when the item was folded into a newer one
    stale: str  # after the stale reason, when it waits for Re-draft
    changed: str  # someone ({editor}) edited the draft after the person loaded it


_APPROVALS = {
    "approve": _ApprovalRefusals(
        "approve_refused_stale",
        merged="Nothing was changed.",
        stale="Approve is refused until the item is re-drafted: press *Re-draft* on the card. "
        "Nothing was changed.",
        changed="The draft was edited by {editor} after you loaded the card; look at the "
        "updated card and approve again. Nothing was changed.",
    ),
    "edit and approve": _ApprovalRefusals(
        "edit_refused_stale",
        merged="Your edit was not saved.",
        stale="Your edit was not saved: press *Re-draft* first.",
        changed="{editor} edited this draft while you were editing; your edit was not saved. "
        "Open Edit again to start from their version.",
    ),
}


async def approve_current_draft(
    sessions: SessionFactory,
    item_id: str,
    roles: Roles,
    attempted: Literal["approve", "edit and approve"],
    version: int | None,
    step: Callable[[AsyncSession, Item], Awaitable[ReviewResult]],
) -> ReviewResult:
    """One approval command (Approve, Save and approve) in one transaction: the refusals of
    :func:`lock_current_draft`, else ``step`` on the locked item. A step that lost the race
    (``LostRaceError``) is answered with what happened instead; the answer carries the item as
    it is now."""
    try:
        async with transaction(sessions) as session:
            item = await lock_current_draft(session, item_id, roles, attempted, version)
            result = item if isinstance(item, ReviewResult) else await step(session, item)
    except LostRaceError:
        result = await after_lost_race(sessions, item_id)
    return await with_item(result, sessions, item_id)


async def lock_current_draft(
    session: AsyncSession,
    item_id: str,
    roles: Roles,
    attempted: Literal["approve", "edit and approve"],
    version: int | None,
) -> Item | ReviewResult:
    """The pending item, locked, whose draft is still version ``version`` (None: any), or the
    answer that ends an approval: :func:`lock_pending`'s refusals, a draft a newer event has
    superseded (marked stale and audited), or a draft someone edited since it was loaded."""
    item = await lock_pending(session, item_id, roles, attempted, approving=True)
    if isinstance(item, ReviewResult):
        return item
    answers = _APPROVALS[attempted]
    if await mark_stale_if_superseded(session, item):
        await audit.record(session, answers.stale_event, item_id=item.id, actor=roles.user_id)
        why = answers.merged if is_merged(item) else answers.stale
        return ReviewResult(ReviewStatus.STALE, f"{item.stale_reason} {why}")
    if version is not None and version != item.draft_version:
        editor = f"<@{item.edited_by}>"
        return ReviewResult(ReviewStatus.CHANGED, answers.changed.format(editor=editor))
    return item


def who(user: str) -> str:
    return "policy (auto)" if user == audit.AUTO else f"<@{user}>"


async def not_pending(session: AsyncSession, item: Item) -> ReviewResult:
    """Exactly what happened to an item that is no longer waiting (an expiry is not a reject)."""
    decision = await session.get(Decision, item.decision_id) if item.decision_id else None
    if item.state == ItemState.EXPIRED:
        text = "This item expired without a decision and can't be decided now."
    elif decision is not None and decision.outcome == DecisionOutcome.REJECTED:
        text = f"Already rejected by {who(decision.actor)}."
    elif decision is not None:
        text = f"Already approved by {who(decision.actor)}."
    else:
        text = f"This item is {item.state.replace('_', ' ')} and can't be decided now."
    return ReviewResult(ReviewStatus.ALREADY_DECIDED, f"{text} Nothing was changed.", item)


async def after_lost_race(sessions: SessionFactory, item_id: str) -> ReviewResult:
    """What to answer when a transaction lost the race it locked for (``LostRaceError``)."""
    async with sessions() as session:
        item = await session.get(Item, item_id)
        assert item is not None
        return await not_pending(session, item)


async def refuse(
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


def freeze_ai_version(item: Item) -> dict[str, Any]:
    """Keep the AI's own proposal before anything overwrites the working copy."""
    if item.ai_reply is not None or item.ai_action is not None:
        return {}
    return {"ai_reply": item.draft_reply, "ai_action": item.proposed_action}


async def reload(sessions: SessionFactory, item_id: str) -> Item | None:
    async with sessions() as session:
        return await session.get(Item, item_id)


async def with_item(result: ReviewResult, sessions: SessionFactory, item_id: str) -> ReviewResult:
    if result.status in {ReviewStatus.NOT_ALLOWED, ReviewStatus.NOT_FOUND}:
        return result
    decided = result.item is not None and result.item.state != ItemState.PENDING_REVIEW
    if result.status == ReviewStatus.ALREADY_DECIDED and decided:
        # Read under the row lock by the transaction that found it decided and changed nothing:
        # as fresh as a reload (repeated clicks on a decided card are most clicks under load).
        return result
    return ReviewResult(result.status, result.message, await reload(sessions, item_id))


def not_found(item_id: str) -> ReviewResult:
    return ReviewResult(ReviewStatus.NOT_FOUND, f"Item `{item_id}` does not exist.")
