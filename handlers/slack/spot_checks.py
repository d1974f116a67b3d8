"""Slack listeners for earned autonomy: the 👍 / 👎 buttons of spot checks
(``bot.autonomy.spot_checks``), and a catch-up shortly after any reviewer interaction.

Outcomes are derived from the decisions the review flow records (``bot.autonomy.evidence``), and
the route step catches up before it routes, so a reject always takes effect before the next item
of its bucket. The catch-up here only makes the leads' "autonomy revoked" DM arrive right after
the reject rather than with the next item: it runs when the inbox has applied an interaction on
an item (the decision is recorded by then, on whichever instance applied it), and is idempotent,
so a late or repeated run changes nothing. It used to be a Bolt middleware on every request that
ran two passes after sleeps, guessing when the work would be done, and cost every ack its turn.

Who answers is resolved through the runtime's one reviewer roster (``Runtime.roster``), the same one
the card buttons use, so members of ``SIGNOFF_REVIEWER_GROUP`` may answer and outsiders may not.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.autonomy.routing import catch_up
from bot.autonomy.spot_checks import SPOT_BAD_ACTION, SPOT_OK_ACTION, answer_spot_check
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from handlers.slack.deps import on_click
from handlers.slack.inbox_work import InteractionInbox

log = get_logger(__name__)

# A burst of clicks needs no more than a few passes: each pass records everything decided so far.
MAX_PENDING = 3


def register(app: AsyncApp, rt: Runtime, inbox: InteractionInbox) -> None:
    pending: set[asyncio.Task[None]] = set()

    async def catch_up_now() -> None:
        try:
            await catch_up(rt)
        except Exception:
            log.exception("autonomy catch-up failed; the next routed item retries it")

    def after_item_interaction() -> None:
        # Idempotent, so passes may overlap; a few in flight already cover a burst.
        if len(pending) < MAX_PENDING:
            task = asyncio.ensure_future(catch_up_now())
            pending.add(task)
            task.add_done_callback(pending.discard)

    inbox.after_item_interaction(after_item_interaction)

    async def answer(body: dict[str, Any], client: AsyncWebClient, *, good: bool) -> None:
        user_id = str(body["user"]["id"])
        item_id = str(body["actions"][0]["value"])
        channel = str((body.get("channel") or {}).get("id") or "")
        roles = await rt.roster.roles(user_id)
        result = await answer_spot_check(rt, item_id=item_id, roles=roles, good=good)
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

    async def thumbs_up(body: dict[str, Any], client: AsyncWebClient) -> None:
        await answer(body, client, good=True)

    async def thumbs_down(body: dict[str, Any], client: AsyncWebClient) -> None:
        await answer(body, client, good=False)

    on_click(app, SPOT_OK_ACTION, thumbs_up, inbox, keeps_message=True)
    on_click(app, SPOT_BAD_ACTION, thumbs_down, inbox, keeps_message=True)
