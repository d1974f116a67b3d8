"""Reading earned autonomy's evidence: a bucket's row, its outcomes since the last reset, its
state under a policy, and every bucket known.

Plain reads of the autonomy tables, so anything that needs a bucket's state (routing, the
``/signoff autonomy`` report, a dry run of an autonomy setting) reads it the same way without
depending on the code that records outcomes (``bot.autonomy.evidence``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.database import SessionFactory
from bot.store.models import AutonomyBucket, AutonomyOutcome, Item
from policies.autonomy import AutonomyPolicy, BucketState, Evidence, Pin, ReviewOutcome


async def bucket_row(session: AsyncSession, key: str) -> AutonomyBucket | None:
    return await session.get(AutonomyBucket, key)


async def bucket_outcomes(
    session: AsyncSession, key: str, since: datetime | None, limit: int
) -> list[ReviewOutcome]:
    """Outcomes after ``since`` (the last reset), oldest first, at most ``limit`` newest ones."""
    query = select(col(AutonomyOutcome.outcome)).where(col(AutonomyOutcome.bucket) == key)
    if since is not None:
        query = query.where(col(AutonomyOutcome.at) > since)
    query = query.order_by(col(AutonomyOutcome.at).desc(), col(AutonomyOutcome.id).desc())
    rows = (await session.execute(query.limit(limit))).scalars().all()
    return [ReviewOutcome(value) for value in reversed(rows)]


async def load_bucket_state(session: AsyncSession, key: str, policy: AutonomyPolicy) -> BucketState:
    row = await bucket_row(session, key)
    # Expiries are kept but not counted, so read a little more than the window.
    outcomes = await bucket_outcomes(session, key, row.reset_at if row else None, policy.window * 2)
    pin = Pin(row.pin) if row is not None else Pin.NONE
    return BucketState(Evidence.from_outcomes(outcomes, policy.window), pin)


async def known_buckets(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        found: set[str] = set()
        for column in (
            col(AutonomyOutcome.bucket),
            col(AutonomyBucket.key),
            col(Item.autonomy_bucket),
        ):
            rows = (await session.execute(select(column).distinct())).scalars().all()
            found.update(str(row) for row in rows if row)
    return sorted(found)
