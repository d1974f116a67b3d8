"""``GET /healthz`` and ``GET /metrics`` for a ``python -m bot work`` process.

A worker process is where executions, LLM calls and Slack retries are counted, and where a
stalled loop happens, so in a split deployment it needs its own scrape and health endpoints. They
are the same routers as ``serve`` (``handlers.health``, ``handlers.metrics``) over the worker's
own runtime, served by uvicorn in the worker's event loop: no thread, no second process. Slack and
webhook routes are not mounted; those belong to ``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI

from bot.entrypoints.fastapi_app import signoff_api
from bot.errors import HttpStartError
from bot.pipeline.worker import Worker
from bot.runtime import Runtime
from handlers import health, metrics


def create_worker_app(rt: Runtime, worker: Worker, scheduler: AsyncIOScheduler) -> FastAPI:
    """The two routers read ``app.state`` exactly as they do in ``serve``."""
    app = signoff_api("Signoff worker")
    app.state.runtime = rt
    app.state.worker = worker
    app.state.scheduler = scheduler
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the ``work`` command owns SIGTERM/SIGINT and stops
    the worker first; uvicorn's would take them over and stop only the HTTP side."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, *, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on ``host:port`` until the block ends; raises ``HttpStartError`` when the
    port cannot be opened, before the block runs."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    )

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits the process when it cannot bind
            raise HttpStartError(f"cannot listen on {host}:{port} (see the log above)") from exc

    task = asyncio.create_task(run(), name="signoff-worker-http")
    while not server.started:
        if task.done():
            task.result()  # raises HttpStartError
            raise HttpStartError(f"the HTTP server on {host}:{port} stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
