"""Zendesk: webhook signatures, ticket events, and answers through the Tickets API.

Signature (developer.zendesk.com, "Verifying webhook authenticity"):
``X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(signing secret, timestamp + raw body))`` where
the timestamp is the ``X-Zendesk-Webhook-Signature-Timestamp`` header exactly as sent (ISO 8601,
e.g. ``2021-03-25T05:09:27Z``). Zendesk ships no verification library, so this is the standard
library's ``hmac`` with a constant-time compare. Zendesk documents no replay window; Signoff
applies the same five minutes as its other sources.

Events: a webhook subscribed to Zendesk's ticket events (``zen:event-type:ticket.*``, schema
version 2022-11-06). ``ticket.created`` becomes an item; so does ``ticket.comment_added`` when the
comment is public and its author is not staff (a customer's follow-up). Agent comments are
ignored, which also keeps Signoff's own replies from coming back as new tickets. The first
comment of a ticket is its description and is already covered by ``ticket.created``. The event's
``id`` is unique per event, so redeliveries of one event are one item.

Executor: ``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {"comment": {"body", "public"},
"status"}}`` and basic auth ``{email}/token:{api_token}`` (Zendesk "Tickets" and "API token"
docs). A reply is a public comment and sets ``ZENDESK_REPLY_STATUS`` (default ``pending``: the
customer's next message reopens the ticket); an escalation is an internal note and sets ``open``.
Zendesk cannot move money or change customer records, so those actions fail permanently here
rather than pretending to succeed. A 409 Conflict from Zendesk is an update that collided with
another one to the same ticket and was not applied, so it is retried like a 429, even though a
comment sent twice would be posted twice: Zendesk did not post this one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError
from bot.logging_setup import get_logger
from bot.signing import TimedSignature, require_match
from bot.tickets import TicketIn
from bot.vendors.common import (
    RETRYABLE_STATUS,
    StatusRules,
    VendorExecutor,
    at,
    customer,
    envelope,
    ident,
    json_body,
    maybe_obj,
    opt_str,
    safe_path_id,
    vendor_ticket,
)
from bot.vendors.conversation_actions import reply_or_note

log = get_logger(__name__)

# 429 (throttled) and 409 (a conflicting update, not applied) say Zendesk did nothing: safe to
# send the comment again. After any other retryable answer it may have posted it.
STATUS_RULES = StatusRules(retryable=RETRYABLE_STATUS, not_acted=frozenset({409, 429}))

SOURCE = "zendesk"
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
TYPE_KEY = "type"

TICKET_CREATED = "zen:event-type:ticket.created"
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
HANDLED_EVENTS = frozenset({TICKET_CREATED, COMMENT_ADDED})


# --- signature ----------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for ``body`` at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless the signature matches and the timestamp is recent."""
    signature, timestamp = _SCHEME.check(secret, signature, timestamp, now=now)
    require_match(sign(secret, timestamp, body), signature)


def _iso_seconds(timestamp: str) -> float:
    """Zendesk sends UTC with a "Z"; a timestamp without an offset is read as UTC, never local."""
    parsed = datetime.fromisoformat(timestamp)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


_SCHEME = TimedSignature(SIGNATURE_HEADER, TIMESTAMP_HEADER, _iso_seconds, "an ISO 8601 timestamp")


# --- events -------------------------------------------------------------------------------------


