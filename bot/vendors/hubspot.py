"""HubSpot: v3 webhook signatures, CRM change events, and property updates.

Signature (developers.hubspot.com, "Validating requests", v3):
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(app client secret, method + URI + body +
timestamp))`` with ``X-HubSpot-Request-Timestamp`` in milliseconds; requests older than five
minutes are refused. The URI is the full URL HubSpot called, with the percent-encodings HubSpot's
table lists decoded. Behind a proxy the URL Signoff sees is not the one HubSpot called, so
``HUBSPOT_WEBHOOK_URL`` names the public one; without it the URL is rebuilt from the request and
its ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` headers. The official ``hubspot-api-client``
package has a verifier, but it is a very large generated SDK for one HMAC, so the standard
library does it here, checked against the known answer from that SDK's own tests.

Events: HubSpot posts a JSON array of up to 100 events. ``contact.propertyChange``,
``deal.propertyChange``, ``ticket.creation`` and ``ticket.propertyChange`` become ``crm_event``
items; everything else in the batch is ignored. HubSpot says ``eventId`` alone is not guaranteed
to be unique, so the external id combines portal, subscription, event, object and time, which
are the same on every retry of one event.

Executor: ``PATCH /crm/v3/objects/{contacts|deals|tickets}/{id}`` with ``{"properties": {name:
value}}`` and a private-app bearer token (HubSpot CRM "Update" endpoints). A CRM event has no
conversation, so a reply or an escalation is recorded as not sent rather than failed; money
actions fail permanently. HubSpot's "Error handling" page gives two statuses their own meaning:
409 Conflict is a unique property value that another record already has (no retry changes that:
permanent), 423 Locked is a record busy with a large sync (retried after a wait).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

import httpx

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, PermanentError
from bot.logging_setup import get_logger
from bot.signing import TimedSignature, require_match
from bot.tickets import TicketIn
from bot.vendors.common import (
    MAX_BODY,
    MAX_SUBJECT,
    RETRYABLE_STATUS,
    StatusRules,
    VendorExecutor,
    clip,
    customer,
    event_kind,
    external_id,
    ident,
    iso_time,
    json_body,
    maybe_obj,
    obj,
    opt_int,
    opt_str,
    safe_path_id,
)

log = get_logger(__name__)

# The update is idempotent (the same value set twice is one change), so every retryable answer is
# sent again; 409 is not among them and 423 is.
STATUS_RULES = StatusRules(retryable=(RETRYABLE_STATUS - {409}) | {423})

SOURCE = "hubspot"
SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TYPE_KEY = "subscriptionType"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
_SCHEME = TimedSignature(
    SIGNATURE_HEADER, TIMESTAMP_HEADER, lambda ms: int(ms) / 1000, "a millisecond timestamp"
)
MAX_BATCH = 100

# subscriptionType → the CRM object type in the v3 objects API path.
HANDLED_SUBSCRIPTIONS: dict[str, str] = {
    "contact.propertyChange": "contacts",
    "deal.propertyChange": "deals",
    "ticket.creation": "tickets",
    "ticket.propertyChange": "tickets",
}
OBJECT_TYPES = frozenset(HANDLED_SUBSCRIPTIONS.values())
_SINGULAR = {"contacts": "contact", "deals": "deal", "tickets": "ticket"}

# The encodings HubSpot's v3 instructions say to decode in the URI before signing.
_URI_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(_URI_DECODE), re.IGNORECASE)


# --- signature ----------------------------------------------------------------------------------


def signed_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-encodings decoded, nothing else."""
    return _ENCODED.sub(lambda match: _URI_DECODE[match.group(0).upper()], uri)


def request_uri(*, configured: str | None, scheme: str, host: str, path: str, query: str) -> str:
    """The URL HubSpot called: the configured public URL when there is one (plus the request's
    query string when the configured URL has none), else rebuilt from what the request says."""
    suffix = f"?{query}" if query else ""
    if configured:
        return configured if "?" in configured else configured + suffix
    return f"{scheme}://{host}{path}{suffix}"


