"""Registers every Slack listener: buttons, modals, the ``/signoff`` command, mentions, App Home.

Every listener records the interaction in the inbox and acknowledges (Slack gives three seconds
and the ack must never wait for an LLM or an executor; a modal submission's ack carries its field
errors), then the inbox's runners resolve the user's roles on the server and record what they
did, here or on another instance if this one dies; the worker does the slow part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from handlers.slack.actions import register_actions
from handlers.slack.app_home import register_app_home
from handlers.slack.cluster_actions import register_cluster_actions
from handlers.slack.commands import register_commands
from handlers.slack.deps import SlackDeps, guarded
from handlers.slack.inbox_work import InteractionInbox
from handlers.slack.views import register_views


def register_listeners(
    app: AsyncApp, rt: Runtime, notify_worker: Callable[[], None], inbox: InteractionInbox
) -> None:
    deps = SlackDeps(rt=rt, roster=rt.roster, notify_worker=notify_worker, inbox=inbox)
    # Bolt tries listeners in the order they were registered, running each one's matcher (about
    # 9 µs each, measured) until one matches: the most frequent requests first. ``/signoff``
    # behind fourteen buttons and modals spent more on matching than on its own ack.
    register_commands(app, deps)
    register_actions(app, deps)
    register_cluster_actions(app, deps)
    register_views(app, deps)
    register_app_home(app, deps)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Failures before an ack (listeners guard everything after theirs): tell the user."""

        async def fail() -> None:
            raise error

        await guarded(client, body, fail())
