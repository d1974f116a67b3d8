"""One-line notices in the review channel (a lead changed a threshold, paused, resumed), so the
whole team sees changes to how much the bot does on its own. Sent through the publisher, so they
keep Slack's per-channel pace like every other post."""

from __future__ import annotations

from bot.runtime import Runtime


async def notify_channel(rt: Runtime, text: str) -> bool:
    if rt.publisher is None:
        return False
    return await rt.publisher.post_message(text)
