"""The daily digest in the review channel: what waits, what was decided yesterday, how much ran
without a human.

APScheduler fires it in every instance at ``SIGNOFF_DAILY_DIGEST_AT`` (UTC); the first instance
to claim ``daily_digest:<date>`` in ``run_claim`` sends it and the others stand down, so N
instances post one digest. Counts come from the database, so it says the same whichever instance
sends it. "Yesterday" is the UTC day before the run.

Without ``SIGNOFF_AUDIT_CHANNEL`` the digest also carries the audit chains' heads (an anchor, as a
line and as message metadata that ``audit verify`` reads back), so every deployment with Slack
anchors its audit log outside the database at least daily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.assess.pii_masking import masked
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.slack.audit_anchor_posts import anchor_line, anchor_metadata
from bot.slack.text import safe
from bot.store.audit_anchors import chain_heads, record_published
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision, Item
from bot.store.run_claims import claim_run

log = get_logger(__name__)

# Held past the next day's run so a late instance (clock skew, misfire grace) cannot resend.
CLAIM_HOLD = timedelta(hours=36)


@dataclass(frozen=True)
class DigestFacts:
    day: datetime  # start of the reported (UTC) day
    pending: int
    oldest_id: str | None
    oldest_subject: str | None
    oldest_since: datetime | None
    decisions: dict[str, int] = field(default_factory=dict)
    expired: int = 0
    executed: int = 0
    failed: int = 0

    @property
    def decided(self) -> int:
        return sum(self.decisions.values())

    @property
    def auto_rate(self) -> float | None:
        """Share of yesterday's decisions made by policy without a human."""
        if not self.decided:
            return None
        return self.decisions.get(DecisionOutcome.AUTO_APPROVED, 0) / self.decided


async def gather_facts(sessions: SessionFactory, now: datetime) -> DigestFacts:
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    day = today - timedelta(days=1)

    def yesterday(column: Any) -> ColumnElement[bool]:
        return and_(column >= day, column < today)

    async with sessions() as session:
        pending = (
            await session.execute(
                select(func.count())
                .select_from(Item)
                .where(col(Item.state) == ItemState.PENDING_REVIEW)
            )
        ).scalar_one()
        oldest = (
            await session.execute(
                select(Item)
                .where(col(Item.state) == ItemState.PENDING_REVIEW)
                .order_by(func.coalesce(col(Item.review_started_at), col(Item.created_at)))
                .limit(1)
            )
        ).scalar_one_or_none()
        decisions = dict(
            (
                await session.execute(
                    select(col(Decision.outcome), func.count())
                    .where(yesterday(col(Decision.created_at)))
                    .group_by(col(Decision.outcome))
                )
            )
            .tuples()
            .all()
        )
        expired = await _count(session, ItemState.EXPIRED, yesterday(col(Item.decided_at)))
        executed = await _count(session, ItemState.EXECUTED, yesterday(col(Item.executed_at)))
        failed = await _count(session, ItemState.FAILED, yesterday(col(Item.updated_at)))
    return DigestFacts(
        day=day,
        pending=int(pending),
        oldest_id=oldest.id if oldest else None,
        oldest_subject=oldest.subject if oldest else None,
        oldest_since=(oldest.review_started_at or oldest.created_at) if oldest else None,
        decisions={str(k): int(v) for k, v in decisions.items()},
        expired=expired,
        executed=executed,
        failed=failed,
    )


async def _count(session: AsyncSession, state: ItemState, within: ColumnElement[bool]) -> int:
    result = await session.execute(
        select(func.count()).select_from(Item).where(col(Item.state) == state, within)
    )
    return int(result.scalar_one())


def _age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)} d {minutes % (24 * 60) // 60} h"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def render(facts: DigestFacts, now: datetime) -> str:
    d = facts.decisions
    lines = [f":bar_chart: *Signoff daily digest* for {facts.day:%a %d %b %Y} (UTC)"]
    if facts.pending and facts.oldest_since is not None:
        lines.append(
            f"• *{facts.pending}* waiting for review; oldest `{facts.oldest_id}` "
            f"({safe(masked(facts.oldest_subject or ''), 80)}), waiting "
            f"{_age(facts.oldest_since, now)}"
        )
    else:
        lines.append("• Nothing is waiting for review.")
    lines.append(
        f"• Yesterday: {d.get(DecisionOutcome.APPROVED, 0)} approved, "
        f"{d.get(DecisionOutcome.REJECTED, 0)} rejected, "
        f"{d.get(DecisionOutcome.AUTO_APPROVED, 0)} auto-approved by policy, "
        f"{facts.expired} expired; {facts.executed} executed, {facts.failed} failed"
    )
    rate = facts.auto_rate
    lines.append(
        f"• Auto-execution rate yesterday: {rate:.0%} of {facts.decided} decisions"
        if rate is not None
        else "• Auto-execution rate yesterday: no decisions"
    )
    return "\n".join(lines)


async def send_daily_digest(rt: Runtime, now: datetime, *, by: str) -> bool:
    """Post today's digest unless another instance already claimed it; True when this call
    posted it."""
    publisher = rt.publisher
    if publisher is None:
        return False
    key = f"daily_digest:{now.astimezone(UTC).date().isoformat()}"
    if not await claim_run(rt.sessions, key, by=by, now=now, until=now + CLAIM_HOLD):
        return False
    text = render(await gather_facts(rt.sessions, now), now)
    anchor = None
    if not rt.settings.audit_channel:
        async with rt.sessions() as session:
            anchor = await chain_heads(session)
    if anchor is None:
        posted = await publisher.post_message(text)
    else:
        text += "\n" + anchor_line(anchor)
        posted = await publisher.post_message(text, metadata=anchor_metadata(anchor))
        if posted:
            async with transaction(rt.sessions) as session:
                target = f"slack:{publisher.channel}"
                await record_published(session, anchor, target=target, ref="daily digest")
    log.info("daily digest", posted=posted, key=key)
    return posted
