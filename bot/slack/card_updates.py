"""Keeping a card true after a human acts: re-render it in place and put the details in its thread.

Uses only ``CardPublisher``'s public methods (``refresh_card``, ``post_in_thread``) and its client
for the one thing the publisher has no method for (closing a card that a re-draft replaced).
A Slack failure here never undoes a decision: the decision is already committed, and the next
refresh (execution, expiry) re-renders the card from the database anyway.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.assess.offload import off_loop
from bot.assess.pii_masking import masked
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.slack.card import DRAFT_LIMIT, EXCERPT_LIMIT, render_card, slack_date
from bot.slack.text import escape, quote, safe
from bot.store.column_types import utcnow
from bot.store.models import Item

log = get_logger(__name__)
_THREAD_CHUNK = 3500
_THREAD_MESSAGES = 10


async def refresh(rt: Runtime, item: Item | None, *, thread: str | None = None) -> None:
    if item is None or rt.publisher is None:
        return
    await rt.publisher.refresh_card(item)
    if thread:
        await rt.publisher.post_in_thread(item, thread)


def edit_details(item: Item) -> str:
    """The thread message for an edit: what changed and the full edited text."""
    return (
        f":pencil2: <@{item.edited_by}> edited the draft: {safe(masked(item.edit_summary), 500)}\n"
        f"*Edited reply:*\n{quote(masked(item.draft_reply), _THREAD_CHUNK)}"
    )


def reject_details(actor: str, reason: str) -> str:
    return f":no_entry: <@{actor}> rejected this: {safe(masked(reason), 2500)}"


async def close_redrafted_card(rt: Runtime, old: Item, actor: str) -> None:
    """The card of a re-drafted item no longer matches any draft: strip its buttons."""
    if rt.publisher is None or not old.slack_ts or not old.slack_channel:
        return
    closed = old.model_copy(update={"state": "received"})
    blocks = render_card(closed)
    blocks[-1] = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f":arrows_counterclockwise: *Re-drafted* by <@{actor}> at "
                f"{slack_date(utcnow())} with the newer messages; a fresh card follows.",
            }
        ],
    }
    try:
        await rt.publisher.client.chat_update(
            channel=old.slack_channel, ts=old.slack_ts, text="Re-drafted", blocks=blocks
        )
    except (SlackApiError, SlackClientError) as exc:
        log.warning("closing re-drafted card failed", item_id=old.id, error=str(exc))


def full_text_messages(item: Item) -> list[str]:
    """The whole ticket and draft (masked, escaped) in thread-sized pieces."""
    text = (
        f"*Full ticket* `{item.id}`:\n{escape(masked(item.body))}\n\n"
        f"*Full drafted reply:*\n{escape(masked(item.draft_reply) or '(no draft)')}"
    )
    pieces = [text[i : i + _THREAD_CHUNK] for i in range(0, len(text), _THREAD_CHUNK)]
    if len(pieces) > _THREAD_MESSAGES:
        pieces = pieces[:_THREAD_MESSAGES]
        pieces[-1] += "\n… (cut: the rest is in the source system)"
    return pieces


def needs_show_more(item: Item) -> bool:
    return len(item.body) > EXCERPT_LIMIT or len(item.draft_reply or "") > DRAFT_LIMIT


async def post_full_text(rt: Runtime, item: Item) -> int:
    if rt.publisher is None:
        return 0
    posted = 0
    for piece in await off_loop(full_text_messages, item):
        if await rt.publisher.post_in_thread(item, piece):
            posted += 1
    return posted
