"""The background half of a process: the worker loop plus its scheduler.

``serve`` runs it in-process by default; ``work`` runs only this, so teams can scale web and
worker processes separately (``SIGNOFF_INPROCESS_WORKER=false`` on the web processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.runtime import Runtime
from bot.scheduler import build_scheduler
from bot.worker import Worker


@asynccontextmanager
async def running_background(rt: Runtime, worker: Worker) -> AsyncIterator[AsyncIOScheduler]:
    scheduler = build_scheduler(worker, interval_seconds=rt.settings.sweep_interval_seconds)
    task = asyncio.create_task(worker.run_forever(), name="signoff-worker")
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        worker.stop()
        await task
        await worker.close()


async def run_worker_process(rt: Runtime, stop: asyncio.Event) -> None:
    """``python -m bot work``: process items until ``stop`` is set (SIGTERM/SIGINT)."""
    worker = Worker(rt)
    async with running_background(rt, worker):
        await stop.wait()
