"""Two ``python -m bot work`` processes route small refunds at the same moment, on PostgreSQL and
on one SQLite file: the budgets hold exactly. Each process checks the sums and reserves in the
transaction that auto-approves, under the budget's lock, so neither can spend what the other
just did.

Seeded: 10 assessed $15 refunds for one customer and 10 for ten others, each the source's own
structured request and low risk, so only the budgets stand between them and execution. With
50 per customer and 100 per day, exactly six can run: three for the first customer at most, and
90.00 in all.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import sync_url
from bot.store.ingest import new_item_id
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import AutoMoneyReservation, Decision, Item
from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import ACTION_SECRET, WEBHOOK_SECRET, wait_until
from tests.support.worker_processes import logs, worker_env, workers

REFUND = {"kind": "refund", "amount": "15.00", "currency": "USD"}
SAME_CUSTOMER = 10
OTHERS = 10


def _seed(db: Engine) -> list[str]:
    start = utcnow()
    emails = ["dana@example.com"] * SAME_CUSTOMER + [f"c{n}@example.com" for n in range(OTHERS)]
    rows: list[dict[str, Any]] = []
    for n, email in enumerate(emails):
        item_id = new_item_id()
        rows.append(
            {
                "id": item_id,
                "source": "generic",
                "external_id": f"T-{item_id}",
                "kind": "ticket",
                "subject": "Shipping refund",
                "body": "Refund of the shipping fee for order 88, 15.00 USD, as agreed.",
                "customer_name": "Dana Reyes",
                "customer_email": email,
                "requested_action": REFUND,
                "extra": {},
                "reasons": [],
                "approvals": [],
                "state": ItemState.ASSESSED,
                "classifier": "heuristic",
                "category": "refund",
                "sentiment": "neutral",
                "risk_level": "low",
                "draft_reply": "We've issued a refund of 15.00 USD.",
                "proposed_action": REFUND,
                "created_at": start + timedelta(microseconds=n),
                "updated_at": start,
            }
        )
    with db.begin() as connection:
        connection.execute(insert(Item), rows)
    return [row["id"] for row in rows]


def _routed(db: Engine) -> int:
    with db.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(Item)
                .where(col(Item.state).in_([ItemState.EXECUTED, ItemState.PENDING_REVIEW]))
            ).scalar_one()
        )


def test_two_processes_never_spend_more_than_the_budgets(database_url: str, tmp_path: Path) -> None:
    db = create_engine(sync_url(database_url))
    try:
        ids = _seed(db)
        with HttpSink(idempotent=True) as sink:
            env = worker_env(
                database_url,
                SIGNOFF_ACTION_URL=sink.url,
                SIGNOFF_ACTION_SECRET=ACTION_SECRET,
                SIGNOFF_WEBHOOK_SECRET=WEBHOOK_SECRET,
                SIGNOFF_AUTO_MONEY_PER_CUSTOMER="50",
                SIGNOFF_AUTO_MONEY_PER_DAY="100",
                # Small batches, so both processes route items at the same time.
                SIGNOFF_WORKER_CONCURRENCY="2",
            )
            with workers(2, env, tmp_path) as running:
                wait_until(
                    lambda: _routed(db) == len(ids) or any(p.poll() is not None for p in running),
                    timeout=120,
                    what="every seeded refund routed by two processes",
                )
                assert all(p.poll() is None for p in running), logs(tmp_path)
        with db.connect() as connection:
            items = connection.execute(
                select(col(Item.customer_email), col(Item.state), col(Item.route_policy))
            ).all()
            reservations = connection.execute(select(AutoMoneyReservation)).all()
            auto = connection.execute(
                select(func.count())
                .select_from(Decision)
                .where(col(Decision.outcome) == DecisionOutcome.AUTO_APPROVED)
            ).scalar_one()
    finally:
        db.dispose()
    executed = Counter(email for email, state, _ in items if state == ItemState.EXECUTED)
    assert auto == 6, logs(tmp_path)
    assert sum(executed.values()) == 6
    assert executed["dana@example.com"] <= 3
    assert sum(row.amount_cents for row in reservations) == 9000
    held = [policy for _, state, policy in items if state == ItemState.PENDING_REVIEW]
    assert held == ["money_budget"] * (len(ids) - 6)
    # Each executed refund reached the far side once.
    assert len(sink.requests) == 6
