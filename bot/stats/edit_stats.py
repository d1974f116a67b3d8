"""Edit rate and edit size per category and week: are the drafts getting better?

An edit's size is how much of the AI's reply the reviewer changed, fixed at approval
(``bot.review.edit_size``: 0% = untouched, 100% = rewritten). Falling edit rates and sizes are
the evidence that the examples fed back into the prompt are working.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.store.database import SessionFactory
from bot.store.stat_tally import REJECTED_PREFIX, Metric, summed
from policies.reject_reasons import RejectReason


@dataclass
class EditCell:
    approved: int = 0
    edited: int = 0
    # The sum of the edited approvals' sizes (every edit is sized at approval).
    size_total: float = 0.0

    @property
    def rate(self) -> float:
        return self.edited / self.approved if self.approved else 0.0

    @property
    def mean_size(self) -> float:
        return self.size_total / self.edited if self.edited else 0.0


def week_of(moment: date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


async def edit_stats(
    sessions: SessionFactory, *, since: datetime
) -> dict[str, dict[str, EditCell]]:
    """category → ISO week → counts over human approvals decided since the hour of ``since``.

    Read from the hourly tallies, summed per category and UTC day by the database (a year is at
    most 366 rows per category and metric); the days fold into ISO weeks here, which SQLite
    cannot compute. Edit sizes were fixed at approval, so no text is read.
    """
    async with sessions() as session:
        sums = await summed(
            session,
            since,
            metrics=[Metric.APPROVED, Metric.APPROVED_EDITED],
            per_category=True,
            per_day=True,
        )
    table: dict[str, dict[str, EditCell]] = defaultdict(lambda: defaultdict(EditCell))
    for row in sums:
        assert row.day is not None
        cell = table[row.category or "unassessed"][week_of(row.day)]
        cell.approved += row.count
        if row.metric == Metric.APPROVED_EDITED:
            cell.edited += row.count
            cell.size_total += row.total
    return {category: dict(weeks) for category, weeks in table.items()}


def edit_stats_lines(table: dict[str, dict[str, EditCell]], *, weeks: int) -> list[str]:
    """One line per category: edit rate and mean edit size, week by week, oldest first."""
    if not table:
        return ["No human approvals in this period yet."]
    lines = []
    for category in sorted(table):
        cells = sorted(table[category].items())[-weeks:]
        parts = [
            f"{week}: {cell.rate:.0%} edited"
            + (f" (avg size {cell.mean_size:.0%})" if cell.edited else "")
            + f" of {cell.approved}"
            for week, cell in cells
        ]
        lines.append(f"• *{category}* — " + "; ".join(parts))
    return lines


async def edit_report(sessions: SessionFactory, *, now: datetime, weeks: int = 4) -> str:
    table = await edit_stats(sessions, since=now - timedelta(weeks=weeks))
    header = (
        f"*Edit rate and size per category*, last {weeks} weeks (size = share of the AI's "
        "reply the reviewer changed):"
    )
    return "\n".join([header, *edit_stats_lines(table, weeks=weeks)])


async def reject_reasons(sessions: SessionFactory, *, since: datetime) -> dict[str, Counter[str]]:
    """category → reject reason (the fixed taxonomy) → count, for rejections since the hour of
    ``since`` (from the hourly tallies)."""
    async with sessions() as session:
        sums = await summed(session, since, rejections=True, per_category=True)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for row in sums:
        table[row.category or "unassessed"][row.metric.removeprefix(REJECTED_PREFIX)] += row.count
    return dict(table)


def reject_reason_lines(table: dict[str, Counter[str]]) -> list[str]:
    return [
        f"• *{category}* — "
        + ", ".join(f"{label(code)} {count}" for code, count in table[category].most_common())
        for category in sorted(table)
    ]


def label(code: str) -> str:
    try:
        return RejectReason(code).label.lower()
    except ValueError:
        return code.replace("_", " ")
