"""Slack listeners: buttons, the ``/signoff`` command and mentions.

Every listener acknowledges first (Slack gives three seconds and the ack must never wait for an
LLM or an executor), then records what the user did; the worker does the slow part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlmodel import col

from bot.approval_card import APPROVE_ACTION, EDIT_ACTION, REJECT_ACTION, describe_action
from bot.item_states import DecisionOutcome, ItemState
from bot.logging_setup import get_logger
from bot.models import Item
from bot.review_decisions import ReviewStatus, record_review
from bot.runtime import Runtime
from bot.slack_text import safe

log = get_logger(__name__)

EDIT_NOT_YET = (
    "Editing drafts is not available yet: it is coming in a later release. For now, Approve "
    "sends the draft as shown, and Reject sends nothing so you can answer the customer yourself."
)
HELP_TEXT = (
    "*Signoff commands*\n"
    "• `/signoff pending` — items waiting for review, oldest first\n"
    "• `/signoff help` — this message\n"
    "Review cards appear in the review channel with Approve / Edit / Reject."
)
PENDING_PAGE = 10


def register_listeners(app: AsyncApp, rt: Runtime, notify_worker: Callable[[], None]) -> None:
    async def decide(
        body: dict[str, Any], client: AsyncWebClient, outcome: DecisionOutcome
    ) -> None:
        user_id = body["user"]["id"]
        item_id = body["actions"][0]["value"]
        result = await record_review(
            rt.sessions,
            item_id=item_id,
            user_id=user_id,
            outcome=outcome,
            reviewers=rt.settings.reviewers,
            leads=rt.settings.leads,
        )
        log.info(
            "review click",
            item_id=item_id,
            user=user_id,
            outcome=outcome.value,
            status=result.status.value,
        )
        if result.status == ReviewStatus.RECORDED and result.item is not None:
            if rt.publisher is not None:
                await rt.publisher.refresh_card(result.item)
            if outcome == DecisionOutcome.APPROVED:
                notify_worker()
            return
        await client.chat_postEphemeral(
            channel=body["channel"]["id"], user=user_id, text=result.message
        )

    @app.action(APPROVE_ACTION)
    async def on_approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await decide(body, client, DecisionOutcome.APPROVED)

    @app.action(REJECT_ACTION)
    async def on_reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await decide(body, client, DecisionOutcome.REJECTED)

    @app.action(EDIT_ACTION)
    async def on_edit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postEphemeral(
            channel=body["channel"]["id"], user=body["user"]["id"], text=EDIT_NOT_YET
        )

    @app.command("/signoff")
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(
            text=await answer_command(rt, command.get("text", "")), response_type="ephemeral"
        )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        words = event.get("text", "").split(maxsplit=1)
        text = words[1] if len(words) > 1 else "help"
        await client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], text=await answer_command(rt, text)
        )


async def answer_command(rt: Runtime, text: str) -> str:
    words = text.strip().split()
    sub = words[0].lower() if words else "help"
    if sub == "help":
        return HELP_TEXT
    if sub == "pending":
        return await _pending(rt)
    return f"I don't know `{safe(sub, 40)}`.\n\n{HELP_TEXT}"


async def _pending(rt: Runtime) -> str:
    async with rt.sessions() as session:
        waiting = col(Item.state) == ItemState.PENDING_REVIEW
        total = (await session.execute(select(func.count()).where(waiting))).scalar_one()
        rows = (
            (
                await session.execute(
                    select(Item).where(waiting).order_by(col(Item.created_at)).limit(PENDING_PAGE)
                )
            )
            .scalars()
            .all()
        )
    if not rows:
        return "Nothing is waiting for review. :tada:"
    lines = [f"*{total} item(s) waiting for review* (oldest first):"]
    for item in rows:
        lines.append(
            f"• `{item.id}` {(item.risk_level or '?').upper()} · {safe(item.subject, 80)} · "
            f"{safe(describe_action(item), 80)}"
        )
    if total > len(rows):
        lines.append(f"…and {total - len(rows)} more.")
    return "\n".join(lines)
