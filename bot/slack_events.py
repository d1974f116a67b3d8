"""Remembering Slack event ids, so a re-delivered event (``X-Slack-Retry-Num``) is answered
without doing its work again — even when the retry reaches another instance."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.database import SessionFactory, transaction
from bot.models import SlackEvent, utcnow


async def first_delivery(sessions: SessionFactory, event_id: str) -> bool:
    """True the first time ``event_id`` is seen; the primary key decides, not a lookup."""
    try:
        async with transaction(sessions) as session:
            session.add(SlackEvent(event_id=event_id[:64], received_at=utcnow()))
            await session.flush()
    except IntegrityError:
        return False
    return True
