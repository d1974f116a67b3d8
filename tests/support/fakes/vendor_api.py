"""A local HTTP server standing in for the Zendesk, Intercom, HubSpot and Stripe REST APIs.

The executors are tested against real sockets: the fake records every request exactly as it
arrived (method, path, query, headers, raw body) and answers the four documented endpoints with
response bodies shaped like the vendors' documented examples. Tests can queue status codes,
bodies and headers to drive retry and failure paths, or slow every answer down to force a
client-side timeout. Like Stripe, it replays the first successful answer for a repeated
``Idempotency-Key`` instead of refunding twice.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.support.fakes.loopback import FakeServer, JsonHandler, RecordingServer

__all__ = ["FakeVendorApi", "VendorRequest"]


@dataclass
class VendorRequest:
    """One request the fake received; ``body`` is the raw bytes."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 200

    def json(self) -> Any:
        """The body decoded as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body decoded as ``application/x-www-form-urlencoded`` (Stripe's format)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=True))


@dataclass
class _Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(JsonHandler):
    server: FakeServer[FakeVendorApi]

    def respond(self) -> None:
        headers, body = self.read_request()
        fake = self.server.fake
        status, payload, extra = fake._answer(self.command, self.path, headers, body)
        fake.pause()
        self.send_json(status, json.dumps(payload).encode(), extra)


class FakeVendorApi(RecordingServer[VendorRequest]):
    """All four vendor APIs on one loopback port; point each ``*_API_URL`` at ``url``."""

    def __init__(self) -> None:
        super().__init__()
        self._scripted: list[_Scripted] = []
        self._idempotent: dict[str, tuple[int, Any, dict[str, str]]] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    def _make_server(self) -> FakeServer[Self]:
        return FakeServer(_Handler, self)

    @property
    def url(self) -> str:
        """The base URL to configure as ``ZENDESK_API_URL``, ``STRIPE_API_URL``, …"""
        if self._server is None:
            raise RuntimeError("FakeVendorApi is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- scripting and inspection -------------------------------------------------------------

    def respond_with(
        self,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (and this body and headers)."""
        with self._lock:
            self._scripted.extend([_Scripted(status, body, dict(headers or {}))] * count)

    # --- answering ----------------------------------------------------------------------------

    def _answer(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        key = headers.get("idempotency-key")
        with self._lock:
            if key is not None and key in self._idempotent:
                status, payload, extra = self._idempotent[key]
                replay = {**extra, "Idempotent-Replayed": "true"}
                self._record(method, parts.path, parts.query, headers, body, status)
                return status, payload, replay
            scripted = self._scripted.pop(0) if self._scripted else None
            if scripted is not None and not 200 <= scripted.status < 300:
                payload = scripted.body if scripted.body is not None else _error_body(scripted)
                self._record(method, parts.path, parts.query, headers, body, scripted.status)
                return scripted.status, payload, scripted.headers
            status, payload, extra = _route(method, parts.path, body)
            if scripted is not None:
                status = scripted.status
                payload = scripted.body if scripted.body is not None else payload
                extra = {**extra, **scripted.headers}
            if key is not None and 200 <= status < 300:
                self._idempotent[key] = (status, payload, extra)
            self._record(method, parts.path, parts.query, headers, body, status)
            return status, payload, extra

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
    ) -> None:
        self._requests.append(
            VendorRequest(method, path, query, headers, body, time.time(), status)
        )


def _error_body(scripted: _Scripted) -> dict[str, Any]:
    return {"error": {"message": f"scripted failure {scripted.status}", "type": "fake_error"}}


_ZENDESK = re.compile(r"/api/v2/tickets/(\d+)\.json")
_INTERCOM = re.compile(r"/conversations/([A-Za-z0-9_-]+)/reply")
_HUBSPOT = re.compile(r"/crm/v3/objects/(contacts|deals|tickets)/(\d+)")


def _route(method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
    """A documented-looking success answer for the four endpoints the executors call."""
    if method == "PUT" and (match := _ZENDESK.fullmatch(path)):
        return 200, _zendesk_ticket(int(match.group(1)), json.loads(body)), {}
    if method == "POST" and (match := _INTERCOM.fullmatch(path)):
        return 200, _intercom_conversation(match.group(1), json.loads(body)), {}
    if method == "PATCH" and (match := _HUBSPOT.fullmatch(path)):
        return 200, _hubspot_object(match.group(2), json.loads(body)), {}
    if method == "POST" and path == "/v1/refunds":
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return 200, _stripe_refund(form), {"Request-Id": "req_fake0123456789"}
    return 404, {"error": f"the fake has no route {method} {path}"}, {}


def _zendesk_ticket(ticket_id: int, sent: dict[str, Any]) -> dict[str, Any]:
    # Shape of Zendesk's "Update Ticket" answer: the ticket and the audit of the change.
    ticket = sent.get("ticket", {})
    comment = ticket.get("comment", {})
    return {
        "ticket": {
            "id": ticket_id,
            "url": f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
            "status": ticket.get("status", "open"),
            "subject": "Cannot login to mobile app",
            "requester_id": 8447388090494,
            "updated_at": "2025-01-08T15:00:00Z",
        },
        "audit": {
            "id": 2127301143,
            "ticket_id": ticket_id,
            "created_at": "2025-01-08T15:00:00Z",
            "author_id": 8447388090495,
            "events": [
                {
                    "id": 2127301163,
                    "type": "Comment",
                    "body": comment.get("body", ""),
                    "public": comment.get("public", True),
                }
            ],
        },
    }


def _intercom_conversation(conversation_id: str, sent: dict[str, Any]) -> dict[str, Any]:
    # Shape of Intercom's "Reply to a conversation" answer: the conversation with the new part.
    return {
        "type": "conversation",
        "id": conversation_id,
        "state": "open",
        "open": True,
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [
                {
                    "type": "conversation_part",
                    "id": "7037849602",
                    "part_type": sent.get("message_type", "comment"),
                    "body": sent.get("body", ""),
                    "author": {"type": "admin", "id": sent.get("admin_id")},
                }
            ],
            "total_count": 1,
        },
    }


def _hubspot_object(object_id: str, sent: dict[str, Any]) -> dict[str, Any]:
    # Shape of HubSpot's CRM v3 "Update" answer (SimplePublicObject).
    return {
        "id": object_id,
        "properties": {"hs_object_id": object_id, **sent.get("properties", {})},
        "createdAt": "2024-03-23T22:56:07.000Z",
        "updatedAt": "2024-03-24T09:30:00.000Z",
        "archived": False,
    }


def _stripe_refund(form: dict[str, str]) -> dict[str, Any]:
    # Shape of Stripe's Refund object.
    return {
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "object": "refund",
        "amount": int(form.get("amount", "1000")),
        "balance_transaction": "txn_1Nispe2eZvKYlo2CYezqFhEx",
        "charge": form.get("charge", "ch_1NirD82eZvKYlo2CIvbtLWuY"),
        "created": 1692942318,
        "currency": "usd",
        "metadata": {
            key[len("metadata[") : -1]: value
            for key, value in form.items()
            if key.startswith("metadata[")
        },
        "payment_intent": form.get("payment_intent"),
        "reason": form.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
