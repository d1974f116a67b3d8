"""``GET /metrics`` in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bot.stats.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    rt = request.app.state.runtime
    await rt.metrics.refresh(rt.sessions)
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)
