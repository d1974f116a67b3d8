"""``/signoff`` and ``@Signoff …``: both go through the subcommand registry and answer privately.

Both are recorded in the interaction inbox before their ack; the answer is computed after it
and sent to the command's ``response_url`` (or as an ephemeral message for a mention), by
whichever instance applies it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.logging_setup import get_logger
from bot.store.inbox import Interaction, user_lane
from handlers.commands.registry import run_signoff_command
from handlers.slack.deps import SlackDeps, request_identity, signed_at
from handlers.slack.event_inbox import on_event
from handlers.slack.replies import tell

log = get_logger(__name__)

COMMAND_KIND = "/signoff"
MENTION_KIND = "app_mention"


def mention_text(text: str) -> str:
    """The words after the bot's mention (``<@U0BOT> pending high`` → ``pending high``)."""
    words = text.split()
    rest = [w for w in words if not (w.startswith("<@") and w.endswith(">"))]
    return " ".join(rest) or "help"


def register_commands(app: AsyncApp, deps: SlackDeps) -> None:
    async def answer_command(payload: dict[str, Any]) -> None:
        roles = await deps.roles(str(payload["user_id"]))
        answer = await run_signoff_command(
            deps.rt, roles, str(payload["text"]), channel_id=payload["channel_id"]
        )
        response = await AsyncWebhookClient(str(payload["response_url"])).send(
            text=answer, response_type="ephemeral"
        )
        if response.status_code != 200:
            log.warning("command answer not delivered", status=response.status_code)

    deps.inbox.handle(COMMAND_KIND, answer_command)

    @app.command(COMMAND_KIND)
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        user = str(command["user_id"])
        interaction = Interaction(
            kind=COMMAND_KIND,
            lane=user_lane(user),
            actor=user,
            payload={
                "user_id": user,
                "text": str(command.get("text") or ""),
                "channel_id": command.get("channel_id"),
                "response_url": command.get("response_url"),
            },
            retry_key=request_identity(body),
            signed_at=signed_at(request),
        )
        await deps.recorded(ack, interaction)

    async def answer_mention(payload: dict[str, Any]) -> None:
        user, channel = str(payload["user_id"]), str(payload["channel_id"])
        roles = await deps.roles(user)
        answer = await run_signoff_command(
            deps.rt, roles, mention_text(str(payload["text"])), channel_id=channel
        )
        await tell(deps.inbox.client, user=user, channel=channel, text=answer)

    deps.inbox.handle(MENTION_KIND, answer_mention)

    def mention(event: dict[str, Any]) -> dict[str, Any] | None:
        return {
            "user_id": str(event["user"]),
            "channel_id": str(event["channel"]),
            "text": str(event.get("text") or ""),
        }

    on_event(app, deps.inbox, MENTION_KIND, mention)
