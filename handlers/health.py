"""``GET /healthz``: is the database reachable, is the scheduler running, is the worker looping."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter()
WORKER_STALE_SECONDS = 60.0


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        async with state.runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    if state.scheduler is None:  # SIGNOFF_INPROCESS_WORKER=false: `work` processes do the work
        checks["scheduler"] = checks["worker"] = "external"
        alive = True
    else:
        checks["scheduler"] = "running" if state.scheduler.running else "stopped"
        last = state.worker.last_loop_at
        alive = last is not None and time.monotonic() - last < WORKER_STALE_SECONDS
        checks["worker"] = "running" if alive else "stalled"
    healthy = checks["database"] == "ok" and checks["scheduler"] != "stopped" and alive
    return JSONResponse(
        {"status": "ok" if healthy else "unhealthy", **checks}, status_code=200 if healthy else 503
    )
