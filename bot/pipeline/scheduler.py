"""APScheduler (3.x) runs the periodic sweeps in every worker process.

Due times live in item rows (``next_attempt_at``, ``claimed_until``, ``next_reminder_at``, …),
never in APScheduler's job store, which cannot be shared between processes: each sweep only claims
rows that are due, so any number of instances can run it without doing the same work twice.

The interaction inbox's sweep (given by the entry point, which knows how interactions are
applied) takes over Slack interactions whose instance died, on the same tick.

Beside the sweeps, each tick records the worker loop's heartbeat (what a web process without a
worker reports in ``/healthz``), and an hourly housekeeping run deletes rows nobody needs and
erases the personal content of decided items older than ``SIGNOFF_RETENTION``
(``bot.erasure.retention``).

APScheduler's shutdown cancels the jobs that are running, which would cut a sweep off in the
middle of an item's step or a transaction (on SQLite a cancelled ``BEGIN IMMEDIATE`` can leave
its connection holding the write lock, and the rest of the shutdown waits 30 s on it). So every
job runs shielded in ``JobsInFlight``, and shutdown lets the runs in flight finish instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.erasure.request import ErasureTools
from bot.erasure.retention import erase_past_retention
from bot.logging_setup import get_logger
from bot.pipeline.audit_anchoring import Published, anchoring_configured, publish_anchor
from bot.pipeline.worker import Worker
from bot.review.reminders import FollowUpCounts, run_follow_ups
from bot.slack.cluster_card import post_clusters
from bot.slack.daily_digest import send_daily_digest
from bot.slack.weekly_report import send_weekly_report
from bot.store.column_types import utcnow
from bot.store.housekeeping import Pruned, prune_old_rows
from bot.store.worker_heartbeats import loop_wall_time, record_heartbeat

log = get_logger(__name__)
T = TypeVar("T")

SWEEP_JOB = "sweep"
FOLLOW_UP_JOB = "follow_up"
DAILY_DIGEST_JOB = "daily_digest"
HEARTBEAT_JOB = "heartbeat"
HOUSEKEEPING_JOB = "housekeeping"
AUDIT_ANCHOR_JOB = "audit_anchor"
INBOX_JOB = "interaction_inbox"
CLUSTER_JOB = "clusters"
WEEKLY_REPORT_JOB = "weekly_report"
# The weekly report's time is a lead setting: every instance asks each minute whether it is due.
WEEKLY_REPORT_CHECK_SECONDS = 60
# Forming clusters reads the waiting items and compares drafts: not on every sweep tick.
CLUSTER_MIN_INTERVAL_SECONDS = 5.0
# Takes over acknowledged Slack interactions nobody holds; returns how many.
InboxSweep = Callable[[], Awaitable[int]]
# Every instance fires this often; the run claim lets one per hour act (bot/housekeeping.py).
HOUSEKEEPING_INTERVAL_SECONDS = 600


class _OverlapIsExpected(logging.Filter):
    """A sweep still running when the next is due is skipped by design (``max_instances=1``);
    APScheduler warns about it on every tick of a busy process, which buries real warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_OverlapIsExpected())


class JobsInFlight:
    """The job runs still going, shielded from APScheduler's cancellation at shutdown."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self._orphaned: set[asyncio.Task[Any]] = set()

    def shielded(self, job: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        @functools.wraps(job)  # APScheduler names the job (and its log lines) after the function
        async def run() -> T:
            task: asyncio.Task[T] = asyncio.ensure_future(job())
            self._running.add(task)
            task.add_done_callback(self._finished)
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                self._orphaned.add(task)
                raise

        return run

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        orphaned = task in self._orphaned
        self._orphaned.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieved either way: APScheduler logs it unless orphaned
        if error is not None and orphaned:
            log.error("scheduled job failed during shutdown", error=repr(error))

    async def finish(self, *, within: float) -> None:
        """Wait (at most ``within`` seconds) for the runs in flight."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=within)


