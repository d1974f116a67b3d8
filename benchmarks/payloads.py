"""Request bodies shaped like what Slack and ticket senders really send."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from benchmarks.harness import REVIEW_CHANNEL, REVIEWER
from benchmarks.loadgen import Request
from bot.slack.card import APPROVE_ACTION

FORM = "application/x-www-form-urlencoded"


def code_word(number: int) -> str:
    """``number`` spelled in letters: makes each ticket's text unique (so no cache answers it)
    without digits that PII redaction would replace by the same placeholder."""
    letters = ""
    while True:
        number, digit = divmod(number, 26)
        letters = chr(ord("a") + digit) + letters
        if number == 0:
            return letters


def ticket(number: int, run: str, *, high_risk: bool = False) -> dict[str, Any]:
    """A routine question, or (``high_risk``) a refund well above the auto limit. The text is
    unique per ticket and run, as real tickets are."""
    unique = f" (Reference word: {code_word(number)} {run}.)"
    body: dict[str, Any] = {
        "id": f"BENCH-{run}-{number}",
        "kind": "ticket",
        "subject": f"Question about my invoice #{number}",
        "body": (
            "Hello, could you tell me when my next invoice is due and whether I can change the "
            "billing day? Thanks a lot." + unique
        ),
        "customer": {"name": "Maria Lopez", "email": "maria@example.com", "tier": "pro"},
        "metadata": {"bench": True},
    }
    if high_risk:
        body["subject"] = f"Refund for order {number}"
        body["body"] = (
            "I was charged twice for my annual plan. Please refund the second charge." + unique
        )
        body["requested_action"] = {"kind": "refund", "amount": "480.00", "currency": "USD"}
    return body


def ticket_request(number: int, run: str, *, high_risk: bool = False) -> Request:
    body = json.dumps(ticket(number, run, high_risk=high_risk)).encode()
    return Request("/webhooks/generic", body, "application/json", "generic", "ticket")


def approve_request(item_id: str, response_url: str) -> Request:
    """A signed ``block_actions`` click on Approve, as Slack posts it."""
    payload = {
        "type": "block_actions",
        "user": {"id": REVIEWER, "username": "reviewer", "name": "reviewer", "team_id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": REVIEW_CHANNEL,
            "is_ephemeral": False,
        },
        "trigger_id": "1111111111.2222222222.abcdef0123456789",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "channel": {"id": REVIEW_CHANNEL, "name": "signoff-review"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "card"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": APPROVE_ACTION,
                "block_id": f"review:{item_id}",
                "value": item_id,
                "type": "button",
                "text": {"type": "plain_text", "text": "Approve"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return Request("/slack/events", body, FORM, "slack", "approve")


def command_request(text: str, response_url: str, tag: str) -> Request:
    """A signed ``/signoff <text>`` slash command."""
    form = {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "team_domain": "fake",
        "channel_id": REVIEW_CHANNEL,
        "channel_name": "signoff-review",
        "user_id": REVIEWER,
        "user_name": "reviewer",
        "command": "/signoff",
        "text": text,
        "api_app_id": "A0SIGNOFF",
        "response_url": response_url,
        "trigger_id": "1111111111.2222222222.abcdef0123456789",
    }
    return Request("/slack/events", urlencode(form).encode(), FORM, "slack", tag)
