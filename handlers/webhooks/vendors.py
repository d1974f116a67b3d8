"""``POST /webhooks/{zendesk,intercom,hubspot,stripe}``: the generic webhook's pattern, per vendor.

Order matters, as in ``handlers.webhooks.generic``: a disabled source answers 503 before reading
anything; then the size limit (413), the vendor's own signature (401, nothing stored), JSON (400),
the vendor's documented shape (400 naming the problem), and only then storage. Every event of a
delivery is normalised before any is stored, so a HubSpot batch with one bad event stores none
and HubSpot's retry of the whole batch is clean. Event types Signoff does not act on answer 200
``{"status": "ignored"}`` (a non-2xx would only make the vendor retry them) and are logged.

Everything vendor-specific (headers, signature schemes, payload shapes) lives in
``bot.vendors.*``; this module only adapts a Starlette request to those pure functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bot.errors import InputRejectedError, PayloadError
from bot.logging_setup import get_logger
from bot.store.ingest import IngestResult, ingest
from bot.tickets import TicketIn
from bot.vendors import hubspot, intercom, stripe, zendesk
from bot.vendors.common import event_kind
from bot.vendors.settings import SOURCE_SECRET_SETTINGS, VendorSettings
from handlers.webhooks.intake import field_problems, signed_json

log = get_logger(__name__)
router = APIRouter()

Verifier = Callable[[Request, bytes, str, VendorSettings], None]


@dataclass(frozen=True)
class _Source:
    name: str
    title: str
    verify: Verifier
    type_key: str  # where an event names its type
    normalise: Callable[[Any], TicketIn | None]
    # A delivery's events: one for most vendors, a batch for HubSpot.
    split: Callable[[Any], list[Any]] = lambda payload: [payload]
    batch: bool = False


def _verify_zendesk(request: Request, body: bytes, secret: str, _: VendorSettings) -> None:
    zendesk.verify(
        secret,
        signature=request.headers.get(zendesk.SIGNATURE_HEADER),
        timestamp=request.headers.get(zendesk.TIMESTAMP_HEADER),
        body=body,
    )


def _verify_intercom(request: Request, body: bytes, secret: str, _: VendorSettings) -> None:
    intercom.verify(secret, signature=request.headers.get(intercom.SIGNATURE_HEADER), body=body)


def _verify_hubspot(request: Request, body: bytes, secret: str, settings: VendorSettings) -> None:
    headers = request.headers
    uri = hubspot.request_uri(
        configured=settings.hubspot_webhook_url,
        scheme=_first(headers.get("x-forwarded-proto")) or request.url.scheme,
        host=_first(headers.get("x-forwarded-host")) or headers.get("host") or request.url.netloc,
        path=request.url.path,
        query=request.url.query,
    )
    hubspot.verify(
        secret,
        signature=headers.get(hubspot.SIGNATURE_HEADER),
        timestamp=headers.get(hubspot.TIMESTAMP_HEADER),
        method=request.method,
        uri=uri,
        body=body,
    )


def _verify_stripe(request: Request, body: bytes, secret: str, _: VendorSettings) -> None:
    stripe.verify(secret, signature=request.headers.get(stripe.SIGNATURE_HEADER), body=body)


def _first(value: str | None) -> str | None:
    """The first entry of a forwarded header (proxies append theirs after a comma)."""
    if not value:
        return None
    return value.split(",")[0].strip() or None


SOURCES: dict[str, _Source] = {
    source.name: source
    for source in (
        _Source("zendesk", "Zendesk", _verify_zendesk, zendesk.TYPE_KEY, zendesk.normalise),
        _Source("intercom", "Intercom", _verify_intercom, intercom.TYPE_KEY, intercom.normalise),
        _Source(
            "hubspot",
            "HubSpot",
            _verify_hubspot,
            hubspot.TYPE_KEY,
            hubspot.normalise,
            split=hubspot.events,
            batch=True,
        ),
        _Source("stripe", "Stripe", _verify_stripe, stripe.TYPE_KEY, stripe.normalise),
    )
}


def _endpoint(source: _Source) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The route function for one source: the same steps for every vendor, bound to its own."""

    async def receive(request: Request) -> JSONResponse:
        return await _receive(request, source)

    return receive


# One fixed path per source (not ``/webhooks/{vendor}``), so an unknown vendor is a plain 404.
for _each in SOURCES.values():
    router.add_api_route(
        f"/webhooks/{_each.name}",
        _endpoint(_each),
        methods=["POST"],
        name=f"receive_{_each.name}",
        response_class=JSONResponse,
    )


async def _receive(request: Request, source: _Source) -> JSONResponse:
    state = request.app.state
    settings: VendorSettings | None = getattr(state, "vendor_settings", None)
    secret = settings.source_secret(source.name) if settings is not None else None
    if settings is None or secret is None:
        setting = SOURCE_SECRET_SETTINGS[source.name]
        raise InputRejectedError(
            f"{setting} is not set; {source.title} webhooks are refused", status=503
        )

    def verify(body: bytes) -> None:
        source.verify(request, body, secret.get_secret_value(), settings)

    payload = await signed_json(
        request, limit=state.runtime.settings.max_webhook_bytes, verify=verify
    )
    try:
        events = source.split(payload)
        tickets = [
            (event_kind(event, source.type_key), source.normalise(event)) for event in events
        ]
    except ValidationError as exc:
        problems = field_problems(exc)
        log.warning("vendor payload refused", source=source.name, problems=problems)
        raise PayloadError(
            "", summary=f"unexpected {source.title} payload", fields=problems
        ) from None
    except PayloadError as exc:
        log.warning("vendor payload refused", source=source.name, reason=str(exc))
        raise PayloadError(str(exc), summary=f"unexpected {source.title} payload") from None

    results: list[IngestResult] = []
    ignored: list[str] = []
    for kind, ticket in tickets:
        if ticket is None:
            ignored.append(kind)
            log.info("vendor event ignored", source=source.name, event_type=kind)
            continue
        result = await ingest(state.runtime.sessions, source.name, ticket)
        log.debug(  # as in ``generic``: the audit log's ``received`` row records a new ticket
            "ticket received" if result.created else "duplicate delivery",
            item_id=result.item_id,
            source=source.name,
            event_type=kind,
        )
        results.append(result)
    if any(result.created for result in results):
        state.worker.notify()
    return _answer(source, results, ignored)


def _answer(source: _Source, results: list[IngestResult], ignored: list[str]) -> JSONResponse:
    created = any(result.created for result in results)
    if source.batch:
        status = "accepted" if created else "duplicate" if results else "ignored"
        items = [
            {
                "item_id": r.item_id,
                "status": "accepted" if r.created else "duplicate",
                "state": r.state,
            }
            for r in results
        ]
        return JSONResponse(
            {"status": status, "items": items, "ignored": len(ignored)},
            status_code=202 if created else 200,
        )
    if not results:
        return JSONResponse(
            {"status": "ignored", "event_type": ignored[0] if ignored else None}, status_code=200
        )
    result = results[0]
    if result.created:
        return JSONResponse({"item_id": result.item_id, "status": "accepted"}, status_code=202)
    return JSONResponse(
        {"item_id": result.item_id, "status": "duplicate", "state": result.state}, status_code=200
    )


__all__ = ["SOURCES", "router"]
