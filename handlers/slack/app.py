"""The slack_bolt ``AsyncApp``: one app for HTTP mode and Socket Mode alike."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt.async_app import AsyncApp

from bot.logging_setup import get_logger
from bot.runtime import Runtime
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

    register_listeners(app, rt, notify_worker, inbox)
    spot_check_listeners.register(app, rt, inbox)
    return app
