"""Reminders, escalations and expiries with two ``python -m bot work`` processes sweeping the same
PostgreSQL on the real clock: every follow-up is sent once (the in-process two-instance test in
``test_follow_up.py`` covers the controllable clock; this one covers real processes)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import sync_url
from bot.store.item_states import ItemState
from bot.store.models import AuditEvent, Item
from tests.conftest import TEST_DATABASE_URL
from tests.support.approved_items import seed_pending
from tests.support.fakes.slack_api import FakeSlack, SlackCall
from tests.support.server_harness import BOT_TOKEN, LEAD, REVIEW_CHANNEL, REVIEWER, wait_until
from tests.support.worker_processes import logs, worker_env, workers

DUE = 20  # items with a reminder and an escalation due
EXPIRING = 10  # items past their expiry
SWEEP = 0.2

pytestmark = [
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _audit(db: Engine) -> Counter[tuple[str | None, str]]:
    with db.connect() as connection:
        rows = connection.execute(select(col(AuditEvent.item_id), col(AuditEvent.event))).all()
    return Counter((item_id, event) for item_id, event in rows)


def _states(db: Engine) -> Counter[str]:
    with db.connect() as connection:
        return Counter(connection.execute(select(col(Item.state))).scalars())


def _thread_lines(slack: FakeSlack, marker: str) -> Counter[str]:
    return Counter(
        str(c.params.get("thread_ts"))
        for c in slack.calls("chat.postMessage")
        if not c.failed and c.params.get("thread_ts") and marker in str(c.params.get("text"))
    )


def _direct_messages(slack: FakeSlack) -> list[SlackCall]:
    return [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "D" + LEAD]


def test_two_processes_send_each_follow_up_once(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    now = utcnow()
    db = create_engine(sync_url(database_url))
    try:
        due = seed_pending(
            db,
            DUE,
            review_started_at=now - timedelta(hours=3),
            next_reminder_at=now - timedelta(hours=2),
            escalate_at=now - timedelta(hours=1),
            expires_at=now + timedelta(hours=21),
        )
        expiring = seed_pending(
            db,
            EXPIRING,
            review_started_at=now - timedelta(hours=25),
            reminders_sent=1,
            escalate_at=now - timedelta(hours=23),
            escalated_at=now - timedelta(hours=23),
            expires_at=now - timedelta(hours=1),
        )
        env = worker_env(
            database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL=slack.api_url,
            SIGNOFF_REVIEW_CHANNEL=REVIEW_CHANNEL,
            SIGNOFF_REVIEWERS=REVIEWER,
            SIGNOFF_LEADS=LEAD,
            SIGNOFF_REMINDERS="0.5",
            SIGNOFF_ESCALATE_AFTER="2h",
            SIGNOFF_EXPIRE_AFTER="24h",
            SIGNOFF_SWEEP_INTERVAL=str(SWEEP),
            SIGNOFF_SLACK_POSTS_PER_SECOND="50",  # Slack's pace (1/s) would only make this slow
        )
        with workers(2, env, tmp_path) as running:

            def all_sent() -> bool:
                dms = [
                    c for c in slack.calls("chat.postMessage") if c.params["channel"] == "D" + LEAD
                ]
                return (
                    len(_thread_lines(slack, ":alarm_clock:")) == DUE
                    and len(_thread_lines(slack, "Escalated")) == DUE
                    and len(dms) >= DUE
                    and _states(db)[ItemState.EXPIRED] == EXPIRING
                ) or any(p.poll() is not None for p in running)

            wait_until(all_sent, timeout=30, what="every follow-up sent")
            assert all(p.poll() is None for p in running), logs(tmp_path)
            # Duplicates from a lost race would land in the same sweep; give both processes a few
            # more sweeps to show none is pending, then stop them.
            time.sleep(5 * SWEEP)
        audit = _audit(db)
    finally:
        db.dispose()

    by_ts = {f"1700000000.{n:06d}" for n in range(DUE)}
    assert _thread_lines(slack, ":alarm_clock:") == dict.fromkeys(by_ts, 1)
    assert _thread_lines(slack, "Escalated") == dict.fromkeys(by_ts, 1)
    dms = _direct_messages(slack)
    assert sorted(c.params["text"].split("`")[1] for c in dms) == sorted(due)
    for item_id in due:
        assert audit[(item_id, "reminder_sent")] == 1
        assert audit[(item_id, "escalated")] == 1
    for item_id in expiring:
        assert audit[(item_id, "expired")] == 1
        assert audit[(item_id, "reminder_sent")] == audit[(item_id, "escalated")] == 0
