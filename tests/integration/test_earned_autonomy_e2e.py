"""Earned autonomy end to end, over real sockets: a kind of work moves from review to
auto-execution after enough unchanged approvals, and back after a reject; spot checks after the
fact revoke too. Small settings (3 reviews, a low target) keep it quick; the rules themselves are
tested exhaustively in ``test_autonomy_policy``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.autonomy.spot_checks import SPOT_BAD_ACTION
from bot.review.edit_validation import REPLY_BLOCK, VALUE_BLOCK
from bot.slack.card import APPROVE_ACTION, EDIT_ACTION
from bot.slack.edit_modal import EDIT_CALLBACK
from bot.store.column_types import utcnow
from bot.store.models import AutonomyOutcome, Item
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack, SlackCall
from tests.support.server_harness import (
    LEAD,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
    start_server,
    wait_until,
)
from tests.support.slack_payloads import card_click, input_values, submit_view
from tests.support.slack_review import opened_view, reject_with_reason, submit
from tests.support.ticket_factory import ADDRESS_BUCKET, address_ticket, password_ticket

SMALL: dict[str, Any] = {
    "autonomy_min_reviews": 3,
    "autonomy_target": 0.4,  # three unchanged approvals in a row reach a 95% lower bound of 0.43
    "autonomy_sample": 0.0,
    "spot_check_share": 0.0,
}


@pytest.fixture
def server(database_url: str, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    """Signoff with the SMALL autonomy settings, so three approvals can earn a bucket autonomy."""
    with start_server(database_url=database_url, slack=slack, sink=sink, **SMALL) as running:
        yield running


def _card_blocks(server: RunningServer, item_id: str) -> str:
    assert server.slack is not None
    server.wait_for_state(item_id, "pending_review")
    wait_until(lambda: server.item(item_id).slack_ts, what="card posted")
    posts = [
        c
        for c in server.slack.calls("chat.postMessage")
        if item_id in json.dumps(c.params.get("blocks"))
    ]
    assert len(posts) == 1
    return json.dumps(posts[0].params["blocks"])


def _dms(slack: FakeSlack, user: str, containing: str) -> list[SlackCall]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if c.params.get("channel") == f"D{user}" and containing in c.params.get("text", "")
    ]


def test_a_bucket_earns_autonomy_and_loses_it_after_a_reject(
    server: RunningServer, slack: FakeSlack, sink: HttpSink
) -> None:
    # Shadow mode: four items of one kind go to review; the cards show the track record.
    first = [submit(server, address_ticket()) for _ in range(4)]
    for item_id in first:
        rendered = _card_blocks(server, item_id)
        assert "Signoff would have auto-approved this" in rendered
        item = server.item(item_id)
        assert item.autonomy_bucket == ADDRESS_BUCKET and item.autonomy_would_auto
        assert item.route_policy == "risk_threshold"

    # Three unchanged approvals earn the bucket its autonomy.
    for item_id in first[:3]:
        card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
        server.wait_for_state(item_id, "executed")
    trusted = submit(server, address_ticket())
    item = server.wait_for_state(trusted, "executed")
    assert item.route_policy == "earned_autonomy"
    assert "3 of 3 reviews approved unchanged" in (item.route_why or "")
    body = next(r.json() for r in sink.requests if r.json()["item_id"] == trusted)
    assert body["approved_by"] == "auto" and body["policy"] == "earned_autonomy"
    assert not [c for c in slack.calls("chat.postMessage") if trusted in json.dumps(c.params)]
    assert _dms(slack, LEAD, "has earned autonomy")
    assert "auto_approved" in server.audit_events(trusted)

    # One reject (of the fourth item, still waiting from before) revokes it at once, and
    # the leads are told without waiting for the next item.
    reject_with_reason(server, first[3], user=LEAD)
    wait_until(lambda: _dms(slack, LEAD, "Autonomy revoked"), what="leads told")
    after = submit(server, address_ticket())
    rendered = _card_blocks(server, after)
    item = server.item(after)
    assert item.route_policy == "risk_threshold"
    assert "0 of 0 recent reviews approved unchanged" in rendered
    revoked = _dms(slack, LEAD, "Autonomy revoked")
    assert len(revoked) == 1 and ADDRESS_BUCKET in revoked[0].params["text"]
    assert "a reject" in revoked[0].params["text"]


def test_an_expiry_is_not_a_reject(server: RunningServer, slack: FakeSlack) -> None:
    waiting = [submit(server, address_ticket()) for _ in range(4)]
    for item_id in waiting:
        _card_blocks(server, item_id)
    # Time passes for one item only: its review deadline is now in the past.
    with server.db.begin() as connection:
        connection.execute(
            update(Item)
            .where(col(Item.id) == waiting[3])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    server.wait_for_state(waiting[3], "expired")
    for item_id in waiting[:3]:
        card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    for item_id in waiting[:3]:
        server.wait_for_state(item_id, "executed")
    # The expired item counted for nothing: three unchanged approvals still earn trust.
    item = server.wait_for_state(submit(server, address_ticket()), "executed")
    assert item.route_policy == "earned_autonomy"
    assert not _dms(slack, LEAD, "Autonomy revoked")


def spot_click(
    server: RunningServer, action_id: str, item_id: str, message: SlackCall, *, user: str
) -> None:
    assert server.slack is not None
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C0REVIEW"},
        "trigger_id": "1111111111.2222222222.abcdef0123456789",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "channel": {"id": message.params["channel"], "name": "signoff-review"},
        "message": {
            "type": "message",
            "ts": "1.000100",
            "text": message.params["text"],
            "blocks": message.params["blocks"],
        },
        "state": {"values": {}},
        "response_url": server.slack.response_url(f"spot-{user}"),
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"spot:{item_id}",
                "value": item_id,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    response = server.post_slack({"payload": json.dumps(payload)})
    assert response.status_code == 200


def test_spot_check_thumbs_down_counts_as_a_reject(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    settings: dict[str, Any] = {**SMALL, "spot_check_share": 1.0}
    with start_server(database_url=database_url, slack=slack, sink=sink, **settings) as server:
        item_id = submit(server, password_ticket())
        server.wait_for_state(item_id, "executed")

        def posted() -> list[SlackCall]:
            return [
                c
                for c in slack.calls("chat.postMessage")
                if "Spot check" in c.params.get("text", "") and item_id in c.params["text"]
            ]

        message = wait_until(posted, what="spot check posted")[0]
        actions = next(b for b in message.params["blocks"] if b["type"] == "actions")
        buttons = actions["elements"]
        assert [b["action_id"] for b in buttons] == ["spot_check_ok", SPOT_BAD_ACTION]

        spot_click(server, SPOT_BAD_ACTION, item_id, message, user="U0OUTSIDER")
        refused = slack.wait_for("chat.postEphemeral")[0]
        assert "Only reviewers and leads" in refused.params["text"]

        spot_click(server, SPOT_BAD_ACTION, item_id, message, user=REVIEWER)
        update = slack.wait_for("chat.update")[-1]
        assert "Spot check answered" in update.params["text"]
        assert not [b for b in update.params["blocks"] if b["type"] == "actions"]
        wait_until(lambda: _dms(slack, LEAD, "Spot check 👎"), what="leads told")

        spot_click(server, "spot_check_ok", item_id, message, user=REVIEWER_2)
        second = slack.wait_for("chat.postEphemeral", count=2)[-1]
        assert "already answered" in second.params["text"]

        good_id = submit(server, password_ticket())
        server.wait_for_state(good_id, "executed")
        good = wait_until(
            lambda: [c for c in slack.calls("chat.postMessage") if good_id in c.params["text"]],
            what="second spot check posted",
        )[0]
        spot_click(server, "spot_check_ok", good_id, good, user=REVIEWER_2)
        wait_until(
            lambda: [c for c in slack.calls("chat.update") if "👍" in c.params["text"]],
            what="👍 shown",
        )
        with Session(server.db) as session:
            outcomes = session.execute(
                select(col(AutonomyOutcome.item_id), col(AutonomyOutcome.outcome)).where(
                    col(AutonomyOutcome.source) == "spot_check"
                )
            ).all()
        assert sorted(map(tuple, outcomes)) == sorted(
            [(item_id, "rejected"), (good_id, "approved_unchanged")]
        )


def test_a_material_edit_revokes_autonomy_at_once(server: RunningServer, slack: FakeSlack) -> None:
    waiting = [submit(server, address_ticket()) for _ in range(4)]
    for item_id in waiting:
        _card_blocks(server, item_id)
    for item_id in waiting[:3]:
        card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
        server.wait_for_state(item_id, "executed")
    trusted = server.wait_for_state(submit(server, address_ticket()), "executed")
    assert trusted.route_policy == "earned_autonomy"

    # The reviewer rewrites the fourth item's reply: approved after a material edit.
    assert server.slack is not None
    card_click(server, EDIT_ACTION, waiting[3], user=REVIEWER)
    view = opened_view(server.slack, EDIT_CALLBACK)
    submit_view(
        server,
        view,
        user=REVIEWER,
        values=input_values(
            **{
                REPLY_BLOCK: "Hello Ana, before we change anything we need to confirm the "
                "request from the email address on file; please reply to our message.",
                VALUE_BLOCK: "12 Oak Street, Springfield",
            }
        ),
    )
    server.wait_for_state(waiting[3], "executed")
    revoked = wait_until(lambda: _dms(slack, LEAD, "Autonomy revoked"), what="leads told")
    assert "a material edit" in revoked[0].params["text"]
    after = submit(server, address_ticket())
    assert server.wait_for_state(after, "pending_review").route_policy == "risk_threshold"
