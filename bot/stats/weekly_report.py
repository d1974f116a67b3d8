"""The weekly picture for leads: the week per category, as numbers and as a PNG chart.

The numbers are ``/signoff stats``'s: the same hourly tallies (``bot.store.stat_tally.summed``,
here per category) and the same median wait, so the chart's totals equal what ``/signoff stats
7d`` says for the same hour. Beside them, the buckets that earned autonomy (trusted since) or
lost it (reset since) during the week, from the autonomy bucket rows.

The chart is drawn with matplotlib on its Agg backend (no display, thread-safe per figure object
when pyplot's global state is not used): a well-tested plotting library earns its place over
hand-drawn PNGs, and it runs in a thread, off the event loop. It is an optional extra
(``signoff[charts]``: matplotlib brings numpy, which the rest of Signoff does without), imported
only when a chart is drawn; without it the leads get the same numbers as text.
"""

from __future__ import annotations

import importlib.util
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from bot.stats.review_stats import REJECTED
from bot.store.database import SessionFactory
from bot.store.models import AutonomyBucket, Decision, Item
from bot.store.stat_tally import REJECTED_PREFIX, Metric, hour_of, summed

# The categories drawn one by one; the rest are summed as "other" (the numbers list them all).
CHART_CATEGORIES = 12
SERIES = ("items", "auto-executed", "approved unchanged", "edited", "rejected")


@dataclass(frozen=True)
class CategoryWeek:
    category: str
    items: int
    auto: int
    approved: int
    edited: int
    rejected: int
    median_wait_minutes: float | None

    def values(self) -> tuple[int, int, int, int, int]:
        return (self.items, self.auto, self.approved, self.edited, self.rejected)


@dataclass(frozen=True)
class WeeklyFigures:
    since: datetime
    categories: list[CategoryWeek]
    median_wait_minutes: float | None
    earned: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def total(self, index: int) -> int:
        return sum(c.values()[index] for c in self.categories)

    def lines(self) -> list[str]:
        median = (
            f"{self.median_wait_minutes:.1f} min" if self.median_wait_minutes is not None else "—"
        )
        lines = [
            f"*Signoff: the week since {self.since:%a %d %b %H:00} UTC*",
            f"• Items {self.total(0)} · auto-executed {self.total(1)} · approved unchanged "
            f"{self.total(2)} · edited {self.total(3)} · rejected {self.total(4)} · "
            f"median wait {median} (the same numbers as `/signoff stats 7d`)",
        ]
        for c in self.categories:
            wait = f"{c.median_wait_minutes:.1f} min" if c.median_wait_minutes is not None else "—"
            lines.append(
                f"• `{c.category}`: {c.items} items, {c.auto} auto, {c.approved} approved, "
                f"{c.edited} edited, {c.rejected} rejected, median wait {wait}"
            )
        lines.append("• Earned autonomy: " + (", ".join(f"`{b}`" for b in self.earned) or "none"))
        lines.append("• Lost autonomy: " + (", ".join(f"`{b}`" for b in self.lost) or "none"))
        return lines


async def weekly_figures(sessions: SessionFactory, since: datetime) -> WeeklyFigures:
    since = hour_of(since)
    async with sessions() as session:
        sums = await summed(
            session, since, rejections=True, metrics=list(Metric), per_category=True
        )
        waits = (
            await session.execute(
                select(col(Item.category), col(Decision.wait_seconds))
                .join(Item, col(Item.id) == col(Decision.item_id))
                .where(col(Decision.created_at) >= since, col(Decision.wait_seconds).is_not(None))
            )
        ).all()
        buckets = (await session.execute(select(AutonomyBucket))).scalars().all()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for row in sums:
        key = REJECTED if row.metric.startswith(REJECTED_PREFIX) else row.metric
        per[row.category or "unassessed"][key] += row.count
    by_category: dict[str, list[float]] = defaultdict(list)
    for category, wait in waits:
        by_category[category or "unassessed"].append(float(wait))
    categories = [
        CategoryWeek(
            category=name,
            items=counts[Metric.RECEIVED],
            auto=counts[Metric.AUTO],
            approved=counts[Metric.APPROVED],
            edited=counts[Metric.APPROVED_EDITED],
            rejected=counts[REJECTED],
            median_wait_minutes=(
                statistics.median(by_category[name]) / 60 if by_category.get(name) else None
            ),
        )
        for name, counts in per.items()
    ]
    categories.sort(key=lambda c: (-c.items, c.category))
    everyone = [float(wait) for _, wait in waits]
    return WeeklyFigures(
        since=since,
        categories=categories,
        median_wait_minutes=statistics.median(everyone) / 60 if everyone else None,
        earned=sorted(b.key for b in buckets if b.trusted and b.updated_at >= since),
        lost=sorted(b.key for b in buckets if b.reset_at is not None and b.reset_at >= since),
    )


def charts_installed() -> bool:
    """Whether ``signoff[charts]`` (matplotlib) is installed, without importing it."""
    return importlib.util.find_spec("matplotlib") is not None


def render_chart(figures: WeeklyFigures) -> bytes:
    """A PNG: grouped bars per category (items, auto, approved, edited, rejected), median wait
    written above each group. CPU only: call it in a thread. Needs ``signoff[charts]``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = figures.categories[:CHART_CATEGORIES]
    rest = figures.categories[CHART_CATEGORIES:]
    groups = [(c.category, c.values(), c.median_wait_minutes) for c in shown]
    if rest:
        summed_rest = tuple(sum(c.values()[i] for c in rest) for i in range(len(SERIES)))
        groups.append((f"other ({len(rest)})", summed_rest, None))  # type: ignore[arg-type]
    figure = Figure(figsize=(max(6.0, 1.3 * len(groups) + 2), 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(SERIES)
    for index, series in enumerate(SERIES):
        xs = [g + index * width for g in range(len(groups))]
        axes.bar(xs, [values[index] for _, values, _ in groups], width, label=series)
    for position, (_, values, wait) in enumerate(groups):
        if wait is not None:
            axes.annotate(
                f"median {wait:.0f} min",
                (position + 0.4, max(values) if values else 0),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axes.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    axes.set_xticklabels([name for name, _, _ in groups], rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("items")
    axes.set_title(f"The week since {figures.since:%d %b %H:00} UTC, per category")
    axes.legend(fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
