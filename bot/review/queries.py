"""Read-only views of the review queue for commands and App Home (filters, pages, one item)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, not_, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import col

from bot.durations import parse_duration
from bot.errors import UserInputError
from bot.slack.text import safe
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory
from bot.store.item_states import ItemState
from bot.store.models import Decision, Item
from policies.risk_levels import RiskLevel

PAGE_SIZE = 10


class FilterError(UserInputError):
    """A filter word the user typed that means nothing; the message says what would."""


@dataclass(frozen=True)
class PendingFilter:
    risks: frozenset[str] = field(default_factory=frozenset)
    category: str | None = None
    older_than: timedelta | None = None
    page: int = 1

    def describe(self) -> str:
        parts = []
        if self.risks:
            parts.append("risk " + "/".join(sorted(self.risks)))
        if self.category:
            parts.append(f"category {self.category}")
        if self.older_than:
            parts.append(f"older than {self.older_than}")
        return ", ".join(parts)


def parse_filters(words: Sequence[str]) -> PendingFilter:
    """``high``, ``risk:high``, ``category:refund``, ``older:2h`` (or ``age:2h``), ``page:2``."""
    risks: set[str] = set()
    category = None
    older = None
    page = 1
    levels = {level.value for level in RiskLevel}
    for word in words:
        key, sep, value = word.lower().partition(":")
        if not sep and key in levels:
            key, value = "risk", key
        elif not sep and key.isdigit():
            key, value = "page", key
        if key == "risk" and value in levels:
            risks.add(value)
        elif key in {"category", "cat"} and value:
            category = value
        elif key in {"older", "age"} and value:
            try:
                older = parse_duration(value)
            except ValueError as exc:
                raise FilterError(str(exc)) from None
        elif key == "page" and value.isdigit() and int(value) >= 1:
            page = int(value)
        else:
            raise FilterError(
                f"I don't understand `{safe(word, 40)}`. Filters: a risk level (`high`), "
                "`category:refund`, `older:2h`, `page:2`."
            )
    return PendingFilter(frozenset(risks), category, older, page)


@dataclass(frozen=True)
class Page:
    items: Sequence[Item]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


async def pending_page(
    sessions: SessionFactory, filters: PendingFilter, *, now: datetime | None = None
) -> Page:
    now = now or utcnow()
    conditions = [col(Item.state) == ItemState.PENDING_REVIEW]
    if filters.risks:
        conditions.append(col(Item.risk_level).in_(sorted(filters.risks)))
    if filters.category:
        conditions.append(col(Item.category) == filters.category)
    if filters.older_than:
        conditions.append(col(Item.created_at) <= now - filters.older_than)
    async with sessions() as session:
        total = (
            await session.execute(select(func.count()).select_from(Item).where(*conditions))
        ).scalar_one()
        rows = (
            (
                await session.execute(
                    select(Item)
                    .where(*conditions)
                    .order_by(col(Item.created_at))
                    .offset((filters.page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE)
                )
            )
            .scalars()
            .all()
        )
    return Page(rows, int(total), filters.page)


async def pending_counts_by_risk(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(col(Item.risk_level), func.count())
            .where(col(Item.state) == ItemState.PENDING_REVIEW)
            .group_by(col(Item.risk_level))
        )
        return {str(risk or "unknown"): int(count) for risk, count in rows.all()}


async def waiting_for(sessions: SessionFactory, user_id: str, *, limit: int) -> Sequence[Item]:
    """Pending items this user could still approve, oldest first: not stale (Approve is refused
    until a re-draft), not already approved by them, not raised by them (no self-approval).

    Filtered in the database, so the oldest ``limit`` items that qualify come back however many
    older items this user has already approved.
    """
    async with sessions() as session:
        dialect = session.bind.dialect.name
        rows = (
            (
                await session.execute(
                    select(Item)
                    .where(
                        col(Item.state) == ItemState.PENDING_REVIEW,
                        col(Item.stale_reason).is_(None),
                        not_(_approved_by(user_id, dialect)),
                        _not_raised_by(user_id),
                    )
                    .order_by(col(Item.created_at))
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return rows


def _approved_by(user_id: str, dialect: str) -> ColumnElement[bool]:
    """``user_id`` is in the item's ``approvals`` (a JSON array of user ids)."""
    if dialect == "postgresql":
        return type_coerce(col(Item.approvals), JSONB).contains([user_id])
    approvers = func.json_each(col(Item.approvals)).table_valued("value")
    return exists(select(1).select_from(approvers).where(approvers.c.value == user_id))


def _not_raised_by(user_id: str) -> ColumnElement[bool]:
    """The item was not raised from Slack by ``user_id`` (``extra.slack_user_id``)."""
    raiser = col(Item.extra)["slack_user_id"].as_string()
    return or_(raiser.is_(None), raiser != user_id)


async def decided_by(sessions: SessionFactory, user_id: str, *, limit: int) -> Sequence[Item]:
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(Item)
                    .join(Decision, col(Decision.id) == col(Item.decision_id))
                    .where(col(Decision.actor) == user_id)
                    .order_by(col(Item.decided_at).desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return rows


async def item_with_decision(
    sessions: SessionFactory, item_id: str
) -> tuple[Item | None, Decision | None]:
    async with sessions() as session:
        item = await session.get(Item, item_id)
        decision = (
            await session.get(Decision, item.decision_id) if item and item.decision_id else None
        )
    return item, decision
