"""Reveal: the one surface that shows unmasked personal data, to a reviewer or lead, audited."""

from __future__ import annotations

from bot.review.decision_steps import not_found, refuse
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.models import Item


async def record_reveal(sessions: SessionFactory, *, item_id: str, roles: Roles) -> ReviewResult:
    """Audit a reveal of masked personal data; only people who may decide (this card: its
    route's group and the leads, when it was routed to a team) may see it."""
    async with transaction(sessions) as session:
        item = await session.get(Item, item_id)
        if item is None:
            return not_found(item_id)
        if not roles.for_route(item.reviewer_group).may_decide:
            return await refuse(
                session, item, roles, "reveal", "only reviewers and leads can see unmasked details"
            )
        await audit.record(session, "pii_revealed", item_id=item_id, actor=roles.user_id)
    return ReviewResult(ReviewStatus.RECORDED, "revealed", item)
