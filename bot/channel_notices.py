"""One-line notices in the review channel (a lead changed a threshold, paused, resumed), so the
whole team sees changes to how much the bot does on its own."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.logging_setup import get_logger
from bot.runtime import Runtime

log = get_logger(__name__)


async def notify_channel(rt: Runtime, text: str) -> bool:
    if rt.publisher is None:
        return False
    try:
        await rt.publisher.client.chat_postMessage(
            channel=rt.publisher.channel, text=text, unfurl_links=False, unfurl_media=False
        )
    except (SlackApiError, SlackClientError) as exc:
        log.warning("channel notice failed", error=str(exc))
        return False
    return True
