"""Deleting rows that have served their purpose: Slack event ids past Slack's retries, the
heartbeats of workers that died without cleaning up, and interaction inbox rows done for a day.

Every instance's scheduler fires the sweep; a ``run_claim`` row held for ``EVERY`` lets one of
them do it per period, so N instances do not run the same DELETEs N times. Deleting is harmless
to repeat, so a sweep that crashed after claiming simply waits for the next period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.logging_setup import get_logger
from bot.store.database import SessionFactory
from bot.store.inbox import KEEP_DONE_FOR, delete_done_before
from bot.store.run_claims import claim_run
from bot.store.slack_event_ids import KEEP_FOR, delete_received_before
from bot.store.worker_heartbeats import delete_heartbeats_before

log = get_logger(__name__)

CLAIM_KEY = "housekeeping"
EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Pruned:
    slack_events: int
    worker_heartbeats: int
    inbox_rows: int = 0


async def prune_old_rows(sessions: SessionFactory, now: datetime, *, by: str) -> Pruned | None:
    """Delete rows older than ``KEEP_FOR``; ``None`` when another instance has this period's run.
    The clock is a parameter so tests never sleep."""
    if not await claim_run(sessions, CLAIM_KEY, by=by, now=now, until=now + EVERY):
        return None
    cutoff = now - KEEP_FOR
    pruned = Pruned(
        slack_events=await delete_received_before(sessions, cutoff),
        worker_heartbeats=await delete_heartbeats_before(sessions, cutoff),
        inbox_rows=await delete_done_before(sessions, now - KEEP_DONE_FOR),
    )
    if pruned.slack_events or pruned.worker_heartbeats or pruned.inbox_rows:
        log.info(
            "old rows pruned",
            slack_events=pruned.slack_events,
            worker_heartbeats=pruned.worker_heartbeats,
            inbox_rows=pruned.inbox_rows,
        )
    return pruned
