"""What every Slack listener needs, built once per app: the runtime, who is who, a way to wake
the worker and the interaction inbox; plus the helpers for recording a click before its ack and
for answering a user privately."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.lead_settings.card_routes import active_routes
from bot.lead_settings.registry import LeadSettings, load_lead_settings
from bot.logging_setup import get_logger
from bot.review.roster import ReviewerRoster, Roles
from bot.runtime import Runtime
from bot.slack.card import parse_button_value
from bot.store.inbox import Interaction, item_lane, retry_key, user_lane
from handlers.slack.replies import FAILED_TEXT, clicked_channel, tell, who_and_where

if TYPE_CHECKING:
    from handlers.slack.inbox_work import InteractionInbox

log = get_logger(__name__)


@dataclass
class SlackDeps:
    rt: Runtime
    roster: ReviewerRoster
    notify_worker: Callable[[], None]
    # Where listener work is recorded before the ack and applied after it.
    inbox: InteractionInbox

    async def recorded(self, ack: AsyncAck, interaction: Interaction, **answer: Any) -> None:
        await ack_recorded(self.inbox, ack, interaction, **answer)

    async def roles(self, user_id: str) -> Roles:
        """``user_id``'s roles, with their membership of the card routes' reviewer groups (a
        routed card is decided by its route's group: ``Roles.for_route``)."""
        routes = await active_routes(self.rt.sessions)
        groups = [route.reviewer_group for route in routes if route.reviewer_group]
        return await self.roster.roles(user_id, groups)

    async def policy(self) -> LeadSettings:
        return await load_lead_settings(self.rt.sessions, self.rt.settings)


def from_home(body: dict[str, Any]) -> bool:
    view = body.get("view") or {}
    return isinstance(view, dict) and view.get("type") == "home"


async def ack_recorded(
    inbox: InteractionInbox, ack: AsyncAck, interaction: Interaction, **answer: Any
) -> None:
    """Record ``interaction``, then ack (with ``answer``), then apply it: an ack Slack gets is
    never for work that only lived in this process's memory. A failed insert raises before the
    ack, so Slack shows the person an error instead of a success that would be lost."""
    accepted = await inbox.record(interaction)
    await ack(**answer)
    inbox.run(accepted)


ClickWork = Callable[[dict[str, Any], AsyncWebClient], Awaitable[str | None]]


def signed_at(request: AsyncBoltRequest) -> str | None:
    """The request's ``X-Slack-Request-Timestamp`` (when Slack signed it)."""
    values = request.headers.get("x-slack-request-timestamp") or []
    return values[0] if values else None


def request_identity(body: dict[str, Any]) -> str:
    """What a retry of this request has in common with it: all of it. Slack resends the same
    payload (its ``trigger_id``, ``action_ts``, ``view.hash`` make each interaction unique)."""
    return retry_key("slack", body)


def click_interaction(
    action_id: str, body: dict[str, Any], request: AsyncBoltRequest, *, keeps_message: bool
) -> Interaction:
    """A click's essentials, in the shape of Bolt's body (the work reads them as it did). The
    card's blocks are left out unless the work rebuilds the message from them."""
    user = str(body["user"]["id"])
    action = body["actions"][0]
    value = str(action.get("value") or "")
    item_id = parse_button_value(value)[0] if value.startswith("itm_") else None
    payload: dict[str, Any] = {
        "type": body.get("type"),
        "user": {"id": user},
        "actions": [{"action_id": action_id, "value": value}],
        "response_url": body.get("response_url"),
    }
    channel = clicked_channel(body)
    if channel:
        payload["channel"] = {"id": channel}
    view = body.get("view")
    if isinstance(view, dict):
        payload["view"] = {"type": view.get("type"), "id": view.get("id")}
    message = body.get("message")
    if isinstance(message, dict):
        payload["message"] = {"ts": message.get("ts")}
        if keeps_message:
            payload["message"]["blocks"] = message.get("blocks", [])
    return Interaction(
        kind=action_id,
        lane=item_lane(item_id) if item_id else user_lane(user),
        actor=user,
        payload=payload,
        retry_key=request_identity(body),
        signed_at=signed_at(request),
    )


def on_click(
    app: AsyncApp,
    action_id: str,
    work: ClickWork,
    inbox: InteractionInbox,
    *,
    opens_modal: bool = False,
    keeps_message: bool = False,
) -> None:
    """Register a button. Its click is recorded in the inbox and acked (Slack allows three
    seconds and the work may need a database row lock or a Web API call); ``work`` runs after,
    here or, if this instance dies, on another (``handlers.slack.inbox_work``).

    ``opens_modal`` work runs at once instead, not recorded: its ``trigger_id`` expires three
    seconds after the click, so it can neither wait its turn nor be taken over later (a modal
    that did not open is seen at once and clicked again)."""
    client = inbox.client

    async def apply(payload: dict[str, Any]) -> str | None:
        return await work(payload, client)

    if not opens_modal:
        inbox.handle(action_id, apply)

    async def listener(
        ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest, client: AsyncWebClient
    ) -> None:
        if opens_modal:
            await ack()
            inbox.at_once(guarded(client, body, work(body, client)))
            return
        interaction = click_interaction(action_id, body, request, keeps_message=keeps_message)
        await ack_recorded(inbox, ack, interaction)

    app.action(action_id)(listener)


async def guarded(client: AsyncWebClient, body: dict[str, Any], work: Awaitable[object]) -> None:
    """Run a listener's work after its ack; a failure is logged and told to the user.

    A listener must not raise after acking: Bolt then drops the ack it already has and Slack sees
    an error after three seconds. The work's transaction has rolled back, so nothing changed.
    """
    try:
        await work
    except Exception:
        log.exception("slack listener failed", kind=body.get("type"))
        user_id, channel = who_and_where(body)
        if user_id:
            await tell(client, user=user_id, channel=channel, text=FAILED_TEXT)
