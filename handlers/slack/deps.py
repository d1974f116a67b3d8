"""What every Slack listener needs, built once per app: the runtime, who is who, and a way to
wake the worker; plus the one helper for answering a user privately."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lead_settings.registry import LeadSettings, load_lead_settings
from bot.logging_setup import get_logger
from bot.review.roster import ReviewerRoster, Roles
from bot.runtime import Runtime
from handlers.slack.listener_work import ListenerWork

log = get_logger(__name__)


@dataclass
class SlackDeps:
    rt: Runtime
    roster: ReviewerRoster
    notify_worker: Callable[[], None]
    # Where listener work waits its turn after the ack (one queue per app).
    work: ListenerWork

    def later(self, client: AsyncWebClient, body: dict[str, Any], work: Awaitable[None]) -> None:
        """Run ``work`` after the ack, in turn (see ``handlers.slack.listener_work``), under
        :func:`guarded`."""
        self.work.submit(guarded(client, body, work))

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


ClickWork = Callable[[dict[str, Any], AsyncWebClient], Awaitable[None]]


def on_click(
    app: AsyncApp,
    action_id: str,
    work: ClickWork,
    queue: ListenerWork,
    *,
    opens_modal: bool = False,
) -> None:
    """Register a button: ack at once (Slack allows three seconds and the work may need a
    database row lock or a Web API call), then run ``work`` under :func:`guarded` in ``queue``.

    ``opens_modal`` work runs at once instead: its ``trigger_id`` expires three seconds after the
    click, so it cannot wait its turn behind other clicks."""

    async def listener(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if opens_modal:
            await guarded(client, body, work(body, client))
        else:
            queue.submit(guarded(client, body, work(body, client)))

    app.action(action_id)(listener)


async def guarded(client: AsyncWebClient, body: dict[str, Any], work: Awaitable[None]) -> None:
    """Run a listener's work after its ack; a failure is logged and told to the user.

    A listener must not raise after acking: Bolt then drops the ack it already has and Slack sees
    an error after three seconds. The work's transaction has rolled back, so nothing changed.
    """
    try:
        await work
    except Exception:
        log.exception("slack listener failed", kind=body.get("type"))
        user_id, channel = _who_and_where(body)
        if user_id:
            await tell(
                client,
                user=user_id,
                channel=channel,
                text="Something went wrong handling that, and it has been logged. "
                "Nothing was changed; please try again.",
            )


def metadata_channel(body: dict[str, Any]) -> str | None:
    """The channel a modal was opened from (kept in its private_metadata)."""
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}") if isinstance(view, dict) else {}
    except json.JSONDecodeError:
        return None
    channel = meta.get("channel") if isinstance(meta, dict) else None
    return str(channel) if channel else None


def _who_and_where(body: dict[str, Any]) -> tuple[str | None, str | None]:
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
