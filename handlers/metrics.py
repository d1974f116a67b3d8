"""``GET /metrics`` in the Prometheus text format, behind a bearer token when one is set.

With ``SIGNOFF_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``; the
token is compared in constant time (``bot.signing.signatures_match``). Unset, the endpoint is
open, as Prometheus expects by default: keep it off the internet then.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bot.runtime import Runtime
from bot.signing import signatures_match
from bot.stats.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    token = rt.settings.metrics_token
    if token is not None and not _bearer_matches(request, token.get_secret_value()):
        return Response(
            "metrics need Authorization: Bearer <SIGNOFF_METRICS_TOKEN>\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await rt.metrics.refresh(rt.sessions)
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and signatures_match(token, given)
