"""``POST /webhooks/generic``: verify, validate, store, answer. Nothing slow happens here.

Reading, verifying and parsing are ``handlers.webhooks.intake``'s (size, then signature, then
JSON and schema). A repeated ticket id answers 200 with the item that already exists, so a
sender's retries are safe.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.logging_setup import get_logger
from bot.store.ingest import ingest
from bot.tickets import TicketIn
from handlers.webhooks.intake import shared_secret_verifier, signed_json, validated

log = get_logger(__name__)
router = APIRouter()


@router.post("/webhooks/generic")
async def receive_generic(request: Request) -> JSONResponse:
    state = request.app.state
    settings = state.runtime.settings
    verify = shared_secret_verifier(request, settings)
    payload = await signed_json(request, limit=settings.max_webhook_bytes, verify=verify)
    ticket = validated(TicketIn, payload, summary="invalid ticket")
    result = await ingest(state.runtime.sessions, "generic", ticket)
    # Debug, not info: the audit log's ``received`` row already records every new ticket, and
    # at hundreds of webhooks a second one more JSON log line each was 5% of the CPU (py-spy).
    if result.created:
        state.worker.notify()
        log.debug("ticket received", item_id=result.item_id, source="generic")
        return JSONResponse({"item_id": result.item_id, "status": "accepted"}, status_code=202)
    log.debug("duplicate delivery", item_id=result.item_id, source="generic")
    return JSONResponse(
        {"item_id": result.item_id, "status": "duplicate", "state": result.state}, status_code=200
    )
