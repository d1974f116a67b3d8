"""Edit rate and edit size per category and week: are the drafts getting better?

An edit's size is how much of the AI's reply the reviewer changed: 1 - difflib's similarity
ratio over words between the AI's draft and the approved text (0% = untouched, 100% =
rewritten). Falling edit rates and sizes are the evidence that the examples fed back into the
prompt are working.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Date, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.database import SessionFactory
from bot.item_states import DecisionOutcome, ItemState
from bot.models import Decision, Item
from policies.autonomy import reply_similarity
from policies.reject_reasons import RejectReason

_APPROVED_STATES = [
    ItemState.APPROVED,
    ItemState.EXECUTING,
    ItemState.EXECUTED,
    ItemState.FAILED,
]


def edit_size(original: str | None, edited: str | None) -> float:
    return 1.0 - reply_similarity(original, edited)


@dataclass
class EditCell:
    approved: int = 0
    edited: int = 0
    size_total: float = 0.0
    sized: int = 0

    @property
    def rate(self) -> float:
        return self.edited / self.approved if self.approved else 0.0

    @property
    def mean_size(self) -> float:
        return self.size_total / self.sized if self.sized else 0.0


def week_of(moment: date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _utc_day(session: AsyncSession) -> ColumnElement[date]:
    """The UTC calendar day of the decision, in SQL: PostgreSQL's ``date()`` of a timestamptz
    follows the session's time zone, SQLite's stored text is UTC already."""
    decided = col(Item.decided_at)
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", decided), type_=Date)
    return func.date(decided, type_=Date)


async def edit_stats(
    sessions: SessionFactory, *, since: datetime
) -> dict[str, dict[str, EditCell]]:
    """category → ISO week → counts over human approvals decided since ``since``.

    The database groups by category and day (a month is at most 31 rows per category, however
    many approvals); the days fold into ISO weeks here, which SQLite cannot compute. Edit sizes
    were fixed at approval (``item.edit_size``), so no text is read.
    """
    async with sessions() as session:
        day = _utc_day(session)
        rows = (
            await session.execute(
                select(
                    col(Item.category),
                    day,
                    func.count(),
                    func.count(col(Item.edited_by)),
                    func.coalesce(func.sum(col(Item.edit_size)), 0.0),
                    func.count(col(Item.edit_size)),
                )
                .join(Decision, col(Decision.id) == col(Item.decision_id))
                .where(
                    col(Item.state).in_(_APPROVED_STATES),
                    col(Item.decided_at) >= since,
                    col(Decision.outcome) == DecisionOutcome.APPROVED,
                )
                .group_by(col(Item.category), day)
            )
        ).all()
    table: dict[str, dict[str, EditCell]] = defaultdict(lambda: defaultdict(EditCell))
    for category, decided_on, approved, edited, size_total, sized in rows:
        cell = table[category or "unassessed"][week_of(decided_on)]
        cell.approved += int(approved)
        cell.edited += int(edited)
        cell.size_total += float(size_total)
        cell.sized += int(sized)
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
    """category → reject reason (the fixed taxonomy) → count, for rejections since ``since``."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(col(Item.category), col(Decision.reason_code), func.count())
                .join(Decision, col(Decision.item_id) == col(Item.id))
                .where(
                    col(Decision.outcome) == DecisionOutcome.REJECTED,
                    col(Decision.created_at) >= since,
                )
                .group_by(col(Item.category), col(Decision.reason_code))
            )
        ).all()
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for category, code, count in rows:
        table[category or "unassessed"][code or "unspecified"] += int(count)
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
