"""stat_tally and decision.wait_seconds: ``/signoff stats`` without counting the period's items.

``stat_tally`` holds hourly counts kept as events happen (``bot.store.stat_tally``); this migration
fills it from the existing rows. ``decision.wait_seconds`` is a human decision's wait, stored
once (decisions are never updated), so the median is read from one narrow index; earlier human
decisions get theirs computed here, in batches.

The backfill is a frozen copy of ``bot.store.stat_tally.rebuild`` and ``wait_seconds`` as they
were when this migration was written, over the tables as they are at this revision: the live code
may change (and reads the live models); this migration must not.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:30:00
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UTCDateTime
from bot.store.row_batches import in_batches

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit chain's advisory-lock key at this revision (``bot.store.audit``).
_CHAIN_LOCK = 0x5160FF
_TRUSTED_POLICIES = frozenset({"earned_autonomy", "pinned_allow"})


def _wait_seconds(decided: datetime, review_started: datetime | None, created: datetime) -> float:
    return (decided - (review_started or created)).total_seconds()


def _hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _decision_metrics(
    outcome: str, *, edited: bool, route_policy: str | None, reason_code: str | None
) -> list[str]:
    if outcome == "auto_approved":
        return ["auto", *(["auto_trusted"] if route_policy in _TRUSTED_POLICIES else [])]
    if outcome == "rejected":
        return ["rejected:" + (reason_code or "unspecified")]
    return ["approved_edited" if edited else "approved"]


def _rebuild(connection: sa.Connection) -> None:
    """Frozen copy of ``stat_tally.rebuild``: every tally row recomputed from the rows, taking
    the audit chain's lock first so no live count lands between the read and the write."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    tally = sa.table(
        "stat_tally",
        sa.column("hour", UTCDateTime()),
        sa.column("category", sa.String),
        sa.column("metric", sa.String),
        sa.column("count", sa.BigInteger),
        sa.column("total", sa.Float),
    )
    item = sa.table(
        "item",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("category", sa.String),
        sa.column("edited_by", sa.String),
        sa.column("edit_size", sa.Float),
        sa.column("route_policy", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("decided_at", UTCDateTime()),
    )
    decision = sa.table(
        "decision",
        sa.column("item_id", sa.String),
        sa.column("outcome", sa.String),
        sa.column("reason_code", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    connection.execute(tally.delete())
    counts: Counter[tuple[datetime, str, str]] = Counter()
    totals: defaultdict[tuple[datetime, str, str], float] = defaultdict(float)

    def streamed(query: sa.Select[Any]) -> Iterable[Any]:
        return connection.execute(query.execution_options(yield_per=10_000))

    for (created,) in streamed(sa.select(item.c.created_at)):
        counts[(_hour_of(created), "", "received")] += 1
    decisions = sa.select(
        decision.c.created_at,
        decision.c.outcome,
        decision.c.reason_code,
        item.c.category,
        item.c.edited_by,
        item.c.edit_size,
        item.c.route_policy,
    ).join(item, item.c.id == decision.c.item_id)
    for decided, outcome, reason_code, category, edited_by, size, policy in streamed(decisions):
        edited = edited_by is not None and outcome == "approved"
        for metric in _decision_metrics(
            outcome, edited=edited, route_policy=policy, reason_code=reason_code
        ):
            key = (_hour_of(decided), category or "", metric)
            counts[key] += 1
            if metric == "approved_edited":
                totals[key] += size or 0.0
    ended = sa.select(item.c.state, item.c.category, item.c.decided_at, item.c.updated_at).where(
        item.c.state.in_(["expired", "failed"])
    )
    for state, category, decided_at, updated_at in streamed(ended):
        expired = state == "expired"
        at = (decided_at or updated_at) if expired else updated_at
        counts[(_hour_of(at), category or "", "expired" if expired else "failed")] += 1
    rows = [
        {"hour": key[0], "category": key[1], "metric": key[2], "count": n, "total": totals[key]}
        for key, n in sorted(counts.items())
    ]
    for start in range(0, len(rows), 1000):
        connection.execute(tally.insert(), rows[start : start + 1000])


def _backfill_waits(connection: sa.Connection) -> None:
    decision = sa.table(
        "decision",
        sa.column("id", sa.BigInteger),
        sa.column("item_id", sa.String),
        sa.column("outcome", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("wait_seconds", sa.Float),
    )
    item = sa.table(
        "item",
        sa.column("id", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("review_started_at", UTCDateTime()),
    )
    query = (
        sa.select(decision.c.id, decision.c.created_at, item.c.review_started_at, item.c.created_at)
        .join(item, item.c.id == decision.c.item_id)
        .where(decision.c.outcome != "auto_approved")
    )
    for rows in in_batches(connection, query, decision.c.id):
        connection.execute(
            decision.update()
            .where(decision.c.id == sa.bindparam("decision_id"))
            .values(wait_seconds=sa.bindparam("wait")),
            [
                {"decision_id": row[0], "wait": _wait_seconds(row[1], row[2], row[3])}
                for row in rows
            ],
        )


def upgrade() -> None:
    op.create_table(
        "stat_tally",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "category", "metric"),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wait_seconds", sa.Float(), nullable=True))
    op.create_index("ix_decision_created_at_wait", "decision", ["created_at", "wait_seconds"])
    connection = op.get_bind()
    _backfill_waits(connection)
    _rebuild(connection)


def downgrade() -> None:
    op.drop_index("ix_decision_created_at_wait", table_name="decision")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("wait_seconds")
    op.drop_table("stat_tally")
