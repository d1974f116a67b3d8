"""Hourly counts of what happened, kept as it happens: what ``/signoff stats`` reads.

Why: counting the period's items at each answer grows with the volume. With a million items (a
quarter of them in the last seven days) the aggregate over items and decisions took 1.2 to 1.8 s
per ``/signoff stats`` on PostgreSQL, however well indexed, because the item rows it reads are
wide and recently updated. Here each event adds one to a row keyed by (UTC hour, category,
metric) in the transaction that records the event, so an answer sums at most a few thousand
small rows whatever the volume, and a period starts on the hour.

Every increment happens after the transaction took its audit chain's lock (``audit.record``) and
goes to that chain's shard of the row (``shard``, the lowest chain the transaction holds): each
shard is written in its chain's order, so no waiting beyond the chain's and no lock-order
deadlocks, and transactions of different chains never queue on one hot row (issue 18).
Readers sum the shards.
:func:`rebuild` recomputes every row from items and decisions: the repair for a database restored
from elsewhere, and the oracle the tests compare against (migration 0009 backfilled with a frozen
copy of it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Select, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col

from bot.store import audit
from bot.store.frozen_statement import FrozenStatement
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision, Item, StatTally
from policies.autonomy import EARNED_AUTONOMY, PINNED_ALLOW

__all__ = [
    "Metric",
    "TallyKey",
    "TallySum",
    "count_decision",
    "count_events",
    "decision_metrics",
    "hour_of",
    "rebuild",
    "rejected_metric",
    "summed",
    "wait_seconds",
]

# Auto decisions made on a bucket's earned trust or a lead's pin, not on the risk rules.
TRUSTED_POLICIES = frozenset({EARNED_AUTONOMY, PINNED_ALLOW})
REJECTED_PREFIX = "rejected:"
NO_CATEGORY = ""


class Metric(StrEnum):
    RECEIVED = "received"
    AUTO = "auto"
    AUTO_TRUSTED = "auto_trusted"
    APPROVED = "approved"
    # ``total`` holds the sum of the edits' sizes (0..1 each).
    APPROVED_EDITED = "approved_edited"
    EXPIRED = "expired"
    FAILED = "failed"


def rejected_metric(reason_code: str | None) -> str:
    """Rejections are counted per reason of the fixed taxonomy: ``rejected:<code>``."""
    return REJECTED_PREFIX + (reason_code or "unspecified")


@dataclass(frozen=True, order=True)
class TallyKey:
    hour: datetime
    category: str
    metric: str


def hour_of(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC hour (in UTC: an hour is not whole in every zone)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def wait_seconds(decided: datetime, review_started: datetime | None, created: datetime) -> float:
    """A human decision's wait: from the start of review (a re-draft restarts it) or creation."""
    return (decided - (review_started or created)).total_seconds()


def decision_metrics(
    outcome: str, *, edited: bool, route_policy: str | None, reason_code: str | None
) -> list[str]:
    """The metrics one decision adds to: one place, for the live count and for :func:`rebuild`."""
    if outcome == DecisionOutcome.AUTO_APPROVED:
        return [Metric.AUTO, *([Metric.AUTO_TRUSTED] if route_policy in TRUSTED_POLICIES else [])]
    if outcome == DecisionOutcome.REJECTED:
        return [rejected_metric(reason_code)]
    return [Metric.APPROVED_EDITED if edited else Metric.APPROVED]


def _increment(dialect: str) -> UpdateBase:
    """Add a row's count and total to the row of its key, or insert it."""
    table = StatTally.__table__  # type: ignore[attr-defined]
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return statement.on_conflict_do_update(
        index_elements=["hour", "category", "metric", "shard"],
        set_={
            "count": table.c.count + statement.excluded.count,
            "total": table.c.total + statement.excluded.total,
        },
    )


# Runs in nearly every transaction that records a step: compiled once per dialect.
_INCREMENT = FrozenStatement(_increment)


async def count_events(
    session: AsyncSession,
    at: datetime,
    metrics: Iterable[str],
    *,
    category: str | None,
    count: int = 1,
    total: float = 0.0,
) -> None:
    """Add ``count`` events (and ``total`` to their measure) to each metric's row for the hour
    of ``at``. Call after ``audit.record`` in the same transaction (the chain's lock orders it)."""
    shard = audit.tally_shard(session)
    rows = [
        {
            "hour": hour_of(at),
            "category": category or NO_CATEGORY,
            "metric": str(metric),
            "shard": shard,
            "count": count,
            "total": total,
        }
        for metric in sorted(metrics)
    ]
    if not rows:
        return
    statement = _INCREMENT.for_dialect(session.get_bind().dialect)
    await session.execute(statement, rows)


