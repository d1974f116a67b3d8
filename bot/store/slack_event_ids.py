"""Remembering Slack event ids, so a re-delivered event (``X-Slack-Retry-Num``) is answered
without doing its work again — even when the retry reaches another instance.

Slack retries a delivery three times within minutes, so an id is only worth keeping for a day;
``delete_received_before`` is how the housekeeping sweep keeps the table that small.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, changed_rows, transaction
from bot.store.models import SlackEvent

# Far longer than Slack's retries (immediately, after 1 minute, after 5 minutes).
KEEP_FOR = timedelta(days=1)


async def first_delivery(sessions: SessionFactory, event_id: str) -> bool:
    """True the first time ``event_id`` is seen; the primary key decides, not a lookup."""
    try:
        async with transaction(sessions) as session:
            session.add(SlackEvent(event_id=event_id[:64], received_at=utcnow()))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def delete_received_before(sessions: SessionFactory, cutoff: datetime) -> int:
    """Forget the ids of events received before ``cutoff``; returns how many."""
    async with transaction(sessions) as session:
        return await changed_rows(
            session, delete(SlackEvent).where(col(SlackEvent.received_at) < cutoff)
        )
