"""What Slack sends an app, built and signed the way Slack does: button clicks (``block_actions``),
modal submissions (``view_submission``), slash commands (a form body) and Events API callbacks.

The sandbox posts these to the bot's real ``/slack/events``, so a click in the page goes through
the same signature check, Bolt dispatch, inbox and listeners as a click in Slack: there is no
second code path to drift. Signing uses slack_sdk's own ``SignatureVerifier`` (the scheme Bolt
checks), so the sandbox cannot sign differently from what the bot verifies.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.sandbox.workspace import BOT_ID

APP_ID = "A0SIGNOFF"
# Slack still sends the legacy verification token in every payload; Bolt ignores it.
LEGACY_TOKEN = "sandbox-verification-token"  # noqa: S105 - a public placeholder, not a secret


@dataclass(frozen=True)
class Team:
    id: str
    domain: str


@dataclass(frozen=True)
class SignedRequest:
    """A body and the headers Slack would send with it."""

    body: bytes
    headers: dict[str, str]


def sign(signing_secret: str, body: bytes, content_type: str) -> SignedRequest:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # None only without a timestamp or a body
    return SignedRequest(
        body,
        {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )


def interaction_request(signing_secret: str, payload: dict[str, Any]) -> SignedRequest:
    """Interactivity posts ``payload=<json>`` as a form."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return sign(signing_secret, body, "application/x-www-form-urlencoded")


def new_trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _user(user: str, team: Team) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team.id}


def block_actions(
    *,
    team: Team,
    user: str,
    action: dict[str, Any],
    block_id: str,
    trigger_id: str,
    response_url: str | None,
    channel: str | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A click on ``action`` (the element as the bot sent it) in a message or a view."""
    clicked = {
        "action_id": action.get("action_id"),
        "block_id": block_id,
        "text": action.get("text"),
        "type": action.get("type", "button"),
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("value", "style", "url"):
        if key in action:
            clicked[key] = action[key]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": APP_ID,
        "token": LEGACY_TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": team.id, "domain": team.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [clicked],
    }
    if message is not None and channel is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel, "name": "signoff-review"}
        payload["message"] = message
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = {**view, "state": {"values": {}}}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission(
    *, team: Team, user: str, view: dict[str, Any], values: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    """What Slack posts when ``user`` presses Submit on ``view`` (as the bot opened it)."""
    return {
        "type": "view_submission",
        "team": {"id": team.id, "domain": team.domain},
        "user": _user(user, team),
        "api_app_id": APP_ID,
        "token": LEGACY_TOKEN,
        "trigger_id": trigger_id,
        "view": {
            **view,
            "team_id": team.id,
            "state": {"values": values},
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def slash_command(
    *,
    team: Team,
    user: str,
    channel: str,
    channel_name: str,
    text: str,
    response_url: str,
    trigger_id: str,
    command: str = "/signoff",
) -> dict[str, str]:
    """A slash command's form fields, as Slack posts them."""
    return {
        "token": LEGACY_TOKEN,
        "team_id": team.id,
        "team_domain": team.domain,
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def command_request(signing_secret: str, form: dict[str, str]) -> SignedRequest:
    return sign(signing_secret, urlencode(form).encode(), "application/x-www-form-urlencoded")


def event_request(signing_secret: str, team: Team, event: dict[str, Any]) -> SignedRequest:
    """An Events API callback wrapping ``event``, as JSON."""
    body = {
        "token": LEGACY_TOKEN,
        "team_id": team.id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(6).upper()}",
        "event_time": int(time.time()),
    }
    return sign(signing_secret, json.dumps(body).encode(), "application/json")


def home_opened(user: str, view: dict[str, Any] | None) -> dict[str, Any]:
    """The ``app_home_opened`` event for ``user`` opening the Home tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D{user}",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return event
