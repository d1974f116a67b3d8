"""An erasure racing approvals of the same customer's items, on two instances sharing one
PostgreSQL database: every item ends executed-then-erased (sent with its real content before the
erasure reached it) or erased-and-never-sent. Nothing is ever sent after its content was erased.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from bot.slack.card import APPROVE_ACTION
from tests.conftest import TEST_DATABASE_URL
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    WEBHOOK_SECRET,
    RunningServer,
    start_server,
    wait_until,
)
from tests.support.signatures import generic_headers
from tests.support.slack_review import carded
from tests.support.ticket_factory import refund_ticket

pytestmark = [
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]
EMAIL = "race.customer@example.net"
ITEMS = 8


def _erase(server: RunningServer) -> dict[str, Any]:
    body = json.dumps({"customer_email": EMAIL, "requested_by": "zendesk"}).encode()
    headers = {"Content-Type": "application/json", **generic_headers(WEBHOOK_SECRET, body)}
    response = server.http.post(
        f"{server.url}/webhooks/erasure", content=body, headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_erasure_racing_approvals_never_sends_erased_content(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    settings: dict[str, Any] = {"database_url": database_url, "slack": slack, "sink": sink}
    with start_server(**settings) as first, start_server(**settings) as second:
        customer = {"name": "Rae Sing", "email": EMAIL}
        items = [
            carded(
                first,
                refund_ticket("480.00", id=f"T-race-{uuid.uuid4().hex[:8]}", customer=customer),
            )
            for _ in range(ITEMS)
        ]
        answers: list[dict[str, Any]] = []
        clicks = [
            threading.Thread(target=first.click, args=(APPROVE_ACTION, item_id))
            for item_id in items
        ]
        eraser = threading.Thread(target=lambda: answers.append(_erase(second)))
        early, late = clicks[: ITEMS // 2], clicks[ITEMS // 2 :]
        for thread in early:
            thread.start()
        # The erasure arrives on the other instance as the first approvals are carried out,
        # together with the other half of the approvals.
        wait_until(lambda: sink.requests, what="a first execution")
        eraser.start()
        for thread in late:
            thread.start()
        for thread in [*clicks, eraser]:
            thread.join(timeout=60)

        def settled() -> bool:
            return all(
                first.item(i).state not in {"pending_review", "approved", "executing"}
                for i in items
            )

        wait_until(settled, timeout=60, what="every item settled")
        if answers and answers[0]["busy"]:
            _erase(second)  # what the answer asks for: the items that were sending
        sent = {request.json()["item_id"]: request.json() for request in sink.requests}
        for item_id in items:
            item = first.item(item_id)
            assert item.erased_at is not None, item_id
            if item.state == "executed":
                assert item_id in sent  # executed, then erased
                assert "[erased]" not in json.dumps(sent[item_id])
            else:
                assert item.state == "erased", (item_id, item.state)
                assert item_id not in sent  # erased, never executed
        assert answers and answers[0]["items"] + len(answers[0]["busy"]) == ITEMS
