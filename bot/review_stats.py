"""``/signoff stats``: volume, auto rate, approve/edit/reject rates, median time to decision.

Computed from item and decision rows for one period; expiries are counted on their own (they are
not rejections) and so are failures.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.database import SessionFactory
from bot.item_states import DecisionOutcome, ItemState
from bot.models import Decision, Item
from bot.settings import parse_duration

PERIODS = {"today": None, "day": timedelta(days=1), "week": timedelta(days=7)}


def parse_period(word: str | None, now: datetime) -> tuple[datetime, str]:
    """``today``, ``week``, ``30d``, ``12h``… → (since, label). Default: the last 7 days."""
    text = (word or "7d").lower()
    if text == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0), "today (UTC)"
    if text in PERIODS:
        span = PERIODS[text]
        assert span is not None
        return now - span, f"the last {text}"
    return now - parse_duration(text), f"the last {text}"


@dataclass(frozen=True)
class ReviewStats:
    label: str
    received: int
    auto: int
    approved: int
    approved_after_edit: int
    rejected: int
    expired: int
    failed: int
    pending: int
    median_minutes: float | None

    @property
    def decided(self) -> int:
        return self.auto + self.approved + self.approved_after_edit + self.rejected

    @property
    def human(self) -> int:
        return self.approved + self.approved_after_edit + self.rejected

    def lines(self) -> list[str]:
        def pct(part: int, whole: int) -> str:
            return f"{100 * part / whole:.0f}%" if whole else "—"

        median = f"{self.median_minutes:.1f} min" if self.median_minutes is not None else "—"
        return [
            f"*Signoff stats for {self.label}*",
            f"• Items received: *{self.received}* · still pending: {self.pending}",
            f"• Auto-executed: {self.auto} ({pct(self.auto, self.decided)} of decisions)",
            f"• Human decisions: {self.human} — approved {pct(self.approved, self.human)}, "
            f"approved after edit {pct(self.approved_after_edit, self.human)}, "
            f"rejected {pct(self.rejected, self.human)}",
            f"• Expired without a decision: {self.expired} · execution failed: {self.failed}",
            f"• Median time to a human decision: {median}",
        ]


async def review_stats(sessions: SessionFactory, since: datetime, label: str) -> ReviewStats:
    """Only the columns the numbers need (never ticket bodies), one row per item of the period."""
    query = (
        select(
            col(Item.state),
            col(Item.edited_by),
            col(Item.review_started_at),
            col(Item.created_at),
            col(Decision.outcome),
            col(Decision.created_at),
        )
        .select_from(Item)
        .outerjoin(Decision, col(Decision.id) == col(Item.decision_id))
        .where(col(Item.created_at) >= since)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    auto = approved = edited = rejected = expired = failed = pending = 0
    waits: list[float] = []
    for state, edited_by, started, created, outcome, decided in rows:
        if state == ItemState.EXPIRED:
            expired += 1
        elif state == ItemState.PENDING_REVIEW:
            pending += 1
        if state == ItemState.FAILED:
            failed += 1
        if outcome is None:
            continue
        if outcome == DecisionOutcome.AUTO_APPROVED:
            auto += 1
            continue
        if outcome == DecisionOutcome.REJECTED:
            rejected += 1
        elif edited_by:
            edited += 1
        else:
            approved += 1
        waits.append((decided - (started or created)).total_seconds() / 60)
    return ReviewStats(
        label=label,
        received=len(rows),
        auto=auto,
        approved=approved,
        approved_after_edit=edited,
        rejected=rejected,
        expired=expired,
        failed=failed,
        pending=pending,
        median_minutes=statistics.median(waits) if waits else None,
    )
