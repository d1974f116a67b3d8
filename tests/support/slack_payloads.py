"""Slack payloads beyond the harness's buttons and slash commands: modal submissions, App Home
clicks and Events API callbacks, in the shapes Slack sends them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from tests.support.server_harness import (
    SIGNING_SECRET,
    RunningServer,
    new_trigger_id,
)
from tests.support.signatures import slack_headers


def input_values(**texts: str) -> dict[str, Any]:
    """``state.values`` for plain-text inputs keyed by block id (action id ``value``)."""
    return {
        block: {"value": {"type": "plain_text_input", "value": text}}
        for block, text in texts.items()
    }


def select_value(block: str, value: str) -> dict[str, Any]:
    return {
        block: {
            "value": {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
            }
        }
    }


def view_submission(*, view: dict[str, Any], user: str, values: dict[str, Any]) -> dict[str, Any]:
    """What Slack posts when ``user`` presses Submit on ``view`` (as opened by the bot)."""
    return {
        "type": "view_submission",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "token": "legacy-verification-token",
        "trigger_id": new_trigger_id(),
        "view": {
            "id": view.get("id", "V0000001"),
            "team_id": "T0FAKE",
            "type": "modal",
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": values},
            "hash": "1700000000.abcdef",
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "app_id": "A0SIGNOFF",
            "bot_id": "B0BOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def submit_view(
    server: RunningServer, view: dict[str, Any], *, user: str, values: dict[str, Any]
) -> httpx.Response:
    payload = view_submission(view=view, user=user, values=values)
    return server.post_slack({"payload": json.dumps(payload)})


def home_click(*, action_id: str, value: str, user: str, response_url: str) -> dict[str, Any]:
    """A button click on the App Home tab: no channel, a ``view`` of type home."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "VHOME0001"},
        "trigger_id": new_trigger_id(),
        "team": {"id": "T0FAKE", "domain": "fake"},
        "view": {"id": "VHOME0001", "type": "home", "blocks": [], "state": {"values": {}}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "home",
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def card_click(
    server: RunningServer, action_id: str, item_id: str, *, user: str, value: str | None = None
) -> httpx.Response:
    """A click on the card like ``RunningServer.click``, with the button's real value."""
    if value is None:
        value = f"{item_id}:{server.item(item_id).draft_version}"
    return server.click(action_id, item_id, user=user, value=value)


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "api_app_id": "A0SIGNOFF",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
        "event_time": int(time.time()),
    }


def post_event(server: RunningServer, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event_callback(event)).encode()
    headers = {"Content-Type": "application/json", **slack_headers(SIGNING_SECRET, body)}
    return server.http.post(f"{server.url}/slack/events", content=body, headers=headers)