def sign(secret: str, *, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature HubSpot sends for this request."""
    message = method.upper().encode() + signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    *,
    signature: str | None,
    timestamp: str | None,
    method: str,
    uri: str,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless the v3 signature matches and is under five minutes old."""
    signature, timestamp = _SCHEME.check(secret, signature, timestamp, now=now)
    expected = sign(secret, method=method, uri=uri, body=body, timestamp=timestamp)
    require_match(expected, signature)


# --- events -------------------------------------------------------------------------------------


def events(payload: Any) -> list[dict[str, Any]]:
    """The events of one delivery: HubSpot sends an array (a lone object is accepted too)."""
    batch = [payload] if isinstance(payload, dict) else payload
    if not isinstance(batch, list):
        raise PayloadError("body must be an array of events")
    if len(batch) > MAX_BATCH:
        raise PayloadError(f"a batch has at most {MAX_BATCH} events, got {len(batch)}")
    return [obj(event, f"event [{index}]") for index, event in enumerate(batch)]


def is_own_change(event: dict[str, Any]) -> bool:
    """A change this same app made through the API (``changeSource`` INTEGRATION or API with the
    app's id as ``sourceId``): HubSpot sends it back to the app's own subscription, and taking it
    as a new event would loop an approved update into another review."""
    source = opt_str(event.get("changeSource"))
    app_id = opt_str(event.get("appId"))
    return (
        source in {"INTEGRATION", "API"}
        and app_id is not None
        and (opt_str(event.get("sourceId")) == app_id)
    )


def normalise(event: Any) -> TicketIn | None:
    """Map one event of a batch onto a ``crm_event``; ``None`` for subscription types ignored."""
    body = obj(event, "event")
    kind = event_kind(body, TYPE_KEY)
    object_type = HANDLED_SUBSCRIPTIONS.get(kind)
    if object_type is None:
        return None
    object_id = ident(body.get("objectId"), "objectId")
    event_id = ident(body.get("eventId"), "eventId")
    portal_id = ident(body.get("portalId"), "portalId")
    subscription_id = opt_str(body.get("subscriptionId")) or "0"
    occurred_at = opt_int(body.get("occurredAt"), "occurredAt")
    prop = opt_str(body.get("propertyName"))
    value = body.get("propertyValue")
    value_text = "" if value is None else str(value)
    noun = _SINGULAR[object_type]
    when = (iso_time(occurred_at / 1000) if occurred_at is not None else None) or "an unknown time"
    source = opt_str(body.get("changeSource")) or "unknown"
    by = opt_str(body.get("sourceId"))
    if is_own_change(body):
        return None  # the echo of a property Signoff's executor just wrote
    if kind == "ticket.creation":
        subject = f"HubSpot ticket {object_id} created"
        lines = [f"A ticket was created in HubSpot at {when}."]
    else:
        subject = f"HubSpot {noun} {object_id}: {prop or 'a property'} changed to {value_text!r}"
        lines = [
            f"The {noun}'s property {prop or '(unnamed)'} changed at {when}.",
            f"New value: {value_text}",
        ]
    lines.append(f"Change source: {source}" + (f" ({by})" if by else ""))
    email = value_text if object_type == "contacts" and prop == "email" else None
    return TicketIn(
        id=external_id(portal_id, subscription_id, event_id, object_id, str(occurred_at or 0)),
        kind="crm_event",
        subject=clip(subject, MAX_SUBJECT),
        body=clip("\n".join(lines), MAX_BODY),
        customer=customer(SOURCE, f"{noun}-{object_id}", email=email),
        metadata={
            "hubspot_object_type": object_type,
            "hubspot_object_id": object_id,
            "hubspot_portal_id": portal_id,
            "hubspot_event_id": event_id,
            "hubspot_subscription_type": kind,
            "hubspot_property_name": prop,
            "hubspot_property_value": value_text if prop else None,
            "hubspot_change_source": source,
            "hubspot_occurred_at": occurred_at,
        },
    )


# --- executor -----------------------------------------------------------------------------------


class HubSpotExecutor(VendorExecutor):
    """Updates one property of the contact, deal or ticket the event was about."""

    name = SOURCE
    title = "HubSpot"
    rules = STATUS_RULES
    # Setting a property to the same value twice is one change.
    resends_safely = True

    def __init__(self, *, api_url: str, access_token: str, client: httpx.AsyncClient) -> None:
        super().__init__(api_url=api_url, client=client)
        self._token = access_token

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        kind = request.action.get("kind")
        if kind in {"reply", "escalate"}:
            return self.not_sent(request, "a HubSpot CRM event")
        if kind != "update_field":
            raise PermanentError(f"HubSpot cannot perform a {kind!r} action")
        field = request.action.get("field")
        value = request.action.get("value")
        if not isinstance(field, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,100}", field):
            raise PermanentError(f"update_field needs a HubSpot property name, got {field!r}")
        if not isinstance(value, str):
            raise PermanentError("update_field needs a value")
        object_type = request.metadata.get("hubspot_object_type")
        if object_type not in OBJECT_TYPES:
            raise PermanentError(f"item metadata has no HubSpot object type (got {object_type!r})")
        object_id = safe_path_id(
            request.metadata.get("hubspot_object_id"), r"[0-9]{1,20}", "HubSpot object id"
        )
        response = await self.call(
            "PATCH",
            f"/crm/v3/objects/{object_type}/{object_id}",
            headers={"Authorization": f"Bearer {self._token}"},
            json={"properties": {field: value}},
        )
        answer = json_body(response)
        properties = maybe_obj(answer.get("properties"))
        log.info("hubspot object updated", item_id=request.item_id, object_id=object_id)
        return self.sent(
            response,
            object_type=object_type,
            object_id=answer.get("id", object_id),
            property=field,
            value=properties.get(field, value),
            updated_at=answer.get("updatedAt"),
        )


__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TYPE_KEY",
    "HubSpotExecutor",
    "events",
    "normalise",
    "request_uri",
    "sign",
    "signed_uri",
    "verify",
]
