"""Seeding many already-approved (or already-carded) items straight into the database.

The race tests are about execution: what matters is that N approved items, each with its
decision and idempotency key minted together (as the route step and a reviewer's click leave
them), are executed exactly once by competing workers. Going through assessment for 2,000 tickets
would only make the tests slow without testing anything more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlmodel import col

from bot.actions.authorise import idempotency_key
from bot.store.column_types import utcnow
from bot.store.ingest import new_item_id
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import AuditEvent, Decision, Item

SEED_POLICY = "test_seed"


def _rows(ids: list[str], state: ItemState, start: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": item_id,
            "source": "generic",
            "external_id": f"T-{item_id}",
            "kind": "ticket",
            "subject": f"Question {n}",
            "body": "How do I export my invoices?",
            "customer_name": "Sam Park",
            "customer_email": "sam@example.org",
            "extra": {},
            "reasons": [],
            "approvals": [],
            "state": state,
            "risk_level": "high",
            "draft_reply": "Settings → Billing → Export.",
            "proposed_action": {"kind": "reply"},
            "created_at": start + timedelta(microseconds=n),
            "updated_at": start,
        }
        for n, item_id in enumerate(ids)
    ]


def seed_pending(db: Engine, count: int, **values: Any) -> list[str]:
    """Insert ``count`` items waiting for review whose cards are posted (``slack_ts`` set), with
    the follow-up columns given in ``values``; returns their ids, oldest first."""
    ids = [new_item_id() for _ in range(count)]
    rows = _rows(ids, ItemState.PENDING_REVIEW, utcnow())
    for n, row in enumerate(rows):
        row.update({"slack_channel": "C0REVIEW", "slack_ts": f"1700000000.{n:06d}", **values})
    with db.begin() as connection:
        connection.execute(insert(Item), rows)
    return ids


def seed_approved(db: Engine, count: int, *, state: ItemState = ItemState.APPROVED) -> list[str]:
    """Insert ``count`` auto-approved reply items; returns their ids, oldest first."""
    start = utcnow()
    ids = [new_item_id() for _ in range(count)]
    with db.begin() as connection:
        connection.execute(insert(Item), _rows(ids, ItemState.RECEIVED, start))
        connection.execute(
            insert(Decision),
            [
                {
                    "item_id": item_id,
                    "outcome": DecisionOutcome.AUTO_APPROVED,
                    "actor": "auto",
                    "policy": SEED_POLICY,
                    "created_at": start,
                }
                for item_id in ids
            ],
        )
        decisions: dict[str, int] = {
            item_id: int(decision_id or 0)
            for item_id, decision_id in connection.execute(
                select(col(Decision.item_id), col(Decision.id))
            ).tuples()
        }
        for item_id in ids:
            connection.execute(
                Item.__table__.update()  # type: ignore[attr-defined]
                .where(Item.__table__.c.id == item_id)  # type: ignore[attr-defined]
                .values(
                    state=state,
                    decision_id=decisions[item_id],
                    decided_at=start,
                    idempotency_key=idempotency_key(item_id, decisions[item_id]),
                )
            )
    return ids


def item_events(db: Engine, item_id: str) -> list[str]:
    """The audit events of one item, oldest first (what the race tests assert on)."""
    with db.connect() as connection:
        return list(
            connection.execute(
                select(col(AuditEvent.event))
                .where(col(AuditEvent.item_id) == item_id)
                .order_by(col(AuditEvent.id))
            ).scalars()
        )
