"""Slack listeners for the 👍 / 👎 buttons of spot checks (see ``bot.spot_checks``)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.spot_checks import SPOT_BAD_ACTION, SPOT_OK_ACTION, answer_spot_check

log = get_logger(__name__)


def register(app: AsyncApp, rt: Runtime) -> None:
    async def answer(body: dict[str, Any], client: AsyncWebClient, *, good: bool) -> None:
        user_id = str(body["user"]["id"])
        item_id = str(body["actions"][0]["value"])
        channel = str((body.get("channel") or {}).get("id") or "")
        result = await answer_spot_check(rt, item_id=item_id, user_id=user_id, good=good)
        try:
            if not result.recorded:
                await client.chat_postEphemeral(channel=channel, user=user_id, text=result.message)
                return
            message = body.get("message") or {}
            blocks = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": result.message}]}
            )
            await client.chat_update(
                channel=channel, ts=str(message.get("ts")), text=result.message, blocks=blocks
            )
        except (SlackApiError, SlackClientError) as exc:
            log.warning("spot check answer not shown", item_id=item_id, error=str(exc))

    @app.action(SPOT_OK_ACTION)
    async def on_spot_ok(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await answer(body, client, good=True)

    @app.action(SPOT_BAD_ACTION)
    async def on_spot_bad(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await answer(body, client, good=False)
