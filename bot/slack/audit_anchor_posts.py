"""Audit anchors in Slack: posted as a message with machine-readable metadata, read back with
``conversations.history`` by ``audit verify``.

Why Slack: a database administrator cannot edit or delete the bot's messages in a channel (a
workspace admin can, which is why the anchor file exists too). Only messages the bot itself
posted count as anchors: a member could post a look-alike, but not as the bot, and only apps
can attach message metadata.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.slack.client import SignoffWebClient
from bot.store.audit_anchors import ANCHORS_READ, Anchor

ANCHOR_EVENT = "signoff_audit_anchor"
# One page of history: anchors are hourly at most, so 200 messages reach back far enough in a
# dedicated channel, and past a day of cards in the review channel.
HISTORY_PAGE = 200


def anchor_line(anchor: Anchor) -> str:
    key = f"key `{anchor.key_id}`" if anchor.key_id else "*unkeyed*"
    return (
        f":anchor: Audit chain heads: {len(anchor.heads)} chain(s), {anchor.count} rows, newest "
        f"row {anchor.row_id} hash `{anchor.row_hash}`, {key}, at "
        f"{anchor.at.isoformat(timespec='seconds')} (every head is in the message metadata)"
    )


def anchor_metadata(anchor: Anchor) -> dict[str, Any]:
    return {"event_type": ANCHOR_EVENT, "event_payload": anchor.payload()}


def anchor_channel(settings: Settings) -> str | None:
    """Where anchors are read from: the audit channel, else the review channel (whose daily
    digest carries one)."""
    return settings.audit_channel or settings.review_channel


def anchor_client(settings: Settings) -> AsyncWebClient | None:
    """A plain client for the CLI (``audit anchor``, ``audit verify``); ``None`` without a token."""
    if settings.slack_bot_token is None:
        return None
    return SignoffWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )


async def post_anchor(client: AsyncWebClient, channel: str, anchor: Anchor) -> str | None:
    """Post the anchor; its ``ts``. Slack errors propagate (the caller records what failed)."""
    response = await client.chat_postMessage(
        channel=channel,
        text=anchor_line(anchor),
        metadata=anchor_metadata(anchor),
        unfurl_links=False,
        unfurl_media=False,
    )
    ts = response.get("ts")
    return str(ts) if ts else None


async def read_slack_anchors(
    client: AsyncWebClient, channel: str, *, limit: int = ANCHORS_READ
) -> list[Anchor]:
    """The newest anchors the bot itself posted in ``channel``, newest first."""
    me = await client.auth_test()
    bot_user, bot_id = me.get("user_id"), me.get("bot_id")
    history = await client.conversations_history(
        channel=channel, limit=HISTORY_PAGE, include_all_metadata=True
    )
    anchors: list[Anchor] = []
    for message in history.get("messages") or []:
        if not isinstance(message, dict):
            continue
        by_bot = (bot_id and message.get("bot_id") == bot_id) or (
            bot_user and message.get("user") == bot_user
        )
        metadata = message.get("metadata")
        if not by_bot or not isinstance(metadata, dict):
            continue
        payload = metadata.get("event_payload")
        if metadata.get("event_type") != ANCHOR_EVENT or not isinstance(payload, dict):
            continue
        anchor = Anchor.from_payload(payload, f"Slack {channel} ts {message.get('ts')}")
        if anchor is not None:
            anchors.append(anchor)
        if len(anchors) >= limit:
            break
    return anchors
