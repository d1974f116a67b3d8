"""Shutting the scheduler down never cuts a job off half-way: APScheduler cancels running jobs,
so each runs shielded and shutdown waits for it (the sweep's item step, a transaction)."""

from __future__ import annotations

import asyncio
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.pipeline.scheduler import JobsInFlight


async def test_a_job_running_at_shutdown_finishes_instead_of_being_cancelled() -> None:
    in_flight = JobsInFlight()
    started, release = asyncio.Event(), asyncio.Event()
    steps: list[str] = []

    async def sweep() -> None:
        started.set()
        steps.append("claimed")
        await release.wait()  # e.g. waiting for SQLite's write lock mid-transaction
        steps.append("committed")

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(in_flight.shielded(sweep), "interval", seconds=0.05, id="sweep")
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    scheduler.shutdown(wait=False)  # cancels the running job's task
    await asyncio.sleep(0.05)
    release.set()
    await in_flight.finish(within=5)
    assert steps == ["claimed", "committed"]


async def test_waiting_for_jobs_in_flight_is_bounded_and_results_pass_through() -> None:
    in_flight = JobsInFlight()
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    async def answer() -> int:
        return 42

    assert await in_flight.shielded(answer)() == 42
    task = asyncio.ensure_future(in_flight.shielded(stuck)())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await in_flight.finish(within=0.2)
    assert loop.time() - began < 2
    never.set()
    await task
