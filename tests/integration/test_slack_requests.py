"""Requests to ``/slack/events`` are verified the way Slack signs them, and commands answer."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.slack.card import APPROVE_ACTION
from tests.support.server_harness import (
    BOT_TOKEN,
    REVIEW_CHANNEL,
    REVIEWER,
    SIGNING_SECRET,
    RunningServer,
    block_actions,
    make_settings,
    slash_command,
)
from tests.support.signatures import slack_headers, slack_signature
from tests.support.ticket_factory import refund_ticket

# Slack's published known-answer vector ("Verifying requests from Slack").
KNOWN_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
KNOWN_TIMESTAMP = "1531420618"
KNOWN_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmib"
    b"IGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
KNOWN_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_our_test_signer_matches_slacks_known_answer() -> None:
    assert slack_signature(KNOWN_SECRET, KNOWN_TIMESTAMP, KNOWN_BODY) == KNOWN_SIGNATURE
    verifier = SignatureVerifier(
        KNOWN_SECRET, clock=type("C", (), {"now": lambda self: 1531420618.0})()
    )
    assert verifier.is_valid(KNOWN_BODY, KNOWN_TIMESTAMP, KNOWN_SIGNATURE)


def test_unsigned_and_wrongly_signed_slack_requests_are_401(server: RunningServer) -> None:
    body = urlencode(slash_command("pending", response_url="http://127.0.0.1:9/x")).encode()
    url = f"{server.url}/slack/events"
    assert server.http.post(url, content=body).status_code == 401
    wrong = slack_headers("another-secret", body)
    assert server.http.post(url, content=body, headers=wrong).status_code == 401
    stale = slack_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 600)
    assert server.http.post(url, content=body, headers=stale).status_code == 401


def test_forged_approve_click_changes_nothing(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id = server.post_ticket(refund_ticket("300.00")).json()["item_id"]
    item = server.wait_for_state(item_id, "pending_review")
    payload = {
        "payload": json.dumps(
            {
                "type": "block_actions",
                "user": {"id": "U0REVIEWER"},
                "actions": [{"action_id": APPROVE_ACTION, "value": item_id}],
                "channel": {"id": "C0REVIEW"},
            }
        )
    }
    body = urlencode(payload).encode()
    response = server.http.post(
        f"{server.url}/slack/events", content=body, headers=slack_headers("forged", body)
    )
    assert response.status_code == 401
    assert server.item(item_id).state == item.state == "pending_review"


def test_pending_command_lists_items_waiting_for_review(server: RunningServer) -> None:
    assert server.slack is not None
    item_id = server.post_ticket(refund_ticket("300.00")).json()["item_id"]
    server.wait_for_state(item_id, "pending_review")
    response_url = server.slack.response_url("pending")
    assert server.post_slack(slash_command("pending", response_url=response_url)).status_code == 200
    answer = server.slack.wait_for("response_url:pending")[0].params
    assert answer["response_type"] == "ephemeral"
    assert item_id in answer["text"] and "1 item(s) waiting" in answer["text"]


def test_unknown_subcommand_gets_help_not_a_traceback(server: RunningServer) -> None:
    assert server.slack is not None
    response_url = server.slack.response_url("unknown")
    server.post_slack(slash_command("frobnicate <!channel>", response_url=response_url))
    answer = server.slack.wait_for("response_url:unknown")[0].params
    assert "I don't know `frobnicate`" in answer["text"]
    assert "/signoff pending" in answer["text"]


async def test_socket_mode_without_a_signing_secret_refuses_http_slack_requests() -> None:
    """Over Socket Mode nothing on HTTP could be verified: a forged click would otherwise act as
    any reviewer. The endpoint answers 401 before Bolt sees the request."""
    from bot.entrypoints.server import create_app

    settings = make_settings(
        slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1-test", review_channel=REVIEW_CHANNEL
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://signoff") as client:
        payload = block_actions(
            action_id=APPROVE_ACTION,
            item_id="itm_x",
            user=REVIEWER,
            channel=REVIEW_CHANNEL,
            message_ts="1700000000.000100",
            response_url="http://127.0.0.1:9/response",
        )
        response = await client.post("/slack/events", data={"payload": json.dumps(payload)})
    assert response.status_code == 401
    assert "Socket Mode" in response.json()["error"]
