"""Posting and updating review cards. Slack failures are logged and left for the sweep.

A card that could not be posted keeps ``slack_ts`` empty (pending post); ``CardPoster`` posts such
cards later, oldest first, so nothing is dropped when Slack is down. Every ``chat.postMessage``
waits for a slot from the process-wide per-channel pacer (Slack allows about one message per
second per channel). The pipeline's ``post_card`` never waits for a slot: when the channel is
busy the card is left to ``CardPoster``, so a burst of cards cannot stall assessment or execution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col

from bot.assess.offload import off_loop
from bot.assess.pii_masking import masked
from bot.logging_setup import get_logger
from bot.review.away import AwayBook
from bot.review.roster import ReviewerRoster
from bot.settings import Settings
from bot.slack.card import auto_line, card_text, render_card, slack_date
from bot.slack.pacing import ChannelPacer
from bot.slack.text import safe
from bot.store import audit
from bot.store.card_queue import other_cards_waiting
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, transaction
from bot.store.item_states import ItemState
from bot.store.items import update_item
from bot.store.models import Decision, Item
from policies.away import Absence, is_away

MAX_AWAY_NAMED = 8


@dataclass(frozen=True)
class CardPeople:
    """Who decides a card and who of them is away: the card shows the absent ones."""

    roster: ReviewerRoster
    away: AwayBook

    async def away_note(self, item: Item) -> str | None:
        deciders = await self.roster.deciders_for(item.reviewer_group) | self.roster.leads
        now = utcnow()
        return away_line(deciders, await self.away.absences(deciders, now), now)


def away_line(people: Iterable[str], absences: dict[str, Absence], now: datetime) -> str | None:
    """``:palm_tree: Away: <@U1> until … (<@U2> stands in)``, or None when nobody is."""
    gone = [person for person in sorted(set(people)) if is_away(person, absences, now)]
    if not gone:
        return None
    parts = []
    for person in gone[:MAX_AWAY_NAMED]:
        absence = absences[person]
        stand_in = f", <@{absence.delegate}> stands in" if absence.delegate else ""
        parts.append(f"<@{person}> (until {slack_date(absence.until)}{stand_in})")
    more = f" and {len(gone) - MAX_AWAY_NAMED} more" if len(gone) > MAX_AWAY_NAMED else ""
    return ":palm_tree: Away: " + ", ".join(parts) + more


log = get_logger(__name__)
DIGEST_LINES = 40


class CardPublisher:
    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        sessions: SessionFactory,
        errors: Counter | None = None,
        *,
        pacer: ChannelPacer | None = None,
        people: CardPeople | None = None,
    ) -> None:
        self.client = client
        # The review channel: every card goes here unless a lead's route sent it elsewhere.
        self.channel = channel
        self._people = people
        self._sessions = sessions
        self._errors = errors
        self._pacer = pacer or ChannelPacer()
        self.digest_threshold = 20
        # Set while CardPoster works through a backlog: new cards queue behind it, in order.
        self.backlog_active = False
        # Whether the last failed post may work later (429, 5xx, network) or never will.
        self.last_failure_transient = True

    def configure(self, settings: Settings) -> None:
        """Apply the posting settings (pace per channel, burst digest threshold)."""
        self.digest_threshold = settings.digest_threshold
        self._pacer.configure(settings.slack_posts_per_second, settings.slack_post_burst)

    @property
    def slot_seconds(self) -> float:
        return self._pacer.interval

    def _failed(self, operation: str, item_id: str | None, exc: Exception) -> None:
        status = exc.response.status_code if isinstance(exc, SlackApiError) else None
        self.last_failure_transient = status is None or status == 429 or status >= 500
        if self._errors is not None:
            self._errors.labels(operation).inc()
        log.warning("slack call failed", operation=operation, item_id=item_id, error=str(exc))

    async def post_card(self, item: Item) -> bool:
        """Post the card now if the channel is free and no other card waits (it would be older);
        False leaves it pending for CardPoster, which posts in order."""
        channel = self.channel_of(item)
        if self.backlog_active or await other_cards_waiting(
            self._sessions, item.id, item.review_channel
        ):
            return False
        if not self._pacer.try_reserve(channel):
            return False
        return await self._post_card(item)

    def channel_of(self, item: Item) -> str:
        """Where ``item``'s card goes: its route's channel, else the review channel."""
        return item.review_channel or self.channel

    async def post_card_paced(self, item: Item) -> bool:
        """Wait for the channel's next slot, then post (CardPoster's path)."""
        await self._pacer.wait(self.channel_of(item))
        return await self._post_card(item)

    async def _render(self, item: Item) -> list[dict[str, Any]]:
        decided_by, reason = (
            await self._decision_summary(item)
            if item.state != ItemState.PENDING_REVIEW
            else (None, None)
        )
        away = None
        if item.state == ItemState.PENDING_REVIEW and self._people is not None:
            away = await self._people.away_note(item)
        # Masking a long body is CPU work: off the event loop.
        return await off_loop(render_card, item, decided_by=decided_by, reason=reason, away=away)

    async def _post_card(self, item: Item) -> bool:
        """Post the item's card; True when it is the item's card now.

        The card is recorded only if the item still has none and is still the version that was
        rendered. Otherwise (another instance posted it first after a lease ran out, or the item
        was re-drafted meanwhile) the message just posted is deleted again, so a reviewer never
        sees two live cards for one item.
        """
        blocks = await self._render(item)
        try:
            response = await self.client.chat_postMessage(
                channel=self.channel_of(item),
                text=card_text(item),
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("post_card", item.id, exc)
            return False
        channel, ts = str(response["channel"]), str(response["ts"])
        async with transaction(self._sessions) as session:
            recorded = await update_item(
                session,
                item.id,
                col(Item.slack_ts).is_(None),
                col(Item.state) == item.state,
                col(Item.draft_version) == item.draft_version,
                slack_channel=channel,
                slack_ts=ts,
            )
            if recorded:
                await audit.record(session, "card_posted", item_id=item.id, channel=channel, ts=ts)
        if not recorded:
            log.warning("card superseded while posting; deleting it", item_id=item.id, ts=ts)
            try:
                await self.client.chat_delete(channel=channel, ts=ts)
            except (SlackApiError, SlackClientError) as exc:
                self._failed("delete_card", item.id, exc)
            return False
        item.slack_channel, item.slack_ts = channel, ts
        return True

    async def refresh_card(self, item: Item) -> None:
        """Re-render the card from the item's current state (after a decision or execution)."""
        if not item.slack_ts or not item.slack_channel:
            return
        blocks = await self._render(item)
        try:
            await self.client.chat_update(
                channel=item.slack_channel,
                ts=item.slack_ts,
                text=card_text(item),
                blocks=blocks,
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed("update_card", item.id, exc)

    async def post_in_thread(self, item: Item, text: str) -> bool:
        """A line in the card's thread (reminders, escalations, failures)."""
        if not item.slack_ts or not item.slack_channel:
            return False
        return await self._post(
            "post_in_thread", item.id, item.slack_channel, text, thread_ts=item.slack_ts
        )

    async def direct_message(self, user_id: str, text: str) -> bool:
        try:
            opened = await self.client.conversations_open(users=user_id)
        except (SlackApiError, SlackClientError) as exc:
            self._failed("direct_message", None, exc)
            return False
        return await self._post("direct_message", None, str(opened["channel"]["id"]), text)

    async def post_auto_line(self, item: Item) -> None:
        await self._post("post_auto_line", item.id, self.channel, auto_line(item))

    async def post_message(self, text: str, *, metadata: dict[str, Any] | None = None) -> bool:
        """A plain message in the review channel (the daily digest), paced like every post;
        ``metadata`` is Slack message metadata (the digest's audit anchor)."""
        return await self._post("post_message", None, self.channel, text, metadata=metadata)

    async def post_backlog_digest(
        self, oldest: list[Item], total: int, channel: str | None = None
    ) -> bool:
        """One message listing a burst of cards that wait for Slack's rate, so reviewers see the
        whole queue at once instead of watching it trickle in (the cards still follow)."""
        minutes = max(1, round(total * self.slot_seconds / 60))
        lines = [
            f"• `{item.id}` {(item.risk_level or '?').upper()} — {safe(masked(item.subject), 80)}"
            for item in oldest[:DIGEST_LINES]
        ]
        if total > len(lines):
            lines.append(f"…and {total - len(lines)} more.")
        text = (
            f":inbox_tray: *{total} items are waiting for review.* Their cards are being posted "
            f"oldest first over about {minutes} min (Slack allows about one message per second "
            "per channel).\n" + "\n".join(lines)
        )
        if not await self._post("post_backlog_digest", None, channel or self.channel, text):
            return False
        log.info("backlog digest posted", waiting=total)
        return True

    async def _post(
        self, operation: str, item_id: str | None, channel: str, text: str, **extra: Any
    ) -> bool:
        """Every plain message: wait for ``channel``'s slot, post without link previews (customer
        text may hold links), and on failure count ``operation`` and say False."""
        await self._pacer.wait(channel)
        try:
            await self.client.chat_postMessage(
                channel=channel, text=text, unfurl_links=False, unfurl_media=False, **extra
            )
        except (SlackApiError, SlackClientError) as exc:
            self._failed(operation, item_id, exc)
            return False
        return True

    async def _decision_summary(self, item: Item) -> tuple[str | None, str | None]:
        if item.decision_id is None:
            return None, None
        async with self._sessions() as session:
            decision = await session.get(Decision, item.decision_id)
        if decision is None:
            return None, None
        return decision.actor, decision.reason
