"""A worker's health app, in-process: a loop that stopped passing is reported as stalled (503)
while the scheduler keeps ticking and stops counting as a live worker, a clean shutdown removes
its heartbeat, and a port it cannot open stops it with one clear error instead of a worker
nobody can see."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from bot.entrypoints.background import running_background
from bot.entrypoints.worker_http import create_worker_app, serving
from bot.errors import HttpStartError
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.store.column_types import utcnow
from bot.store.models import RunClaim
from bot.store.worker_heartbeats import heartbeat_key, workers_seen
from tests.support.server_harness import free_port, make_settings


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _loop_exited(worker: Worker) -> None:
    """The loop passes every ``idle_wait`` (0.05 s) while it runs: still for 0.3 s, it is gone."""
    while True:
        before = worker.last_loop_at
        await asyncio.sleep(0.3)
        if worker.last_loop_at == before:
            return


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url=database_url, log_level="WARNING")
    async with open_runtime(settings) as rt:
        yield rt


async def test_a_loop_that_stopped_passing_is_reported_and_stops_counting(
    runtime: Runtime,
) -> None:
    worker = Worker(runtime, idle_wait=0.05)
    port = free_port()
    async with running_background(runtime, worker) as scheduler:
        app = create_worker_app(runtime, worker, scheduler)
        async with serving(app, host="127.0.0.1", port=port), httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/healthz"
            await _until(lambda: worker.last_loop_at is not None)
            assert (await client.get(url)).status_code == 200
            heartbeat = scheduler.get_job("heartbeat")
            assert heartbeat is not None
            await heartbeat.func()
            assert await workers_seen(runtime.sessions, now=utcnow()) == 1
            # The loop stops passing while the scheduler keeps ticking: a stalled worker.
            worker.stop()
            await _loop_exited(worker)
            worker.last_loop_at = time.monotonic() - 61
            response = await client.get(url)
            assert response.status_code == 503
            assert response.json()["worker"] == "stalled"
            assert response.json()["scheduler"] == "running"
            await heartbeat.func()  # writes the real (stale) time of the last pass
            assert await workers_seen(runtime.sessions, now=utcnow()) == 0
    # A clean shutdown removes the heartbeat row altogether.
    async with runtime.sessions() as session:
        assert await session.get(RunClaim, heartbeat_key(worker.worker_id)) is None


async def test_a_port_already_in_use_is_one_clear_error(runtime: Runtime) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = Worker(runtime)
        async with running_background(runtime, worker) as scheduler:
            app = create_worker_app(runtime, worker, scheduler)
            with pytest.raises(HttpStartError, match=f"cannot listen on 127.0.0.1:{port}"):
                async with serving(app, host="127.0.0.1", port=port):
                    pytest.fail("the block must not run without its port")
