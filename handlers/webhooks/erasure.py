"""``POST /webhooks/erasure``: a ticketing system forwards a data subject's deletion request.

Signed like ``/webhooks/generic`` (``SIGNOFF_WEBHOOK_SECRET``; size, then signature, then JSON
and schema). The body names the customer's e-mail and/or item ids, and who asked (for the audit
log). It erases at once and answers with counts, never the data; an item still executing is
named in ``busy``, and sending the request again erases it later.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from bot.erasure.request import ErasureTools, erase
from handlers.webhooks.intake import shared_secret_verifier, signed_json, validated

router = APIRouter()


class ErasureRequest(BaseModel):
    customer_email: str | None = Field(
        default=None, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    )
    item_ids: list[str] = Field(default_factory=list, max_length=100)
    requested_by: str = Field(default="webhook", min_length=1, max_length=64)

    @model_validator(mode="after")
    def _says_whose(self) -> ErasureRequest:
        if not self.customer_email and not self.item_ids:
            raise ValueError("name customer_email or item_ids")
        return self


@router.post("/webhooks/erasure")
async def receive_erasure(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    settings = runtime.settings
    verify = shared_secret_verifier(request, settings)
    payload = await signed_json(request, limit=settings.max_webhook_bytes, verify=verify)
    wanted = validated(ErasureRequest, payload, summary="invalid erasure request")
    report = await erase(
        ErasureTools.of(runtime),
        requested_by=f"webhook:{wanted.requested_by}"[:64],
        via="webhook",
        email=wanted.customer_email,
        item_ids=wanted.item_ids,
    )
    return JSONResponse(
        {
            "status": "erased" if not report.busy else "partly_erased",
            "items": len(report.items),
            "busy": list(report.busy),
            "slack_messages_rewritten": report.slack.cards + report.slack.thread_lines,
        }
    )
