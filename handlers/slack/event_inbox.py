"""Slack events through the interaction inbox.

Bolt acknowledges an Events API request before its listener runs, so an event is recorded by
a listener middleware (which runs before that ack) and the listener itself only hands the
recorded row to the inbox's runners. A middleware that raises means no ack: Slack retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.store.inbox import Accepted, Interaction, retry_key
from handlers.slack.deps import signed_at
from handlers.slack.inbox_work import InteractionInbox

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
        event = body.get("event") or {}
        payload = essentials(event) if isinstance(event, dict) else None
        if payload is not None:
            user = payload.get("user_id")
            req.context[_ACCEPTED] = await inbox.record(
                Interaction(
                    kind=event_type,
                    lane=f"user:{user}",
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
