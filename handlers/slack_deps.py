"""What every Slack listener needs, built once per app: the runtime, who is who, and a way to
wake the worker; plus the one helper for answering a user privately."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lead_settings import LeadSettings, load_lead_settings
from bot.logging_setup import get_logger
from bot.reviewer_roster import ReviewerRoster, Roles
from bot.runtime import Runtime

log = get_logger(__name__)


@dataclass
class SlackDeps:
    rt: Runtime
    roster: ReviewerRoster
    notify_worker: Callable[[], None]

    async def roles(self, user_id: str) -> Roles:
        return await self.roster.roles(user_id)

    async def policy(self) -> LeadSettings:
        return await load_lead_settings(self.rt.sessions, self.rt.settings)


def clicked_channel(body: dict[str, Any]) -> str | None:
    """The channel of a click on a message; None for a click in App Home or a modal."""
    channel = body.get("channel") or {}
    value = channel.get("id") if isinstance(channel, dict) else None
    return str(value) if value else None


def from_home(body: dict[str, Any]) -> bool:
    view = body.get("view") or {}
    return isinstance(view, dict) and view.get("type") == "home"


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
