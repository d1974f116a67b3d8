"""``/signoff stats``: volume, auto rate, approve/edit/reject rates, median time to decision.

Counts what happened in the period (items received, decisions made, items expired, executions
failed) from the hourly tallies of ``bot.store.stat_tally``, so a period starts on a UTC hour;
expiries are counted on their own (they are not rejections) and so are failures. The median wait
is exact.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.durations import parse_duration
from bot.store.database import SessionFactory
from bot.store.item_states import ItemState
from bot.store.models import Decision, Item
from bot.store.stat_tally import REJECTED_PREFIX, Metric, hour_of, summed

REJECTED = "rejected"

PERIODS = {"today": None, "day": timedelta(days=1), "week": timedelta(days=7)}


def parse_period(word: str | None, now: datetime) -> tuple[datetime, str]:
    """``today``, ``week``, ``30d``, ``12h``… → (since, label). Default: the last 7 days.

    Periods start on the UTC hour (the tallies are hourly); the label says when."""
    text = (word or "7d").lower()
    if text == "today":
        return hour_of(now).replace(hour=0), "today (UTC)"
    span = PERIODS.get(text) or parse_duration(text)
    since = hour_of(now - span)
    return since, f"the last {text} (since {since:%a %d %b %H:00} UTC)"


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
            f"• Items received: *{self.received}* · waiting for review now: {self.pending}",
            f"• Auto-executed: {self.auto} ({pct(self.auto, self.decided)} of decisions)",
            f"• Human decisions: {self.human} — approved {pct(self.approved, self.human)}, "
            f"approved after edit {pct(self.approved_after_edit, self.human)}, "
            f"rejected {pct(self.rejected, self.human)}",
            f"• Expired without a decision: {self.expired} · execution failed: {self.failed}",
            f"• Median time to a human decision: {median}",
        ]


async def _median_wait_minutes(session: AsyncSession, since: datetime) -> float | None:
    """The median wait of the human decisions since ``since``, exact, from the one narrow index
    on decisions (created_at, wait_seconds); a policy's decisions have no wait and are skipped."""
    waits = col(Decision.wait_seconds)
    period = (col(Decision.created_at) >= since, waits.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        median = (
            await session.execute(
                select(func.percentile_cont(0.5).within_group(waits)).where(*period)
            )
        ).scalar_one()
        return float(median) / 60 if median is not None else None
    # SQLite has no percentile function: the waits alone, read from the same index.
    rows = (await session.execute(select(waits).where(*period))).scalars()
    found = [wait for wait in rows if wait is not None]
    return statistics.median(found) / 60 if found else None


async def review_stats(sessions: SessionFactory, since: datetime, label: str) -> ReviewStats:
    """What happened since the hour of ``since``, from the hourly tallies
    (``bot.store.stat_tally``): the answer sums a few hundred rows whatever the volume. "Pending"
    is the queue right now."""
    async with sessions() as session:
        sums = await summed(session, since, rejections=True, metrics=list(Metric))
        totals: Counter[str] = Counter()
        for row in sums:
            key = REJECTED if row.metric.startswith(REJECTED_PREFIX) else row.metric
            totals[key] += row.count
        pending = (
            await session.execute(
                select(func.count())
                .select_from(Item)
                .where(col(Item.state) == ItemState.PENDING_REVIEW.value)
            )
        ).scalar_one()
        median = await _median_wait_minutes(session, hour_of(since))
    return ReviewStats(
        label=label,
        received=totals[Metric.RECEIVED],
        auto=totals[Metric.AUTO],
        approved=totals[Metric.APPROVED],
        approved_after_edit=totals[Metric.APPROVED_EDITED],
        rejected=totals[REJECTED],
        expired=totals[Metric.EXPIRED],
        failed=totals[Metric.FAILED],
        pending=int(pending),
        median_minutes=median,
    )
