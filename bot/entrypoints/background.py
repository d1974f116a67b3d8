"""The background half of a process: the worker loop plus its scheduler.

``serve`` runs it in-process by default; ``work`` runs only this, so teams can scale web and
worker processes separately (``SIGNOFF_INPROCESS_WORKER=false`` on the web processes). A ``work``
process given a port also serves ``/healthz`` and ``/metrics`` (``bot/worker_http.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.entrypoints.worker_http import create_worker_app, serving
from bot.logging_setup import get_logger
from bot.pipeline.scheduler import InboxSweep, JobsInFlight, build_scheduler
from bot.pipeline.worker import SHUTDOWN_GRACE_SECONDS, Worker
from bot.runtime import Runtime
from bot.store.worker_heartbeats import forget_heartbeat
from handlers.slack.app import build_slack_app
from handlers.slack.inbox_work import INBOX_GRACE_SECONDS, InteractionInbox

log = get_logger(__name__)


@asynccontextmanager
async def running_background(
    rt: Runtime, worker: Worker, *, inbox_sweep: InboxSweep | None = None
) -> AsyncIterator[AsyncIOScheduler]:
    """Shutdown stops new runs, lets the sweeps and the loop's items in flight finish (bounded),
    then closes the worker; nothing is cancelled half-way through a step. ``inbox_sweep`` takes
    over Slack interactions a crashed instance acknowledged."""
    in_flight = JobsInFlight()
    scheduler = build_scheduler(
        worker,
        interval_seconds=rt.settings.sweep_interval_seconds,
        in_flight=in_flight,
        inbox_sweep=inbox_sweep,
    )
    task = asyncio.create_task(worker.run_forever(), name="signoff-worker")
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        worker.stop()
        await task
        await in_flight.finish(within=SHUTDOWN_GRACE_SECONDS)
        await worker.close()
        # Stop counting as a live worker now rather than when the heartbeat goes stale; a
        # database that is down at shutdown leaves that to the staleness window.
        with contextlib.suppress(Exception):
            await forget_heartbeat(rt.sessions, worker.worker_id)


async def run_worker_process(
    rt: Runtime, stop: asyncio.Event, *, http_port: int | None = None
) -> None:
    """``python -m bot work``: process items until ``stop`` is set (SIGTERM/SIGINT); with
    ``http_port``, serve ``/healthz`` and ``/metrics`` on ``HOST`` at that port meanwhile."""
    worker = Worker(rt)
    async with AsyncExitStack() as stack:
        inbox = None
        if rt.publisher is not None:
            # Interactions acknowledged by a ``serve`` instance that died are applied here too;
            # building the Slack app registers how (no Slack request is served).
            inbox = InteractionInbox(rt)
            build_slack_app(rt, worker.notify, inbox)
        scheduler = await stack.enter_async_context(
            running_background(rt, worker, inbox_sweep=inbox.sweep if inbox else None)
        )
        if inbox is not None:  # closed first at shutdown
            stack.push_async_callback(inbox.close, within=INBOX_GRACE_SECONDS)
        if http_port is None:
            await stop.wait()
            return
        app = create_worker_app(rt, worker, scheduler)
        async with serving(app, host=rt.settings.host, port=http_port):
            log.info("worker health and metrics listening", host=rt.settings.host, port=http_port)
            await stop.wait()
