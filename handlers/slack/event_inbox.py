"""Slack events through the interaction inbox.

Bolt acknowledges an Events API request before its listener runs, so an event is recorded by
a listener middleware (which runs before that ack) and the listener itself only hands the
recorded row to the inbox's runners. A middleware that raises means no ack: Slack retries.
Slack re-delivers an event whose ack was late (``X-Slack-Retry-Num``) and Bolt does not
de-duplicate: the same middleware answers a delivery already seen with 200 and nothing else. (It
is a listener middleware, not an app-wide one, so clicks and commands do not pay for it.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.logging_setup import get_logger
from bot.store.inbox import Accepted, Interaction, retry_key, user_lane
from bot.store.slack_event_ids import first_delivery
from handlers.slack.deps import signed_at
from handlers.slack.inbox_work import InteractionInbox

log = get_logger(__name__)

_ACCEPTED = "signoff_inbox_accepted"


def on_event(
    app: AsyncApp,
    inbox: InteractionInbox,
    event_type: str,
    essentials: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> None:
    """Record ``event_type`` events (``essentials`` of the event, None to ignore one) before
    the ack; the handler registered for ``event_type`` applies them after it."""

    async def record(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id")
        if event_id and not await first_delivery(inbox.rt.sessions, str(event_id)):
            log.info(
                "slack event already handled",
                event_id=event_id,
                retry_num=req.headers.get("x-slack-retry-num", ["0"])[0],
            )
            return BoltResponse(status=200, body="")
        event = body.get("event") or {}
        payload = essentials(event) if isinstance(event, dict) else None
        if payload is not None:
            user = payload.get("user_id")
            req.context[_ACCEPTED] = await inbox.record(
                Interaction(
                    kind=event_type,
                    lane=user_lane(user),
                    actor=str(user) if user else None,
                    payload=payload,
                    retry_key=retry_key("event", body.get("event_id") or body),
                    signed_at=signed_at(req),
                )
            )
        return await next()

    async def listener(context: dict[str, Any]) -> None:
        accepted = context.get(_ACCEPTED)
        if isinstance(accepted, Accepted):
            inbox.run(accepted)

    app.event(event_type, middleware=[record])(listener)
