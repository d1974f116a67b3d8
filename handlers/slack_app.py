"""The slack_bolt ``AsyncApp``: one app for HTTP mode and Socket Mode alike."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from handlers.slack_listeners import register_listeners


def build_slack_app(rt: Runtime, notify_worker: Callable[[], None]) -> AsyncApp:
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
        process_before_response=False,
    )
    register_listeners(app, rt, notify_worker)
    return app
