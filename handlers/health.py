"""The probes: ``/livez`` (the process runs), ``/readyz`` (it can do its work) and ``/healthz``.

``/livez`` touches nothing outside the process, so a database outage never makes an
orchestrator restart healthy pods: restarting would not bring the database back. ``/readyz``
checks what serving needs: the database answers, its schema is at the code's migrations, the
scheduler runs and a worker is looping. ``/healthz`` is ``/readyz`` under its old name, with the
same JSON (it gained the ``migrations`` line).

The same router serves ``serve`` and a ``work`` process given a port. A process with its own
worker reports that worker. A web process without one (``SIGNOFF_INPROCESS_WORKER=false``) cannot
see a loop of its own, so it reports the workers whose heartbeats it can see in the database
(``bot/store/worker_heartbeats.py``). With none it says ``degraded`` but still answers 200: the web
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
from bot.store.column_types import utcnow
from bot.store.schema_check import schema_behind
from bot.store.worker_heartbeats import STALE_AFTER, workers_seen

router = APIRouter()
WORKER_STALE_SECONDS = STALE_AFTER.total_seconds()


@router.get("/livez")
async def livez() -> JSONResponse:
    """The process runs and its event loop answers; nothing else is asked."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    rt: Runtime = state.runtime
    database, migrations = await _database(rt)
    checks: dict[str, str] = {"database": database, "migrations": migrations}
    database_ok = database == "ok"
    if state.scheduler is None:  # SIGNOFF_INPROCESS_WORKER=false: `work` processes do the work
        checks["scheduler"] = checks["worker"] = "external"
        checks["workers"], alive = await _external_workers(rt, database_ok=database_ok)
    else:
        checks["scheduler"] = "running" if state.scheduler.running else "stopped"
        alive = _loop_is_recent(state.worker.last_loop_at)
        checks["worker"] = "running" if alive else "stalled"
    healthy = database_ok and migrations == "current" and checks["scheduler"] != "stopped"
    if state.scheduler is not None:
        healthy = healthy and alive
    status = "ok" if healthy and alive else "degraded" if healthy else "unhealthy"
    body: dict[str, Any] = {"status": status, **checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


# The old name, kept for the load balancers and dashboards that already ask it.
router.add_api_route("/healthz", readyz, methods=["GET"])


async def _database(rt: Runtime) -> tuple[str, str]:
    """(database, migrations): "ok" and "current", or what is wrong with each."""
    try:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            url = rt.settings.database_url
            behind = await connection.run_sync(lambda sync: schema_behind(sync, url))
    except Exception as exc:
        return f"error: {exc.__class__.__name__}", "unknown: the database is unreachable"
    return "ok", "current" if behind is None else f"behind: {behind}"


def _loop_is_recent(last_loop_at: float | None) -> bool:
    return last_loop_at is not None and time.monotonic() - last_loop_at < WORKER_STALE_SECONDS


async def _external_workers(rt: Runtime, *, database_ok: bool) -> tuple[str, bool]:
    """The ``workers`` line and whether at least one worker is alive."""
    window = f"in the last {WORKER_STALE_SECONDS:g} s"
    if not database_ok:
        return "unknown: the database is unreachable", False
    seen = await workers_seen(rt.sessions, now=utcnow())
    return (f"{seen} seen {window}" if seen else f"none seen {window}"), seen > 0
