"""APScheduler (3.x) runs the periodic sweep in every process.

Due times live in item rows (``next_attempt_at``, ``claimed_until``), never in APScheduler's job
store, which cannot be shared between processes: the sweep only claims rows that are due, so any
number of instances can run it without doing the same work twice.
"""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.worker import Worker

SWEEP_JOB = "sweep"


def build_scheduler(worker: Worker, *, interval_seconds: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        worker.run_once,
        "interval",
        seconds=interval_seconds,
        id=SWEEP_JOB,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(interval_seconds)),
    )
    return scheduler
