"""Edit rate and edit size per category and week: are the drafts getting better?

An edit's size is how much of the AI's reply the reviewer changed: 1 - difflib's similarity
ratio over words between the AI's draft and the approved text (0% = untouched, 100% =
rewritten). Falling edit rates and sizes are the evidence that the examples fed back into the
prompt are working.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, select
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
    sizes: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.edited / self.approved if self.approved else 0.0

    @property
    def mean_size(self) -> float:
        return sum(self.sizes) / len(self.sizes) if self.sizes else 0.0


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


async def edit_stats(
    sessions: SessionFactory, *, since: datetime
) -> dict[str, dict[str, EditCell]]:
    """category → ISO week → counts over human approvals decided since ``since``.

    Only the columns the figures need are read (never the ticket bodies), and the texts only of
    edited items: a month of approvals is a lot of rows at scale, and most were not edited.
    """
    edited = col(Item.edited_by).is_not(None)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    col(Item.category),
                    col(Item.decided_at),
                    edited,
                    case((edited, col(Item.ai_reply))),
                    case((edited, col(Item.draft_reply))),
                    case((edited, col(Item.approved_reply))),
                )
                .join(Decision, col(Decision.id) == col(Item.decision_id))
                .where(
                    col(Item.state).in_(_APPROVED_STATES),
                    col(Item.decided_at) >= since,
                    col(Decision.outcome) == DecisionOutcome.APPROVED,
                )
            )
        ).all()
    table: dict[str, dict[str, EditCell]] = defaultdict(lambda: defaultdict(EditCell))
    for category, decided_at, was_edited, ai_reply, draft_reply, approved_reply in rows:
        cell = table[category or "unassessed"][week_of(decided_at)]
        cell.approved += 1
        if was_edited:
            cell.edited += 1
            original = ai_reply if ai_reply is not None else draft_reply
            cell.sizes.append(edit_size(original, approved_reply or draft_reply))
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
                select(col(Item.category), col(Decision.reason_code))
                .join(Decision, col(Decision.item_id) == col(Item.id))
                .where(
                    col(Decision.outcome) == DecisionOutcome.REJECTED,
                    col(Decision.created_at) >= since,
                )
            )
        ).all()
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for category, code in rows:
        table[category or "unassessed"][code or "unspecified"] += 1
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
