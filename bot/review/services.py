"""What the review jobs need from the running process, as protocols ``bot.runtime.Runtime`` meets.

Reminders, escalation, expiry and the stale-draft hook read the database and the settings and
tell people on their cards; typed against these protocols rather than the runtime, review code
never imports the Slack layer that renders the cards (which itself renders review's outcomes).
"""

from __future__ import annotations

from typing import Protocol

from bot.review.away import AwayBook
from bot.review.roster import ReviewerRoster
from bot.settings import Settings
from bot.store.database import SessionFactory
from bot.store.models import Item


class CardNotifier(Protocol):
    """The card publisher's part the review jobs use (``bot.slack.card_publisher``)."""

    async def refresh_card(self, item: Item) -> None: ...

    async def post_in_thread(self, item: Item, text: str) -> bool: ...

    async def direct_message(self, user_id: str, text: str) -> bool: ...


class ReviewServices(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> SessionFactory: ...

    @property
    def publisher(self) -> CardNotifier | None: ...

    @property
    def roster(self) -> ReviewerRoster: ...

    @property
    def away(self) -> AwayBook: ...
