"""The slack_bolt ``AsyncApp``: one app for HTTP mode and Socket Mode alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.store.slack_event_ids import first_delivery
from handlers.slack import spot_checks as spot_check_listeners
from handlers.slack.inbox_work import InteractionInbox
from handlers.slack.listeners import register_listeners

log = get_logger(__name__)


def build_slack_app(
    rt: Runtime, notify_worker: Callable[[], None], inbox: InteractionInbox
) -> AsyncApp:
    """Also registers, on ``inbox``, how each recorded interaction is applied (a ``work``
    process builds the app for that alone, to take over interactions of a crashed instance)."""
    settings = rt.settings
    if rt.publisher is None:
        raise ValueError("Slack is not configured (SLACK_BOT_TOKEN, SIGNOFF_REVIEW_CHANNEL)")
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = AsyncApp(
        client=rt.publisher.client,
        signing_secret=signing_secret,
        # Socket Mode requests arrive over an authenticated WebSocket and carry no signature.
        request_verification_enabled=signing_secret is not None,
        # Bolt answers when the listener returns, not on its 10 ms poll for ack(): every listener
        # records, acks and hands its work over (``InteractionInbox.run``, ``at_once``), so it
        # returns right after its ack and the answer leaves without waiting for a poll tick.
        process_before_response=True,
    )

    async def skip_redelivered_events(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await first_delivery(rt.sessions, str(event_id)):
            log.info(
                "slack event already handled",
                event_id=event_id,
                retry_num=req.headers.get("x-slack-retry-num", ["0"])[0],
            )
            return BoltResponse(status=200, body="")
        await next()
        return None

    app.use(skip_redelivered_events)
    register_listeners(app, rt, notify_worker, inbox)
    spot_check_listeners.register(app, rt, inbox)
    return app
