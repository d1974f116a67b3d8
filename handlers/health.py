"""``GET /healthz``: is the database reachable, is the scheduler running, is the worker looping.

The same route serves ``serve`` and a ``work`` process given a port. A process with its own worker
reports that worker. A web process without one (``SIGNOFF_INPROCESS_WORKER=false``) cannot see a
loop of its own, so it reports the workers whose heartbeats it can see in the database
(``bot/worker_heartbeats.py``). With none it says ``degraded`` but still answers 200: the web
process itself is fine (it verifies, stores and acks; nothing is lost until a worker comes), and
a load balancer must not stop sending Slack and webhooks to it because a *worker* is down. Alert
on ``status`` (or ``signoff_items{state="received"}`` growing) instead.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.runtime import Runtime
from bot.store.models import utcnow
from bot.store.worker_heartbeats import STALE_AFTER, workers_seen

router = APIRouter()
WORKER_STALE_SECONDS = STALE_AFTER.total_seconds()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    rt: Runtime = state.runtime
    checks: dict[str, str] = {"database": await _database(rt)}
    if state.scheduler is None:  # SIGNOFF_INPROCESS_WORKER=false: `work` processes do the work
        checks["scheduler"] = checks["worker"] = "external"
        checks["workers"], alive = await _external_workers(
            rt, database_ok=checks["database"] == "ok"
        )
    else:
        checks["scheduler"] = "running" if state.scheduler.running else "stopped"
        alive = _loop_is_recent(state.worker.last_loop_at)
        checks["worker"] = "running" if alive else "stalled"
    healthy = checks["database"] == "ok" and checks["scheduler"] != "stopped"
    if state.scheduler is not None:
        healthy = healthy and alive
    status = "ok" if healthy and alive else "degraded" if healthy else "unhealthy"
    body: dict[str, Any] = {"status": status, **checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _database(rt: Runtime) -> str:
    try:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _loop_is_recent(last_loop_at: float | None) -> bool:
    return last_loop_at is not None and time.monotonic() - last_loop_at < WORKER_STALE_SECONDS


async def _external_workers(rt: Runtime, *, database_ok: bool) -> tuple[str, bool]:
    """The ``workers`` line and whether at least one worker is alive."""
    window = f"in the last {WORKER_STALE_SECONDS:g} s"
    if not database_ok:
        return "unknown: the database is unreachable", False
    seen = await workers_seen(rt.sessions, now=utcnow())
    return (f"{seen} seen {window}" if seen else f"none seen {window}"), seen > 0
