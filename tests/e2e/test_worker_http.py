"""A ``python -m bot work`` process given a port serves ``/healthz`` and ``/metrics``: the
executions it performed are scraped from it, a loop that stopped passing is reported, and a port
it cannot open stops it with one clear line instead of a worker nobody can see."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from bot.entrypoints.background import running_background
from bot.entrypoints.worker_http import create_worker_app, serving
from bot.errors import HttpStartError
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.store.database import sync_url
from bot.store.models import RunClaim, utcnow
from bot.store.worker_heartbeats import heartbeat_key, workers_seen
from tests.support.approved_items import seed_approved
from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import WEBHOOK_SECRET, free_port, make_settings, wait_until
from tests.support.worker_processes import logs, start_worker, stop, worker_env


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def test_a_work_process_with_a_port_serves_health_and_its_own_counters(
    database_url: str, tmp_path: Path
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        ids = seed_approved(db, 3)
    finally:
        db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with HttpSink() as sink:
        env = worker_env(
            database_url,
            PORT=str(port),
            HOST="127.0.0.1",
            SIGNOFF_ACTION_URL=sink.url,
            SIGNOFF_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        process = start_worker(env, tmp_path, "worker")
        try:
            health = wait_until(
                lambda: ((r := _get(f"{base}/healthz")) is not None and r) or process.poll(),
                timeout=60,
                what="the worker's /healthz",
            )
            assert isinstance(health, httpx.Response), logs(tmp_path)
            assert health.status_code == 200
            assert health.json() == {
                "status": "ok",
                "database": "ok",
                "scheduler": "running",
                "worker": "running",
            }
            wait_until(lambda: len(sink.requests) >= len(ids), timeout=30, what="3 executions")

            def executed() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
                samples = _samples(httpx.get(f"{base}/metrics", timeout=2).text)
                done = samples.get(("signoff_executions_total", (("result", "executed"),)))
                return samples if done == len(ids) else None

            # Counted where they happened, in this process: `serve` never saw these executions.
            samples = wait_until(executed, timeout=15, what="executions in the worker's metrics")
            assert samples[("signoff_items", (("state", "executed"),))] == len(ids)
            # Health and metrics only: Slack and webhooks belong to `serve`.
            assert httpx.post(f"{base}/webhooks/generic", content=b"{}").status_code == 404
            assert httpx.post(f"{base}/slack/events", content=b"{}").status_code == 404
        finally:
            assert stop(process) == 0, logs(tmp_path)
    assert _get(f"{base}/healthz") is None  # the port closed with the worker


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
