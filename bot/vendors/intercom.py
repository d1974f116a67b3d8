"""Intercom: webhook signatures, conversation notifications, and admin replies.

Signature (developers.intercom.com, "Webhooks: signed notifications"):
``X-Hub-Signature: sha1=<hex HMAC-SHA1(app client secret, raw body)>``. Intercom's Python SDK has
no verifier, so this is the standard library's ``hmac`` with a constant-time compare. The scheme
has no timestamp, so there is no replay window to check; a replayed notification carries the same
notification ``id`` and is answered as a duplicate, never stored twice.

Events: notifications (``"type": "notification_event"``) whose ``data.item`` is a Conversation
(API 2.x shape: ``source`` for the first message, ``conversation_parts`` for later ones).
``conversation.user.created`` and ``conversation.user.replied`` become items; ``ping`` (sent when
the webhook is saved) and every other topic are ignored. Admin replies are a different topic, so
Signoff's own replies never come back as tickets.

Executor: ``POST /conversations/{id}/reply`` with ``{"message_type": "comment", "type": "admin",
"admin_id", "body"}`` and a bearer access token (Intercom "Reply to a conversation"). An
escalation is posted as ``"message_type": "note"``, visible to teammates only. Bodies are sent as
escaped HTML paragraphs because Intercom renders reply bodies as HTML. Intercom's "HTTP
responses" page documents 409 as existing data that clashes with the request (several users with
one email): sending the same request again clashes again, so it fails permanently.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, SignatureError
from bot.logging_setup import get_logger
from bot.signing import require_key, require_match
from bot.tickets import TicketIn
from bot.vendors.common import (
    RETRYABLE_STATUS,
    StatusRules,
    VendorExecutor,
    at,
    customer,
    envelope,
    html_to_text,
    ident,
    json_body,
    obj,
    opt_str,
    safe_path_id,
    text_to_html,
    vendor_ticket,
)
from bot.vendors.conversation_actions import reply_or_note

log = get_logger(__name__)

# Only a 429 says Intercom did nothing; 409 is a data clash that a retry cannot fix.
STATUS_RULES = StatusRules(retryable=RETRYABLE_STATUS - {409})

SOURCE = "intercom"
SIGNATURE_HEADER = "X-Hub-Signature"
TYPE_KEY = "topic"
API_VERSION = "2.11"

CONVERSATION_CREATED = "conversation.user.created"
CONVERSATION_REPLIED = "conversation.user.replied"
HANDLED_TOPICS = frozenset({CONVERSATION_CREATED, CONVERSATION_REPLIED})
_CUSTOMER_AUTHORS = frozenset({"user", "lead", "contact"})


# --- signature ----------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Intercom sends for ``body``."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str, *, signature: str | None, body: bytes) -> None:
    """Raise ``SignatureError`` unless ``signature`` is Intercom's signature of ``body``."""
    require_key(secret)
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    require_match(sign(secret, body), signature)


# --- events -------------------------------------------------------------------------------------


