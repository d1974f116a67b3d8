"""Items written straight into the database, for benchmarks that need many (not via the API).

A million items through the webhook would take longer than the whole benchmark budget; the
``item`` table is what ``/signoff pending`` and the worker read, so rows with the same columns
are what matters. PostgreSQL gets ``COPY``; small seeds use one multi-row INSERT per chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import create_engine, insert

from benchmarks.harness import REVIEW_CHANNEL
from bot.store.database import sync_url
from bot.store.models import Item
from bot.store.ticket_threads import thread_key

_JSON_COLUMNS = ("requested_action", "extra", "reasons", "proposed_action", "execution_result")
_START = datetime(2026, 1, 1, tzinfo=UTC)


def item_row(number: int, state: str, *, run: str = "seed") -> dict[str, Any]:
    """One item in ``state``; pending items already have their card posted (``slack_ts``) so the
    worker leaves them alone, as it would in a steady state."""
    created = _START + timedelta(seconds=number)
    row: dict[str, Any] = {
        "id": f"itm_{run}{number:012d}"[:32],
        "source": "generic",
        "external_id": f"SEED-{run}-{number}",
        "kind": "ticket",
        "subject": f"Refund for order {number}",
        "body": "I was charged twice for my annual plan. Please refund the second charge.",
        "customer_name": "Maria Lopez",
        "customer_email": "maria@example.com",
        "customer_tier": "pro",
        "requested_action": {"kind": "refund", "amount": "480.00", "currency": "USD"},
        "extra": {},
        "thread_key": thread_key("generic", {}, f"SEED-{run}-{number}"),
        "state": state,
        "classifier": "heuristic",
        "category": "billing",
        "sentiment": "neutral",
        "risk_level": "high",
        "risk_score": 0.8,
        "reasons": ["refund above the auto limit"],
        "draft_reply": "Hi Maria, we have refunded the duplicate charge.",
        "proposed_action": {"kind": "refund", "amount": "480.00", "currency": "USD"},
        "route_policy": "human_review",
        "route_why": "refund above the auto limit",
        "slack_channel": REVIEW_CHANNEL,
        "slack_ts": f"{1_700_000_000 + number}.000100",
        "attempts": 0,
        "reminders_sent": 0,
        "review_started_at": created,
        "created_at": created,
        "updated_at": created,
    }
    return row


def insert_items(url: str, rows: Iterable[dict[str, Any]], *, chunk: int = 500) -> int:
    """Multi-row INSERTs through SQLAlchemy (SQLite or PostgreSQL); returns how many."""
    engine = create_engine(sync_url(url))
    count = 0
    batch: list[dict[str, Any]] = []
    try:
        with engine.begin() as connection:
            for row in rows:
                batch.append(row)
                if len(batch) >= chunk:
                    connection.execute(insert(Item).values(batch))
                    count += len(batch)
                    batch = []
            if batch:
                connection.execute(insert(Item).values(batch))
                count += len(batch)
    finally:
        engine.dispose()
    return count


def _copy_values(row: dict[str, Any], columns: list[str]) -> Iterator[Any]:
    for column in columns:
        value = row.get(column)
        yield json.dumps(value) if column in _JSON_COLUMNS and value is not None else value


def copy_rows(url: str, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """``COPY <table> (...) FROM STDIN`` on PostgreSQL: the fast way to a million rows."""
    columns: list[str] | None = None
    count = 0
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        columns = list(first)
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.write_row(tuple(_copy_values(first, columns)))
            count = 1
            for row in iterator:
                copy.write_row(tuple(_copy_values(row, columns)))
                count += 1
    return count