def build_scheduler(
    worker: Worker,
    *,
    interval_seconds: float,
    in_flight: JobsInFlight | None = None,
    inbox_sweep: InboxSweep | None = None,
) -> AsyncIOScheduler:
    """``in_flight`` is what shutdown waits on; a caller that never shuts down mid-run (a test
    that only inspects the jobs) can leave it out."""
    jobs = in_flight or JobsInFlight()

    async def follow_up() -> FollowUpCounts:
        return await run_follow_ups(worker.rt, utcnow())

    async def heartbeat() -> bool:
        loop_at = loop_wall_time(worker.last_loop_at)
        if loop_at is None:  # the loop has not passed yet (or this worker never loops)
            return False
        await record_heartbeat(worker.rt.sessions, worker.worker_id, loop_at=loop_at)
        return True

    async def housekeeping() -> Pruned | None:
        """Old rows, then (under the same hourly claim) content past ``SIGNOFF_RETENTION``."""
        now, rt = utcnow(), worker.rt
        pruned = await prune_old_rows(rt.sessions, now, by=worker.worker_id)
        if pruned is not None and rt.settings.retention is not None:
            report = await erase_past_retention(ErasureTools.of(rt), rt.settings.retention, now)
            if report.items:
                log.info("retention erased decided items", items=len(report.items))
        return pruned

    async def audit_anchor() -> Published | None:
        rt = worker.rt
        client = rt.publisher.client if rt.publisher is not None else None
        return await publish_anchor(
            rt.sessions, rt.settings, client, now=utcnow(), by=worker.worker_id
        )

    async def clusters() -> int:
        return await post_clusters(worker.rt, min_size=worker.rt.settings.cluster_min_size)

    async def weekly_report() -> int:
        return await send_weekly_report(worker.rt, utcnow(), by=worker.worker_id)

    scheduler = AsyncIOScheduler(timezone=UTC)
    tick = max(1, int(interval_seconds))
    # (id, job, every, misfire grace). Housekeeping and the audit anchor fire every ten minutes
    # in every instance; their run claims let one instance act per hour.
    interval_jobs: list[tuple[str, Callable[[], Awaitable[Any]], float, int]] = [
        (SWEEP_JOB, worker.run_once, interval_seconds, tick),
        (FOLLOW_UP_JOB, follow_up, interval_seconds, tick),
        (HEARTBEAT_JOB, heartbeat, interval_seconds, tick),
        (
            HOUSEKEEPING_JOB,
            housekeeping,
            HOUSEKEEPING_INTERVAL_SECONDS,
            HOUSEKEEPING_INTERVAL_SECONDS,
        ),
    ]
    if inbox_sweep is not None:
        interval_jobs.append((INBOX_JOB, inbox_sweep, interval_seconds, tick))
    interval_jobs.append(
        (
            WEEKLY_REPORT_JOB,
            weekly_report,
            WEEKLY_REPORT_CHECK_SECONDS,
            WEEKLY_REPORT_CHECK_SECONDS,
        )
    )
    if worker.rt.settings.cluster_min_size >= 2:
        every = max(interval_seconds, CLUSTER_MIN_INTERVAL_SECONDS)
        interval_jobs.append((CLUSTER_JOB, clusters, every, int(every)))
    if anchoring_configured(worker.rt.settings):
        interval_jobs.append(
            (
                AUDIT_ANCHOR_JOB,
                audit_anchor,
                HOUSEKEEPING_INTERVAL_SECONDS,
                HOUSEKEEPING_INTERVAL_SECONDS,
            )
        )
    for job_id, job, seconds, grace in interval_jobs:
        scheduler.add_job(
            jobs.shielded(job),
            "interval",
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
        )
    at = worker.rt.settings.daily_digest_at
    if at:
        hour, minute = (int(part) for part in at.split(":"))

        async def daily_digest() -> bool:
            return await send_daily_digest(worker.rt, utcnow(), by=worker.worker_id)

        # Every instance fires; the run_claim row lets one of them post. A run delayed by a busy
        # event loop still happens within the grace period.
        scheduler.add_job(
            jobs.shielded(daily_digest),
            "cron",
            hour=hour,
            minute=minute,
            id=DAILY_DIGEST_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    return scheduler
