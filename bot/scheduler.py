"""APScheduler (3.x) runs the periodic sweeps in every worker process.

Due times live in item rows (``next_attempt_at``, ``claimed_until``, ``next_reminder_at``, …),
never in APScheduler's job store, which cannot be shared between processes: each sweep only claims
rows that are due, so any number of instances can run it without doing the same work twice.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.daily_digest import send_daily_digest
from bot.follow_up import FollowUpCounts, run_follow_ups
from bot.models import utcnow
from bot.worker import Worker

SWEEP_JOB = "sweep"
FOLLOW_UP_JOB = "follow_up"
DAILY_DIGEST_JOB = "daily_digest"


class _OverlapIsExpected(logging.Filter):
    """A sweep still running when the next is due is skipped by design (``max_instances=1``);
    APScheduler warns about it on every tick of a busy process, which buries real warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_OverlapIsExpected())


def build_scheduler(worker: Worker, *, interval_seconds: float) -> AsyncIOScheduler:
    async def follow_up() -> FollowUpCounts:
        return await run_follow_ups(worker.rt, utcnow())

    scheduler = AsyncIOScheduler(timezone=UTC)
    for job_id, job in ((SWEEP_JOB, worker.run_once), (FOLLOW_UP_JOB, follow_up)):
        scheduler.add_job(
            job,
            "interval",
            seconds=interval_seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval_seconds)),
        )
    at = worker.rt.settings.daily_digest_at
    if at:
        hour, minute = (int(part) for part in at.split(":"))

        async def daily_digest() -> bool:
            return await send_daily_digest(worker.rt, utcnow(), by=worker.worker_id)

        # Every instance fires; the run_claim row lets one of them post. A run delayed by a busy
        # event loop still happens within the grace period.
        scheduler.add_job(
            daily_digest,
            "cron",
            hour=hour,
            minute=minute,
            id=DAILY_DIGEST_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    return scheduler