def normalise(payload: Any) -> TicketIn | None:
    """Map a conversation notification onto ``TicketIn``; ``None`` for topics Signoff ignores."""
    notification = envelope(payload, type_key=TYPE_KEY, handled=HANDLED_TOPICS)
    if notification is None:
        return None
    body, topic = notification.body, notification.kind
    item = at(body, "data.item")
    conversation_id = ident(item.get("id"), "data.item.id")
    # API 2.x calls the first message ``source``; 1.x called it ``conversation_message``.
    source = item.get("source") or item.get("conversation_message")
    first = obj(source, "data.item.source")
    title = opt_str(item.get("title")) or opt_str(html_to_text(str(first.get("subject") or "")))
    subject = title or f"Intercom conversation {conversation_id}"
    contacts = item.get("contacts")
    contact_list = contacts.get("contacts") if isinstance(contacts, dict) else None
    contact_id = (
        opt_str(contact_list[0].get("id"))
        if isinstance(contact_list, list) and contact_list and isinstance(contact_list[0], dict)
        else None
    )
    metadata: dict[str, Any] = {
        "intercom_conversation_id": conversation_id,
        "intercom_notification_id": notification.id,
        "intercom_topic": topic,
        "intercom_app_id": opt_str(body.get("app_id")),
        "intercom_contact_id": contact_id,
    }
    if topic == CONVERSATION_CREATED:
        message, author = first, first.get("author")
    else:
        part = _last_customer_part(item)
        if part is None:
            return None  # nothing from the customer in this notification
        message, author = part, part.get("author")
        metadata["intercom_part_id"] = opt_str(part.get("id"))
        subject = f"Re: {subject}"
    text = message.get("body")
    if not isinstance(text, str):
        raise PayloadError("the message body must be a string")
    who = author if isinstance(author, dict) else {}
    ref = opt_str(who.get("id")) or contact_id or conversation_id
    return vendor_ticket(
        notification.id,
        subject=subject,
        body=html_to_text(text),
        customer=customer(
            SOURCE, ref, name=opt_str(who.get("name")), email=opt_str(who.get("email"))
        ),
        metadata=metadata,
    )


def _last_customer_part(item: dict[str, Any]) -> dict[str, Any] | None:
    parts_list = item.get("conversation_parts")
    parts = parts_list.get("conversation_parts") if isinstance(parts_list, dict) else None
    if not isinstance(parts, list):
        raise PayloadError("data.item.conversation_parts.conversation_parts must be a list")
    for part in reversed(parts):
        if not isinstance(part, dict) or part.get("part_type") != "comment":
            continue
        author = part.get("author")
        kind = author.get("type") if isinstance(author, dict) else None
        if isinstance(kind, str) and kind in _CUSTOMER_AUTHORS:
            return part
    return None


# --- executor -----------------------------------------------------------------------------------


class IntercomExecutor(VendorExecutor):
    """Replies to an Intercom conversation as the configured admin (a note for escalations)."""

    name = SOURCE
    title = "Intercom"
    rules = STATUS_RULES

    def __init__(
        self, *, api_url: str, access_token: str, admin_id: str, client: httpx.AsyncClient
    ) -> None:
        super().__init__(api_url=api_url, client=client)
        self._token = access_token
        self._admin_id = admin_id

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        public, text = reply_or_note(
            request,
            self.title,
            f"Signoff escalated this conversation (item {request.item_id}).",
        )
        message_type = "comment" if public else "note"
        conversation_id = safe_path_id(
            request.metadata.get("intercom_conversation_id"),
            r"[A-Za-z0-9_-]{1,64}",
            "Intercom conversation id",
        )
        response = await self.call(
            "POST",
            f"/conversations/{conversation_id}/reply",
            idempotent=False,  # a second send is a second reply to the customer
            headers={"Authorization": f"Bearer {self._token}", "Intercom-Version": API_VERSION},
            json={
                "message_type": message_type,
                "type": "admin",
                "admin_id": self._admin_id,
                "body": text_to_html(text),
            },
        )
        answer = json_body(response)
        parts = answer.get("conversation_parts")
        part_list = parts.get("conversation_parts") if isinstance(parts, dict) else None
        last = part_list[-1] if isinstance(part_list, list) and part_list else {}
        log.info("intercom reply sent", item_id=request.item_id, conversation_id=conversation_id)
        return self.sent(
            response,
            conversation_id=answer.get("id", conversation_id),
            message_type=message_type,
            part_id=last.get("id") if isinstance(last, dict) else None,
            state=answer.get("state"),
        )


__all__ = [
    "CONVERSATION_CREATED",
    "CONVERSATION_REPLIED",
    "SIGNATURE_HEADER",
    "TYPE_KEY",
    "IntercomExecutor",
    "normalise",
    "sign",
    "verify",
]
