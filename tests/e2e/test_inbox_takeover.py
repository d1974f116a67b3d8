"""An acknowledged interaction is applied once, even if the instance that acknowledged it dies.

Instance A (``python -m bot serve``) receives signed clicks, modal submissions and ``/signoff``
commands and answers each 200; right after the last answer it is SIGKILLed, with most of that
work not yet applied. Instance B (a second ``serve`` on PostgreSQL, a ``work`` process on the
same SQLite file) takes the rows over when their lease runs out and applies every one exactly
once: approvals counted once and in the order received, every approved action executed once with
its key, each rejection and edit recorded once, each command answered. A Slack retry of a click
A already recorded is answered 200 and recorded once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.review.edit_validation import REPLY_BLOCK
from bot.slack.card import APPROVE_ACTION
from bot.slack.edit_modal import edit_view
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK, reject_view
from bot.store.database import sync_url
from bot.store.models import AuditEvent, InboxEntry, Item
from tests.conftest import TEST_DATABASE_URL
from tests.support.approved_items import seed_pending
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    ACTION_SECRET,
    BOT_TOKEN,
    LEAD,
    REVIEW_CHANNEL,
    REVIEWER,
    REVIEWER_2,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    block_actions,
    free_port,
    slash_command,
    wait_until,
)
from tests.support.signatures import slack_headers
from tests.support.slack_payloads import input_values, select_value, view_submission
from tests.support.worker_processes import logs, start_worker, stop, worker_env

# Items per kind of interaction; SIGNOFF_INBOX_ITEMS raises it.
PER_KIND = int(os.environ.get("SIGNOFF_INBOX_ITEMS", "4"))
LEASE_SECONDS = "2"
REFUND = {"kind": "refund", "amount": "900.00", "currency": "USD"}


def _env(database_url: str, slack: FakeSlack, sink: HttpSink, port: int) -> dict[str, str]:
    return worker_env(
        database_url,
        LOG_LEVEL="INFO",
        HOST="127.0.0.1",
        PORT=str(port),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        SIGNOFF_REVIEW_CHANNEL=REVIEW_CHANNEL,
        SIGNOFF_REVIEWERS=f"{REVIEWER},{REVIEWER_2}",
        SIGNOFF_LEADS=LEAD,
        SIGNOFF_ACTION_URL=sink.url,
        SIGNOFF_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SIGNOFF_ACTION_SECRET=ACTION_SECRET,
        SIGNOFF_LEASE_SECONDS=LEASE_SECONDS,
        SIGNOFF_SPOT_CHECK_SHARE="0",
    )


def _serving(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError("the server exited before it served")
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def _item(db: Engine, item_id: str) -> Item:
    with Session(db) as session:
        item = session.get(Item, item_id)
        assert item is not None
        session.expunge(item)
        return item


def _click(item: Item, user: str) -> bytes:
    payload = block_actions(
        action_id=APPROVE_ACTION,
        item_id=item.id,
        user=user,
        channel=REVIEW_CHANNEL,
        message_ts=str(item.slack_ts),
        response_url="http://127.0.0.1:9/unused",
    )
    payload["actions"][0]["value"] = f"{item.id}:{item.draft_version}"
    return urlencode({"payload": json.dumps(payload)}).encode()


def _reject(item: Item, user: str) -> bytes:
    view = {**reject_view(item, channel=REVIEW_CHANNEL), "id": f"VR{item.id[-8:]}"}
    values = {
        **select_value(REASON_BLOCK, "wrong_facts"),
        **input_values(**{DETAIL_BLOCK: f"rejected by {user}"}),
    }
    payload = view_submission(view=view, user=user, values=values)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _edit(item: Item, user: str) -> bytes:
    view = {**edit_view(item, channel=REVIEW_CHANNEL), "id": f"VE{item.id[-8:]}"}
    values = input_values(**{REPLY_BLOCK: f"Edited by {user} for {item.id}."})
    payload = view_submission(view=view, user=user, values=values)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _command(slack: FakeSlack, n: int) -> bytes:
    form = slash_command("pending", user=REVIEWER, response_url=slack.response_url(f"cmd-{n}"))
    return urlencode(form).encode()


def _send(url: str, body: bytes, *, retry: int = 0) -> httpx.Response:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **slack_headers(SIGNING_SECRET, body),
    }
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=10)


def _send_all(url: str, bodies: list[bytes]) -> list[int]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r.status_code for r in pool.map(lambda body: _send(url, body), bodies)]


def _events(db: Engine) -> list[tuple[str | None, str, str]]:
    with db.connect() as connection:
        rows = connection.execute(
            select(col(AuditEvent.item_id), col(AuditEvent.event), col(AuditEvent.actor)).order_by(
                col(AuditEvent.id)
            )
        )
        return [(item_id, event, actor) for item_id, event, actor in rows]


def _inbox(db: Engine) -> list[InboxEntry]:
    with Session(db) as session:
        rows = list(session.execute(select(InboxEntry)).scalars())
        for row in rows:
            session.expunge(row)
        return rows


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL"),
        ),
    ],
    indirect=True,
)
def test_interactions_acked_by_a_killed_instance_are_applied_once_by_another(
    database_url: str, tmp_path: Path
) -> None:
    # PostgreSQL: two web instances, as deployed behind a load balancer; SQLite: a worker
    # process on the same file.
    successor = "serve" if database_url.startswith("postgresql") else "work"
    db = create_engine(sync_url(database_url))
    try:
        singles = seed_pending(db, PER_KIND)
        quorum = seed_pending(db, PER_KIND, proposed_action=REFUND)
        rejects = seed_pending(db, PER_KIND)
        edits = seed_pending(db, PER_KIND)
        items = {item_id: _item(db, item_id) for item_id in singles + quorum + rejects + edits}
        with FakeSlack() as slack, HttpSink(idempotent=True) as sink:
            port_a = free_port()
            url_a = f"http://127.0.0.1:{port_a}"
            first = start_worker(
                _env(database_url, slack, sink, port_a), tmp_path, "a", command="serve"
            )
            second: subprocess.Popen[bytes] | None = None
            try:
                wait_until(lambda: _serving(url_a, first), timeout=60, what="instance A")
                wave = [_click(items[i], REVIEWER) for i in singles + quorum]
                wave += [_reject(items[i], REVIEWER_2) for i in rejects]
                wave += [_edit(items[i], REVIEWER) for i in edits]
                wave += [_command(slack, n) for n in range(PER_KIND)]
                # The second approvals of the refunds above the quorum come after the first.
                seconds = [_click(items[i], REVIEWER_2) for i in quorum]
                assert _send_all(url_a, wave) == [200] * len(wave)
                retried = _send(url_a, wave[0], retry=1)  # Slack's retry of the first click
                assert _send_all(url_a, seconds) == [200] * len(seconds)
                first.send_signal(signal.SIGKILL)
                assert first.wait(timeout=10) == -signal.SIGKILL
                assert retried.status_code == 200
                interactions = len(wave) + len(seconds)
                left = [row for row in _inbox(db) if row.done_at is None]

                port_b = free_port()
                second = start_worker(
                    _env(database_url, slack, sink, port_b), tmp_path, "b", command=successor
                )
                approved = singles + quorum + edits

                def finished() -> bool:
                    assert second is not None and second.poll() is None, logs(tmp_path)
                    rows = _inbox(db)
                    executed = all(_item(db, i).state == "executed" for i in approved)
                    answered = sum(
                        1 for c in slack.calls() if c.method.startswith("response_url:cmd-")
                    )
                    return (
                        len(rows) == interactions
                        and all(row.done_at is not None for row in rows)
                        and executed
                        and answered >= PER_KIND
                    )

                wait_until(finished, timeout=90, what="instance B to apply every interaction")
            finally:
                stop(first)
                if second is not None:
                    stop(second)
            effects = sink.effects
            answers = Counter(
                c.method for c in slack.calls() if c.method.startswith("response_url:cmd-")
            )
        events = _events(db)
        rows = _inbox(db)
        final = {item_id: _item(db, item_id) for item_id in items}
    finally:
        db.dispose()

    # B had work to take over: A was killed with interactions acknowledged but not applied.
    assert left, "instance A finished everything before it was killed; nothing was taken over"
    assert "interaction taken over" in (tmp_path / "b.log").read_text(), logs(tmp_path)
    # Every interaction recorded once (the retry included) and done.
    assert len(rows) == interactions and len({row.retry_key for row in rows}) == interactions
    assert {row.outcome for row in rows} <= {"done", "recorded", "waiting", "already_decided"}

    def of(item_id: str, event: str) -> list[str]:
        return [actor for i, e, actor in events if i == item_id and e == event]

    for item_id in singles:
        assert of(item_id, "approved") == [REVIEWER]
        assert final[item_id].approvals == [REVIEWER]
    for item_id in quorum:
        # Applied in the order received: the first approval waits, the second approves.
        assert of(item_id, "approval_recorded") == [REVIEWER]
        assert of(item_id, "approved") == [REVIEWER_2]
        assert final[item_id].approvals == [REVIEWER, REVIEWER_2]
    for item_id in rejects:
        assert of(item_id, "rejected") == [REVIEWER_2]
        assert final[item_id].state == "rejected"
    for item_id in edits:
        assert of(item_id, "edited") == [REVIEWER]
        assert of(item_id, "approved") == [REVIEWER]
        assert final[item_id].approved_reply == f"Edited by {REVIEWER} for {item_id}."
    # Every approved action executed once, with its key.
    keys = {final[i].idempotency_key for i in singles + quorum + edits}
    assert None not in keys and effects == dict.fromkeys(keys, 1)
    assert set(answers) == {f"response_url:cmd-{n}" for n in range(PER_KIND)}


def test_sigterm_right_after_the_acks_exits_in_time_and_leaves_nothing_held(
    database_url: str, tmp_path: Path
) -> None:
    """Graceful shutdown: stops taking work, applies or hands back every acked interaction
    (nothing stays leased to the leaving instance), and exits within 25 s."""
    db = create_engine(sync_url(database_url))
    try:
        ids = seed_pending(db, 3 * PER_KIND)
        items = [_item(db, item_id) for item_id in ids]
        with FakeSlack() as slack, HttpSink(idempotent=True) as sink:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            server = start_worker(
                _env(database_url, slack, sink, port), tmp_path, "a", command="serve"
            )
            try:
                wait_until(lambda: _serving(url, server), timeout=60, what="the server")
                bodies = [_click(item, REVIEWER) for item in items]
                assert _send_all(url, bodies) == [200] * len(bodies)
                server.send_signal(signal.SIGTERM)
                started = time.monotonic()
                code = server.wait(timeout=40)
                took = time.monotonic() - started
            finally:
                stop(server)
        rows = _inbox(db)
    finally:
        db.dispose()
    assert code in (0, -signal.SIGTERM), logs(tmp_path)  # uvicorn re-raises the signal it took
    assert took < 25
    assert len(rows) == len(items)
    assert all(row.done_at is not None or row.claimed_by is None for row in rows)
