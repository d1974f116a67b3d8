"""The walking skeleton end to end, over real sockets: signed webhook → card in the fake Slack →
signed click → one signed POST at the action sink → card updated → audit trail."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.card import (
    APPROVE_ACTION,
    CHANGES_ACTION,
    EDIT_ACTION,
    REJECT_ACTION,
    REVEAL_ACTION,
)
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack, SlackCall
from tests.support.server_harness import (
    ACTION_SECRET,
    LEAD,
    OUTSIDER,
    REVIEW_CHANNEL,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
    start_server,
    wait_until,
)
from tests.support.signatures import generic_signature
from tests.support.slack_payloads import input_values, select_value, submit_view
from tests.support.slack_review import carded, submit
from tests.support.ticket_factory import password_ticket, refund_ticket


def _card(server: RunningServer, ticket: dict[str, Any]) -> tuple[str, SlackCall]:
    """Submit ``ticket`` and wait for its card: (item id, the one message that posted it)."""
    assert server.slack is not None
    item_id = carded(server, ticket)
    posts = [c for c in server.slack.calls("chat.postMessage") if item_id in json.dumps(c.params)]
    assert len(posts) == 1
    return item_id, posts[0]


def _actions_block(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b.get("type") == "actions"]


def test_high_risk_ticket_is_carded_approved_and_executed_once(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    ticket = refund_ticket("480.00")
    item_id, card = _card(server, ticket)
    assert card.params["channel"] == REVIEW_CHANNEL
    assert card.token == "xoxb-test-token-1234"
    blocks: list[dict[str, Any]] = card.params["blocks"]
    Block.parse_all(blocks)  # raises on any Block Kit limit the card breaks
    rendered = json.dumps(blocks)
    for expected in ("Maria Lopez", "refund 480.00 USD", "HIGH", "Drafted reply", "heuristic"):
        assert expected in rendered
    buttons = _actions_block(blocks)[0]["elements"]
    assert [b["action_id"] for b in buttons] == [
        APPROVE_ACTION,
        EDIT_ACTION,
        CHANGES_ACTION,
        REJECT_ACTION,
        REVEAL_ACTION,
    ]
    assert buttons[0]["style"] == "primary"
    assert "480.00 USD" in buttons[0]["confirm"]["text"]["text"]
    assert buttons[3]["style"] == "danger"  # Reject asks through its modal (reason required)
    assert server.sink.requests == []  # nothing executes before a human decides

    response = server.click(APPROVE_ACTION, item_id, user=REVIEWER)
    assert response.status_code == 200

    item = server.wait_for_state(item_id, "executed")
    requests = server.sink.wait_for(1)
    assert len(requests) == 1
    sent = requests[0]
    body = sent.json()
    assert body["item_id"] == item_id
    assert body["ticket_id"] == ticket["id"]
    assert body["action"] == {"kind": "refund", "amount": "480.00", "currency": "USD"}
    assert body["approved_by"] == REVIEWER
    assert body["reply_text"] and "Maria" in body["reply_text"]
    assert sent.headers["idempotency-key"] == item.idempotency_key
    assert body["idempotency_key"] == item.idempotency_key  # inside the signed bytes
    timestamp = sent.headers["x-signoff-timestamp"]
    assert sent.headers["x-signoff-signature"] == generic_signature(
        ACTION_SECRET, timestamp, sent.body
    )

    def card_shows_executed() -> list[SlackCall]:
        assert server.slack is not None
        return [
            c
            for c in server.slack.calls("chat.update")
            if "executed" in json.dumps(c.params["blocks"])
        ]

    update = wait_until(card_shows_executed, what="card updated as executed")[-1]
    assert update.params["ts"] == item.slack_ts
    assert _actions_block(update.params["blocks"]) == []
    assert f"Approved* by <@{REVIEWER}>" in json.dumps(update.params["blocks"])

    assert server.audit_events(item_id) == [
        "received",
        "assessed",
        "sent_to_review",
        "card_posted",
        "approved",
        "execution_started",
        "execution_attempt",
        "executed",
    ]


def test_reject_with_reason_updates_card_and_executes_nothing(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id, _ = _card(server, refund_ticket("300.00"))

    server.click(REJECT_ACTION, item_id, user=LEAD)
    modal = server.slack.wait_for("views.open")[0]
    assert modal.params["trigger_id"]
    view = {**modal.params["view"], "id": "V1"}
    submit_view(
        server,
        view,
        user=LEAD,
        values={
            **select_value(REASON_BLOCK, "wrong_tone"),
            **input_values(**{DETAIL_BLOCK: "Too casual for a refund"}),
        },
    )
    server.wait_for_state(item_id, "rejected")
    update = server.slack.wait_for("chat.update")[-1]
    rendered = json.dumps(update.params["blocks"])
    assert "Rejected* by <@U0LEAD>" in rendered and "Wrong tone: Too casual" in rendered
    assert _actions_block(update.params["blocks"]) == []
    assert server.audit_events(item_id)[-1] == "rejected"
    # Give a wrongly scheduled execution every chance to happen before asserting it did not.
    server.post_ticket(password_ticket())
    server.sink.wait_for(1)
    assert all(r.json()["item_id"] != item_id for r in server.sink.requests)


def test_low_risk_ticket_is_auto_executed_without_a_card(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id = submit(server, password_ticket())
    item = server.wait_for_state(item_id, "executed")
    body = server.sink.wait_for(1)[0].json()
    assert body["approved_by"] == "auto"
    assert body["policy"] == "low_risk_auto" == item.route_policy
    assert body["action"]["kind"] == "reply"
    assert server.slack.calls("chat.postMessage") == []  # SIGNOFF_POST_AUTO is off by default
    assert server.audit_events(item_id) == [
        "received",
        "assessed",
        "auto_approved",
        "execution_started",
        "execution_attempt",
        "executed",
    ]


def test_auto_execution_posts_a_line_when_asked(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    with start_server(database_url=database_url, slack=slack, sink=sink, post_auto=True) as server:
        item_id = submit(server, password_ticket())
        server.wait_for_state(item_id, "executed")
        line = slack.wait_for("chat.postMessage")[0]
        assert line.params["channel"] == REVIEW_CHANNEL
        assert "Auto-executed" in line.params["text"] and item_id in line.params["text"]


def test_double_click_executes_once_and_tells_the_second_clicker(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id, _ = _card(server, refund_ticket("120.00"))

    server.click(APPROVE_ACTION, item_id, user=REVIEWER)
    server.click(APPROVE_ACTION, item_id, user=REVIEWER_2)
    executed = server.wait_for_state(item_id, "executed")
    # The two clicks' work may run side by side: whichever locked the item first approved it.
    (winner,) = executed.approvals
    (loser,) = {REVIEWER, REVIEWER_2} - {winner}
    ephemeral = server.slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral.params["user"] == loser
    assert f"Already approved by <@{winner}>" in ephemeral.params["text"]
    assert len(server.sink.wait_for(1)) == 1
    assert server.audit_events(item_id).count("approved") == 1


def test_racing_approvals_execute_exactly_once(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id, _ = _card(server, refund_ticket("250.00"))
    users = [REVIEWER, REVIEWER_2, LEAD] * 6
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        statuses = list(
            pool.map(lambda u: server.click(APPROVE_ACTION, item_id, user=u).status_code, users)
        )
    assert statuses == [200] * len(users)
    server.wait_for_state(item_id, "executed")
    server.slack.wait_for("chat.postEphemeral", count=len(users) - 1)
    keys = {r.headers["idempotency-key"] for r in server.sink.requests}
    assert len(server.sink.requests) == 1 and len(keys) == 1
    assert server.audit_events(item_id).count("approved") == 1


def test_outsider_cannot_approve(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id, _ = _card(server, refund_ticket("90.00"))

    server.click(APPROVE_ACTION, item_id, user=OUTSIDER)
    ephemeral = server.slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral.params["user"] == OUTSIDER
    assert "only reviewers and leads" in ephemeral.params["text"]
    assert server.item(item_id).state == "pending_review"
    assert "decision_refused" in server.audit_events(item_id)
    assert server.sink.requests == []
