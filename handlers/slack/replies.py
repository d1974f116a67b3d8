"""What the Slack edge tells a person after the work behind an ack: an ephemeral line where they
clicked (or a DM), and the words for a failure. Shared by the listeners and the durable inbox,
which may answer on another instance after a crash."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger

log = get_logger(__name__)

FAILED_TEXT = (
    "Something went wrong handling that, and it has been logged. "
    "Nothing was changed; please try again."
)


FAILED_TEXT = (
    "Something went wrong handling that, and it has been logged. "
    "Nothing was changed; please try again."
)


async def tell(client: AsyncWebClient, *, user: str, channel: str | None, text: str) -> None:
    """An answer only ``user`` sees: ephemeral in the channel, or a DM when there is none (App
    Home, modals opened from it)."""
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            await client.chat_postMessage(channel=user, text=text)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("could not answer user", user=user, error=str(exc))


def metadata_channel(body: dict[str, Any]) -> str | None:
    """The channel a modal was opened from (kept in its private_metadata)."""
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}") if isinstance(view, dict) else {}
    except json.JSONDecodeError:
        return None
    channel = meta.get("channel") if isinstance(meta, dict) else None
    return str(channel) if channel else None


def who_and_where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The user and channel of any payload: a click, a modal, a slash command or an event."""
    user = body.get("user")
    raw_event = body.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    user_id = (
        (user.get("id") if isinstance(user, dict) else user)
        or body.get("user_id")
        or event.get("user")
    )
    channel = (
        clicked_channel(body)
        or metadata_channel(body)
        or body.get("channel_id")
        or (event.get("channel") if event.get("type") != "app_home_opened" else None)
    )
    return (str(user_id) if user_id else None), (str(channel) if channel else None)


def clicked_channel(body: dict[str, Any]) -> str | None:
    """The channel of a click on a message; None for a click in App Home or a modal."""
    channel = body.get("channel") or {}
    value = channel.get("id") if isinstance(channel, dict) else None
    return str(value) if value else None
