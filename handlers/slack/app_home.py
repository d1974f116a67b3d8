"""App Home: ``app_home_opened`` publishes the viewer's home view (``views.publish``); leads get
buttons to pause, resume and open the thresholds modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lead_settings.card_routes import active_routes, describe
from bot.logging_setup import get_logger
from bot.review.queries import PendingFilter, pending_counts_by_risk, pending_page, waiting_for
from bot.slack.app_home_view import HOME_PAUSE, HOME_RESUME, HOME_SETTINGS, home_view, settings_view
from bot.stats.review_stats import parse_period, review_stats
from bot.store.column_types import utcnow
from handlers.commands.registry import run_signoff_command
from handlers.slack.deps import SlackDeps, on_click
from handlers.slack.event_inbox import on_event
from handlers.slack.replies import tell

HOME_OPENED = "app_home_opened"

log = get_logger(__name__)


async def publish_home(deps: SlackDeps, client: AsyncWebClient, user_id: str) -> None:
    rt = deps.rt
    roles = await deps.roles(user_id)
    if roles.may_decide:
        queue = await waiting_for(rt.sessions, user_id, limit=15)
    else:
        queue = (await pending_page(rt.sessions, PendingFilter())).items
    by_risk = await pending_counts_by_risk(rt.sessions)
    since, label = parse_period("today", utcnow())
    view = home_view(
        roles=roles,
        queue=queue,
        queue_total=sum(by_risk.values()),
        by_risk=by_risk,
        today=await review_stats(rt.sessions, since, label),
        lead_settings=await deps.policy(),
        routes=[describe(route) for route in await active_routes(rt.sessions)],
    )
    try:
        await client.views_publish(user_id=user_id, view=view)
    except (SlackApiError, SlackClientError) as exc:
        log.warning("views.publish failed", user=user_id, error=str(exc))


def register_app_home(app: AsyncApp, deps: SlackDeps) -> None:
    def home_opened(event: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("tab", "home") != "home":
            return None
        return {"user_id": str(event["user"])}

    async def publish_opened(payload: dict[str, Any]) -> None:
        await publish_home(deps, deps.inbox.client, str(payload["user_id"]))

    deps.inbox.handle(HOME_OPENED, publish_opened)
    on_event(app, deps.inbox, HOME_OPENED, home_opened)

    async def switch(body: dict[str, Any], client: AsyncWebClient, word: str) -> None:
        user = str(body["user"]["id"])
        roles = await deps.roles(user)
        answer = await run_signoff_command(deps.rt, roles, word)
        await tell(client, user=user, channel=None, text=answer)
        await publish_home(deps, client, user)

    async def pause(body: dict[str, Any], client: AsyncWebClient) -> None:
        await switch(body, client, "pause")

    async def resume(body: dict[str, Any], client: AsyncWebClient) -> None:
        await switch(body, client, "resume")

    on_click(app, HOME_PAUSE, pause, deps.inbox)
    on_click(app, HOME_RESUME, resume, deps.inbox)

    async def open_settings(body: dict[str, Any], client: AsyncWebClient) -> None:
        user = str(body["user"]["id"])
        roles = await deps.roles(user)
        if not roles.is_lead:
            await tell(
                client,
                user=user,
                channel=None,
                text="Only leads (SIGNOFF_LEADS) can change thresholds. Nothing was changed.",
            )
            return
        try:
            await client.views_open(
                trigger_id=body["trigger_id"], view=settings_view(await deps.policy())
            )
        except (SlackApiError, SlackClientError) as exc:
            log.warning("views.open failed", user=user, error=str(exc))

    on_click(app, HOME_SETTINGS, open_settings, deps.inbox, opens_modal=True)
