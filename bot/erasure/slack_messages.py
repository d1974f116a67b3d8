"""Rewriting the Slack messages of erased items in place: cards and their thread lines.

A card becomes "erased at the customer's request" with the decision's facts kept (item, who
decided, when, outcome, policy, category, risk); every line the bot posted in its thread
(reminders, full text, failures) becomes a one-line erasure notice. Thread lines are found
with ``conversations.replies`` (the bot records no ts of its own for them); a line Slack will not
let the bot edit (someone else's reply) is left, and counted. Slack failures are counted, never
raised: the database erasure has committed, and a second run finds the same messages again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from bot.slack.card import slack_date
from bot.slack.text import safe
from bot.store.erasure import ErasedItem

log = get_logger(__name__)

ERASED_NOTICE = "Erased at the customer's request"
_THREAD_PAGES = 5


@dataclass
class SlackRewrite:
    cards: int = 0
    thread_lines: int = 0
    failures: list[str] = field(default_factory=list)


def erased_card(item: ErasedItem) -> list[dict[str, Any]]:
    """The card's blocks after erasure: the facts of the decision, no content."""
    facts = [
        f"item `{safe(item.item_id, 40)}`",
        f"state *{safe(item.state, 20)}*",
        f"category {safe(item.category or 'unknown', 64)}",
        f"risk {safe(item.risk_level or 'unknown', 16)}",
    ]
    if item.route_policy:
        facts.append(f"policy `{safe(item.route_policy, 64)}`")
    if item.decided_by:
        who = "policy (auto)" if item.decided_by == "auto" else f"<@{safe(item.decided_by, 64)}>"
        facts.append(
            f"{safe(item.outcome or 'decided', 20)} by {who} at {slack_date(item.decided_at)}"
        )
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f":wastebasket: *{ERASED_NOTICE}.*"},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]},
    ]


async def _thread_lines(client: AsyncWebClient, channel: str, ts: str) -> list[str]:
    lines: list[str] = []
    cursor: str | None = None
    for _ in range(_THREAD_PAGES):
        answer = await client.conversations_replies(channel=channel, ts=ts, cursor=cursor)
        for message in answer.get("messages") or []:
            reply_ts = str(message.get("ts") or "")
            if reply_ts and reply_ts != ts:
                lines.append(reply_ts)
        cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return lines


async def rewrite_messages(client: AsyncWebClient, items: list[ErasedItem]) -> SlackRewrite:
    """Update every recorded card of ``items`` and the lines of its thread."""
    done = SlackRewrite()
    for item in items:
        blocks = erased_card(item)
        for channel, ts in item.messages:
            try:
                await client.chat_update(
                    channel=channel, ts=ts, text=ERASED_NOTICE, blocks=blocks, attachments=[]
                )
                done.cards += 1
                for line in await _thread_lines(client, channel, ts):
                    try:
                        await client.chat_update(
                            channel=channel,
                            ts=line,
                            text=f":wastebasket: {ERASED_NOTICE}.",
                            blocks=[],
                        )
                        done.thread_lines += 1
                    except SlackApiError as exc:
                        done.failures.append(f"{channel}/{line}: {exc.response.get('error')}")
            except (SlackApiError, SlackClientError) as exc:
                error = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
                done.failures.append(f"{channel}/{ts}: {error}")
    if done.failures:
        log.warning(
            "some erased items' Slack messages were not rewritten", count=len(done.failures)
        )
    return done
