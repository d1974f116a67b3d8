"""``SIGNOFF_RETENTION``: decided items' personal content is kept no longer than that.

Runs with the hourly housekeeping (``bot.pipeline.scheduler``), under its run claim, so one
instance does it per hour. Items in a terminal state (executed, failed, rejected, expired)
whose last decision or outcome is older than the retention are erased like a customer's request
(``bot.erasure.request``), in batches of ``BATCH`` items per transaction and at most
``MAX_BATCHES`` per run, so a first run over years of history never holds the database for
long: the rest follows in the next hours. Pending items are never touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from bot.erasure.request import (
    DATA_CLASSES,
    ERASED_EVENT,
    ErasureReport,
    ErasureTools,
    after_commit,
)
from bot.store import audit
from bot.store.database import transaction
from bot.store.erasure import ErasedItem, erase_items
from bot.store.item_states import ItemState
from bot.store.models import Item

BATCH = 200
MAX_BATCHES = 10
RETENTION_ACTOR = "retention"
_DECIDED = [ItemState.EXECUTED, ItemState.FAILED, ItemState.REJECTED, ItemState.EXPIRED]


async def erase_past_retention(
    tools: ErasureTools, retention: timedelta, now: datetime
) -> ErasureReport:
    """Erase decided items whose outcome is older than ``now - retention``."""
    cutoff = now - retention
    ended = func.coalesce(col(Item.executed_at), col(Item.decided_at), col(Item.updated_at))
    erased: list[ErasedItem] = []
    for _ in range(MAX_BATCHES):
        async with transaction(tools.sessions) as session:
            ids = list(
                (
                    await session.execute(
                        select(col(Item.id))
                        .where(
                            col(Item.state).in_(_DECIDED),
                            col(Item.erased_at).is_(None),
                            ended < cutoff,
                        )
                        .order_by(col(Item.id))
                        .limit(BATCH)
                    )
                ).scalars()
            )
            batch, _ = await erase_items(session, ids)
            if batch:
                await audit.record(
                    session,
                    ERASED_EVENT,
                    actor=RETENTION_ACTOR,
                    via="retention",
                    retention_seconds=int(retention.total_seconds()),
                    items=[item.item_id for item in batch],
                    classes=list(DATA_CLASSES),
                )
        erased.extend(batch)
        if len(ids) < BATCH:
            break
    if not erased:
        return ErasureReport((), ())
    return await after_commit(tools, erased, (), full_purge=False)