async def count_decision(
    session: AsyncSession,
    decision: Decision,
    *,
    category: str | None,
    edited: bool = False,
    route_policy: str | None = None,
    edit_size: float | None = None,
) -> None:
    """Count ``decision`` (at its own time) in the metrics :func:`decision_metrics` gives it."""
    metrics = decision_metrics(
        decision.outcome, edited=edited, route_policy=route_policy, reason_code=decision.reason_code
    )
    await count_events(
        session, decision.created_at, metrics, category=category, total=edit_size or 0.0
    )


@dataclass(frozen=True)
class TallySum:
    metric: str
    count: int
    total: float
    category: str = NO_CATEGORY
    # The UTC day, when summed per day.
    day: date | None = None


def _utc_day(session: AsyncSession) -> ColumnElement[date]:
    """The UTC calendar day of a tally's hour, in SQL: PostgreSQL's ``date()`` of a timestamptz
    follows the session's time zone, SQLite's stored text is UTC already."""
    hour = col(StatTally.hour)
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", hour), type_=Date)
    return func.date(hour, type_=Date)


async def summed(
    session: AsyncSession,
    since: datetime,
    *,
    metrics: Collection[str] = (),
    rejections: bool = False,
    per_category: bool = False,
    per_day: bool = False,
) -> list[TallySum]:
    """Sums of the tallies from the hour of ``since`` on, per metric (and per category and UTC
    day when asked); only ``metrics`` and, with ``rejections``, every ``rejected:<code>``."""
    metric = col(StatTally.metric)
    wanted: list[ColumnElement[bool]] = []
    if metrics:
        wanted.append(metric.in_(sorted(metrics)))
    if rejections:
        wanted.append(metric.startswith(REJECTED_PREFIX, autoescape=True))
    keys: list[Any] = [metric]
    if per_category:
        keys.append(col(StatTally.category))
    if per_day:
        keys.append(_utc_day(session))
    query = (
        select(*keys, func.sum(col(StatTally.count)), func.sum(col(StatTally.total)))
        .where(col(StatTally.hour) >= hour_of(since))
        .group_by(*keys)
    )
    if wanted:
        query = query.where(or_(*wanted))
    sums = []
    for row in (await session.execute(query)).all():
        values = list(row)
        name = values.pop(0)
        category = values.pop(0) if per_category else NO_CATEGORY
        day = values.pop(0) if per_day else None
        count, total = values
        sums.append(TallySum(name, int(count), float(total or 0.0), category, day))
    return sums


def rebuild(connection: Connection) -> int:
    """Recompute every tally row from the items and decisions (synchronous: migrations and the
    CLI run it on a plain connection). Returns how many rows it wrote.

    Safe beside running instances: every live count is made while its transaction holds the
    audit chain, and this takes the chain first (on SQLite the delete below takes the one writer
    lock), so no event is counted in between the read of the rows and the write of the sums.

    Exact for received items, decisions and expiries. A failure is counted at the item's last
    update and only while the item is still failed: a failure a lead's Retry later turned into a
    success was counted live but cannot be seen in the rows any more.
    """
    audit.lock_all_chains_sync(connection)
    connection.execute(delete(StatTally))
    counts: Counter[TallyKey] = Counter()
    totals: defaultdict[TallyKey, float] = defaultdict(float)

    def streamed(query: Select[Any]) -> Iterable[Any]:
        return connection.execute(query.execution_options(yield_per=10_000))

    for (created,) in streamed(select(col(Item.created_at))):
        counts[TallyKey(hour_of(created), NO_CATEGORY, Metric.RECEIVED)] += 1
    decisions = select(
        col(Decision.created_at),
        col(Decision.outcome),
        col(Decision.reason_code),
        col(Item.category),
        col(Item.edited_by),
        col(Item.edit_size),
        col(Item.route_policy),
    ).join(Item, col(Item.id) == col(Decision.item_id))
    for decided, outcome, reason_code, category, edited_by, size, policy in streamed(decisions):
        edited = edited_by is not None and outcome == DecisionOutcome.APPROVED
        for metric in decision_metrics(
            outcome, edited=edited, route_policy=policy, reason_code=reason_code
        ):
            key = TallyKey(hour_of(decided), category or NO_CATEGORY, metric)
            counts[key] += 1
            if metric == Metric.APPROVED_EDITED:
                totals[key] += size or 0.0
    ended = select(
        col(Item.state), col(Item.category), col(Item.decided_at), col(Item.updated_at)
    ).where(col(Item.state).in_([ItemState.EXPIRED, ItemState.FAILED]))
    for state, category, decided_at, updated_at in streamed(ended):
        expired = state == ItemState.EXPIRED
        at = (decided_at or updated_at) if expired else updated_at
        metric = Metric.EXPIRED if expired else Metric.FAILED
        counts[TallyKey(hour_of(at), category or NO_CATEGORY, metric)] += 1
    rows = [
        {
            "hour": key.hour,
            "category": key.category,
            "metric": key.metric,
            "count": number,
            "total": totals[key],
        }
        for key, number in sorted(counts.items())
    ]
    for start in range(0, len(rows), 1000):
        connection.execute(insert(StatTally), rows[start : start + 1000])
    return len(rows)