def normalise(payload: Any) -> TicketIn | None:
    """Map a ticket event onto ``TicketIn``; ``None`` for events Signoff does not act on."""
    event = envelope(payload, type_key=TYPE_KEY, handled=HANDLED_EVENTS)
    if event is None:
        return None
    detail = at(event.body, "detail")
    ticket_id = ident(detail.get("id"), "detail.id")
    subject = opt_str(detail.get("subject")) or f"Zendesk ticket #{ticket_id}"
    raw_description = detail.get("description")
    description = raw_description if isinstance(raw_description, str) else ""
    requester_id = opt_str(detail.get("requester_id")) or "unknown"
    tags = detail.get("tags")
    via = detail.get("via")
    metadata: dict[str, Any] = {
        "zendesk_ticket_id": ticket_id,
        "zendesk_event_id": event.id,
        "zendesk_event_type": event.kind,
        "zendesk_account_id": event.body.get("account_id"),
        "zendesk_requester_id": requester_id,
        "zendesk_status": opt_str(detail.get("status")),
        "zendesk_priority": opt_str(detail.get("priority")),
        "zendesk_tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        "zendesk_channel": opt_str(via.get("channel")) if isinstance(via, dict) else None,
    }
    if event.kind == TICKET_CREATED:
        return vendor_ticket(
            event.id,
            subject=subject,
            body=description,
            customer=customer(SOURCE, requester_id),
            metadata=metadata,
        )
    comment = at(event.body, "event.comment")
    author = maybe_obj(comment.get("author"))
    if comment.get("is_public") is not True or author.get("is_staff") is True:
        return None  # an internal note, or an agent (perhaps Signoff itself) answering
    text = comment.get("body")
    if not isinstance(text, str):
        raise PayloadError("event.comment.body must be a string")
    if text.strip() == description.strip():
        return None  # the ticket's first comment: already an item through ticket.created
    author_id = opt_str(author.get("id")) or requester_id
    metadata["zendesk_comment_id"] = opt_str(comment.get("id"))
    metadata["zendesk_author_id"] = author_id
    return vendor_ticket(
        event.id,
        subject=f"Re: {subject}",
        body=text,
        customer=customer(SOURCE, author_id, name=opt_str(author.get("name"))),
        metadata=metadata,
    )


# --- executor -----------------------------------------------------------------------------------


class ZendeskExecutor(VendorExecutor):
    """Answers a Zendesk ticket: a public reply, or an internal note for an escalation."""

    name = SOURCE
    title = "Zendesk"
    rules = STATUS_RULES

    def __init__(
        self,
        *,
        api_url: str,
        email: str,
        api_token: str,
        client: httpx.AsyncClient,
        reply_status: str = "pending",
    ) -> None:
        super().__init__(api_url=api_url, client=client)
        self._auth = httpx.BasicAuth(f"{email}/token", api_token)
        self._reply_status = reply_status

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        public, text = reply_or_note(request, self.title, _escalation_note(request))
        comment = {"body": text, "public": public}
        status = self._reply_status if public else "open"
        ticket_id = safe_path_id(
            request.metadata.get("zendesk_ticket_id"), r"[0-9]{1,20}", "Zendesk ticket id"
        )
        response = await self.call(
            "PUT",
            f"/api/v2/tickets/{ticket_id}.json",
            idempotent=False,  # a second send is a second reply to the customer
            auth=self._auth,
            json={"ticket": {"comment": comment, "status": status}},
        )
        answer = json_body(response)
        ticket = maybe_obj(answer.get("ticket"))
        audit = maybe_obj(answer.get("audit"))
        log.info("zendesk ticket updated", item_id=request.item_id, ticket_id=ticket_id)
        return self.sent(
            response,
            ticket_id=ticket.get("id", ticket_id),
            ticket_status=ticket.get("status", status),
            public=comment["public"],
            audit_id=audit.get("id"),
        )


def _escalation_note(request: ActionRequest) -> str:
    approver = (
        f"policy {request.policy}"
        if request.approved_by == "auto"
        else f"Slack user {request.approved_by}"
    )
    return f"Signoff escalated this ticket (item {request.item_id}, approved by {approver})."


__all__ = [
    "COMMENT_ADDED",
    "SIGNATURE_HEADER",
    "TICKET_CREATED",
    "TIMESTAMP_HEADER",
    "TYPE_KEY",
    "ZendeskExecutor",
    "normalise",
    "sign",
    "verify",
]
