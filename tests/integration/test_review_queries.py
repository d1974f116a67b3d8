"""``waiting_for`` (``/signoff mine`` and the App Home queue): what a reviewer could still approve,
filtered in the database on SQLite and PostgreSQL alike, so a reviewer who already approved many
of the oldest quorum items still sees the ones that wait for them."""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine

from bot.review.queries import waiting_for
from bot.store.database import create_engine as create_async_engine
from bot.store.database import session_factory, sync_url
from bot.store.item_states import ItemState
from tests.support.approved_items import seed_pending

ME = "U0ME"
OTHER = "U0OTHER"
LIMIT = 10


def _waiting(url: str, user_id: str, limit: int) -> list[str]:
    async def query() -> list[str]:
        engine = create_async_engine(url)
        try:
            return [
                item.id for item in await waiting_for(session_factory(engine), user_id, limit=limit)
            ]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_waiting_for_skips_what_the_reviewer_cannot_approve_in_the_database(
    database_url: str,
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        quorum = {"approvals_required": 2}
        # The oldest items: far more than LIMIT * 3 that ME already approved (each needs two).
        approved_by_me = seed_pending(db, LIMIT * 3 + 5, approvals=[ME], **quorum)
        stale = seed_pending(db, 2, stale_reason="A newer message arrived: re-draft first.")
        raised_by_me = seed_pending(db, 2, extra={"slack_user_id": ME})
        seed_pending(db, 2, state=ItemState.EXECUTED, approvals=[OTHER])  # decided already
        approved_by_other = seed_pending(db, 3, approvals=[OTHER], **quorum)
        similar_id = seed_pending(db, 1, approvals=[ME + "2"], **quorum)  # not ME's approval
        raised_by_other = seed_pending(db, 1, extra={"slack_user_id": OTHER})
        untouched = seed_pending(db, 9)
    finally:
        db.dispose()

    for_me = [*approved_by_other, *similar_id, *raised_by_other, *untouched]
    assert _waiting(database_url, ME, LIMIT) == for_me[:LIMIT]
    assert _waiting(database_url, ME, 100) == for_me
    for_other = [*approved_by_me, *raised_by_me, *similar_id, *untouched]
    assert _waiting(database_url, OTHER, 100) == for_other
    assert _waiting(database_url, OTHER, 3) == approved_by_me[:3]
    assert not set(stale) & set(_waiting(database_url, "U0SOMEONE", 100))
