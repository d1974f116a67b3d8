"""``POST /webhooks/generic``: verify, validate, store, answer. Nothing slow happens here.

Order matters: size first (never hash a 2 GB body), then the signature (never parse what an
unknown sender wrote), then JSON and the schema. A repeated ticket id answers 200 with the item
that already exists, so a sender's retries are safe.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bot import signing
from bot.item_store import ingest
from bot.logging_setup import get_logger
from bot.tickets import TicketIn
from handlers.request_body import BodyTooLargeError, read_body

log = get_logger(__name__)
router = APIRouter()


def _error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


@router.post("/webhooks/generic")
async def receive_generic(request: Request) -> JSONResponse:
    state = request.app.state
    settings = state.runtime.settings
    if settings.webhook_secret is None:
        return _error(503, "SIGNOFF_WEBHOOK_SECRET is not set; unsigned webhooks are refused")
    try:
        body = await read_body(request, settings.max_webhook_bytes)
    except BodyTooLargeError as exc:
        return _error(413, str(exc))
    try:
        signing.verify(
            settings.webhook_secret.get_secret_value(),
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            signature=request.headers.get(signing.SIGNATURE_HEADER),
            body=body,
        )
    except signing.SignatureError as exc:
        log.warning("generic webhook refused", reason=str(exc))
        return _error(401, "invalid signature", detail=str(exc))
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return _error(400, "body is not valid JSON", detail=str(exc))
    try:
        ticket = TicketIn.model_validate(payload)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
            for e in exc.errors()
        ]
        return _error(400, "invalid ticket", fields=problems)
    result = await ingest(state.runtime.sessions, "generic", ticket)
    if result.created:
        state.worker.notify()
        log.info("ticket received", item_id=result.item_id, source="generic")
        return JSONResponse({"item_id": result.item_id, "status": "accepted"}, status_code=202)
    log.info("duplicate delivery", item_id=result.item_id, source="generic")
    return JSONResponse(
        {"item_id": result.item_id, "status": "duplicate", "state": result.state}, status_code=200
    )
