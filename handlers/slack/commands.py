"""``/signoff`` and ``@Signoff …``: both go through the subcommand registry and answer privately."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.commands.registry import run_signoff_command
from handlers.slack.deps import SlackDeps, tell


def mention_text(text: str) -> str:
    """The words after the bot's mention (``<@U0BOT> pending high`` → ``pending high``)."""
    words = text.split()
    rest = [w for w in words if not (w.startswith("<@") and w.endswith(">"))]
    return " ".join(rest) or "help"


def register_commands(app: AsyncApp, deps: SlackDeps) -> None:
    async def answer_command(command: dict[str, Any], respond: AsyncRespond) -> None:
        roles = await deps.roles(str(command["user_id"]))
        answer = await run_signoff_command(
            deps.rt, roles, str(command.get("text") or ""), channel_id=command.get("channel_id")
        )
        await respond(text=answer, response_type="ephemeral")

    @app.command("/signoff")
    async def on_command(
        ack: AsyncAck,
        command: dict[str, Any],
        respond: AsyncRespond,
        body: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        await ack()
        deps.later(client, body, answer_command(command, respond))

    async def answer_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        user = str(event["user"])
        roles = await deps.roles(user)
        channel = str(event["channel"])
        answer = await run_signoff_command(
            deps.rt, roles, mention_text(str(event.get("text") or "")), channel_id=channel
        )
        await tell(client, user=user, channel=channel, text=answer)

    @app.event("app_mention")
    async def on_mention(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        deps.later(client, body, answer_mention(event, client))
