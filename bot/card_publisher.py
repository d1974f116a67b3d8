"""Posting and updating review cards. Slack failures are logged and left for the sweep.

A card that could not be posted keeps ``slack_ts`` empty; the worker's claim picks such items up
again, so nothing is dropped when Slack is down.
"""

from __future__ import annotations

from prometheus_client import Counter
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, update
from sqlmodel import col

from bot import audit
from bot.approval_card import auto_line, card_text, render_card
from bot.database import SessionFactory, transaction
from bot.item_states import ItemState
from bot.logging_setup import get_logger
from bot.models import Decision, Item

log = get_logger(__name__)


class CardPublisher:
    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        sessions: SessionFactory,
        errors: Counter | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self._sessions = sessions
        self._errors = errors

    def _failed(self, operation: str, item_id: str | None, exc: Exception) -> None:
        if self._errors is not None:
            self._errors.labels(operation).inc()
        log.warning("slack call failed", operation=operation, item_id=item_id, error=str(exc))

    async def post_card(self, item: Item) -> bool:
        """Post the review card and remember where it is; False leaves it for the next sweep."""
        try:
            response = await self.client.chat_postMessage(
                channel=self.channel,
                text=card_text(item),
                blocks=render_card(item),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("post_card", item.id, exc)
            return False
        channel, ts = str(response["channel"]), str(response["ts"])
        async with transaction(self._sessions) as session:
            await session.execute(
                update(Item)
                .where(and_(col(Item.id) == item.id, col(Item.slack_ts).is_(None)))
                .values(slack_channel=channel, slack_ts=ts)
                .execution_options(synchronize_session=False)
            )
            await audit.record(session, "card_posted", item_id=item.id, channel=channel, ts=ts)
        item.slack_channel, item.slack_ts = channel, ts
        return True

    async def refresh_card(self, item: Item) -> None:
        """Re-render the card from the item's current state (after a decision or execution)."""
        if not item.slack_ts or not item.slack_channel:
            return
        decided_by, reason = await self._decision_summary(item)
        try:
            await self.client.chat_update(
                channel=item.slack_channel,
                ts=item.slack_ts,
                text=card_text(item),
                blocks=render_card(item, decided_by=decided_by, reason=reason),
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("update_card", item.id, exc)

    async def post_in_thread(self, item: Item, text: str) -> bool:
        """A line in the card's thread (reminders, escalations, failures)."""
        if not item.slack_ts or not item.slack_channel:
            return False
        try:
            await self.client.chat_postMessage(
                channel=item.slack_channel,
                thread_ts=item.slack_ts,
                text=text,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("post_in_thread", item.id, exc)
            return False
        return True

    async def direct_message(self, user_id: str, text: str) -> bool:
        try:
            opened = await self.client.conversations_open(users=user_id)
            await self.client.chat_postMessage(
                channel=str(opened["channel"]["id"]), text=text, unfurl_links=False
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("direct_message", None, exc)
            return False
        return True

    async def post_auto_line(self, item: Item) -> None:
        try:
            await self.client.chat_postMessage(
                channel=self.channel, text=auto_line(item), unfurl_links=False, unfurl_media=False
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("post_auto_line", item.id, exc)

    async def _decision_summary(self, item: Item) -> tuple[str | None, str | None]:
        if item.decision_id is None:
            return None, None
        async with self._sessions() as session:
            decision = await session.get(Decision, item.decision_id)
        if decision is None:
            return None, None
        return decision.actor, decision.reason


def needs_card(item: Item) -> bool:
    return item.state == ItemState.PENDING_REVIEW and item.slack_ts is None
