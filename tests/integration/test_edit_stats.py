"""Edit and reject figures are summed from the hourly tallies per category and UTC week, with the
edit size fixed at approval, and the migration that adds it sizes the edits approved before."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bot.review.edit_size import edit_size
from bot.stats.edit_stats import edit_stats, reject_reasons
from bot.store.database import (
    create_engine,
    is_sqlite,
    migrate,
    session_factory,
    sync_url,
    transaction,
)
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision
from tests.support.stored_items import insert_at_schema, rebuild_tallies, stored_item

# Monday 2026-11-23 00:00 UTC starts ISO week 48; the Sunday before ends week 47.
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def _far_east(dbapi_connection: Any, _record: Any) -> None:
    # A session time zone twelve hours ahead of UTC would move Sunday 23:30 UTC into Monday if
    # the day were taken in the session's zone rather than in UTC.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'Pacific/Auckland'")
    cursor.close()


async def test_edits_are_counted_per_category_and_utc_week(database_url: str) -> None:
    engine = create_engine(database_url)
    if not is_sqlite(database_url):
        event.listen(engine.sync_engine, "connect", _far_east)
    sessions = session_factory(engine)
    sunday_late = MONDAY - timedelta(minutes=30)
    # (category, state, decided, edit size or None, outcome)
    cases: list[tuple[str, str, datetime, float | None, str]] = [
        ("refunds", ItemState.EXECUTED, sunday_late, 0.5, DecisionOutcome.APPROVED),
        ("refunds", ItemState.EXECUTED, sunday_late, None, DecisionOutcome.APPROVED),
        ("refunds", ItemState.EXECUTED, MONDAY + timedelta(hours=1), 0.2, DecisionOutcome.APPROVED),
        ("refunds", ItemState.EXECUTED, MONDAY + timedelta(days=1), 0.4, DecisionOutcome.APPROVED),
        ("refunds", ItemState.FAILED, MONDAY + timedelta(days=2), None, DecisionOutcome.APPROVED),
        # Not human approvals: an auto-execution and a rejection are not counted as approved.
        ("refunds", ItemState.EXECUTED, MONDAY, None, DecisionOutcome.AUTO_APPROVED),
        ("refunds", ItemState.REJECTED, MONDAY, None, DecisionOutcome.REJECTED),
        ("billing", ItemState.EXECUTED, MONDAY + timedelta(days=3), None, DecisionOutcome.APPROVED),
        # Before the period.
        ("billing", ItemState.EXECUTED, MONDAY - timedelta(days=20), 1.0, DecisionOutcome.APPROVED),
    ]
    try:
        async with transaction(sessions) as session:
            for number, (category, state, decided, size, outcome) in enumerate(cases):
                item = stored_item(
                    f"itm_edits{number:04d}",
                    state,
                    created_at=decided - timedelta(hours=1),
                    updated_at=decided,
                    category=category,
                    decided_at=decided,
                    edited_by="U0EDITOR" if size is not None else None,
                    edit_size=size,
                )
                session.add(item)
                await session.flush()
                decision = Decision(
                    item_id=item.id,
                    outcome=outcome,
                    actor="U0REVIEWER",
                    created_at=decided,
                    reason_code="wrong_tone" if outcome == DecisionOutcome.REJECTED else None,
                )
                session.add(decision)
                await session.flush()
                item.decision_id = decision.id
        rebuild_tallies(database_url)
        table = await edit_stats(sessions, since=MONDAY - timedelta(days=7))
        reasons = await reject_reasons(sessions, since=MONDAY - timedelta(days=7))
    finally:
        await engine.dispose()

    assert set(table) == {"refunds", "billing"}
    assert set(table["refunds"]) == {"2026-W47", "2026-W48"}
    sunday, week = table["refunds"]["2026-W47"], table["refunds"]["2026-W48"]
    assert (sunday.approved, sunday.edited, sunday.rate, sunday.mean_size) == (2, 1, 0.5, 0.5)
    assert (week.approved, week.edited) == (3, 2)
    assert math.isclose(week.mean_size, 0.3)
    billing = table["billing"]["2026-W48"]
    assert (billing.approved, billing.edited, billing.mean_size) == (1, 0, 0.0)
    assert {category: dict(counts) for category, counts in reasons.items()} == {
        "refunds": {"wrong_tone": 1}
    }


def test_the_migration_sizes_the_edits_approved_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url, "0007")
    decided = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    earlier = decided - timedelta(hours=1)
    refund: dict[str, Any] = {
        "created_at": earlier,
        "updated_at": decided,
        "decided_at": decided,
        "category": "refunds",
    }
    rewritten = stored_item(
        "itm_edits0001",
        ItemState.EXECUTED,
        **refund,
        edited_by="U0EDITOR",  # edited and approved before sizes were stored
        ai_reply="We will refund you today.",
        draft_reply="Zebra quantum marmalade trombone",
        approved_reply="Zebra quantum marmalade trombone",
    )
    unchanged = stored_item(
        "itm_edits0002",
        ItemState.EXECUTED,
        **refund,
        draft_reply="Hello there.",
        approved_reply="Hello there.",
    )
    waiting = stored_item(
        "itm_edits0003",
        ItemState.PENDING_REVIEW,
        **refund,
        edited_by="U0EDITOR",  # edited, not approved yet: sized when approved
        ai_reply="a b",
        draft_reply="a c",
    )
    insert_at_schema(url, [rewritten, unchanged, waiting])
    engine = sa.create_engine(sync_url(url))
    try:
        migrate(url, "0008")
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT id, edit_size FROM item")).all()
        sizes = {row.id: row.edit_size for row in found}
    finally:
        engine.dispose()
    assert sizes == {"itm_edits0001": 1.0, "itm_edits0002": None, "itm_edits0003": None}
    assert edit_size("We will refund you today.", "Zebra quantum marmalade trombone") == 1.0
