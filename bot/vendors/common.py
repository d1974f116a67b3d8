"""What the four vendor modules share.

* Payload access that fails with a reason naming the field, so a vendor that changes a payload
  gets a 400 saying what is wrong rather than a 500 from a ``KeyError``.
* Text conversion: Intercom speaks HTML, Slack cards and classifiers want plain text.
* Placeholder customers: most vendor events name an id, not a person, and ``TicketIn`` requires
  a name and an email. The placeholders use the reserved ``.invalid`` domain (RFC 2606) so they can
  never reach a real mailbox, and a name whose first word has no letters so drafted replies greet
  "there" rather than "Zendesk".
* The envelope of an event (its type, whether Signoff handles it, its id) and the ticket built
  from it with subject and body cut to what the item table holds.
* ``VendorExecutor``: the base of the four executors (API root, shared client, the answer for an
  action an event has no conversation for, the shape of the result the audit log records).
* One mapping from HTTP outcomes to ``RetryableError`` / ``PermanentError``. By default it is the
  generic action sink's rule (timeouts, connection errors, 408, 409, 425, 429 and 5xx may succeed
  later); a vendor whose documentation gives a status another meaning passes its own
  ``StatusRules`` (HubSpot's 409 is a unique-value conflict that no retry fixes, Zendesk's 409 is
  a change that was not applied and may be sent again).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from bot.actions.sink import ActionRequest
from bot.errors import ExecutionError, PayloadError, PermanentError, RetryableError, SignatureError
from bot.logging_setup import get_logger
from bot.tickets import Customer, RequestedAction, TicketIn

MAX_SUBJECT = 1000
MAX_BODY = 100_000
MAX_EXTERNAL_ID = 200
MAX_NAME = 200

log = get_logger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


# --- payload access -----------------------------------------------------------------------------


def obj(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, or a ``PayloadError`` naming ``where``."""
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def at(body: dict[str, Any], path: str) -> dict[str, Any]:
    """The object at a dotted ``path`` below ``body`` (``"data.item"``), each step checked, so a
    missing level is a ``PayloadError`` naming how far the path got."""
    steps = path.split(".")
    for depth, key in enumerate(steps, start=1):
        body = obj(body.get(key), ".".join(steps[:depth]))
    return body


def maybe_obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``: for optional parts of a payload."""
    return value if isinstance(value, dict) else {}


def ident(value: Any, where: str) -> str:
    """A vendor id: JSON string or integer (vendors use both), never empty, never a bool."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{where} must be a string or integer id")
    text = str(value).strip()
    if not text:
        raise PayloadError(f"{where} is empty")
    return text


def opt_str(value: Any) -> str | None:
    """A string field that vendors may send as null, absent or empty."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def opt_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where} must be an integer")
    return value


def iso_time(seconds: float, timespec: str = "seconds") -> str | None:
    """A unix time as ISO 8601 UTC, or ``None`` for values no calendar holds (a vendor bug must
    not become a 500)."""
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec=timespec)
    except (OverflowError, OSError, ValueError):
        return None


def clip(text: str, limit: int) -> str:
    """Cut to ``limit`` characters, marking the cut, so a huge vendor field cannot fail a 400."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def external_id(*parts: str) -> str:
    """Join id parts into an external id that fits the item table (and stays unique: the parts
    are vendor ids, which are far shorter than the limit)."""
    return clip(":".join(parts), MAX_EXTERNAL_ID)


def event_kind(payload: Any, key: str) -> str:
    """The event's type, read from ``key``, for logs and dispatch; ``(unknown)`` when absent."""
    kind = payload.get(key) if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else "(unknown)"


@dataclass(frozen=True)
class Envelope:
    """What every single-event delivery starts with: the body, its type, and its unique id."""

    body: dict[str, Any]
    kind: str
    id: str


def envelope(payload: Any, *, type_key: str, handled: frozenset[str]) -> Envelope | None:
    """The event's envelope, or ``None`` when its type is one Signoff does not act on (checked
    before the id, so an ignored event never fails for a shape Signoff does not need)."""
    body = obj(payload, "body")
    kind = event_kind(body, type_key)
    if kind not in handled:
        return None
    return Envelope(body=body, kind=kind, id=ident(body.get("id"), "id"))


def vendor_ticket(
    event_id: str,
    *,
    subject: str,
    body: str,
    customer: Customer,
    metadata: dict[str, Any],
    requested_action: RequestedAction | None = None,
) -> TicketIn:
    """A support ticket from a vendor event, subject and body cut to what an item holds."""
    return TicketIn(
        id=event_id,
        kind="ticket",
        subject=clip(subject, MAX_SUBJECT),
        body=clip(body, MAX_BODY),
        customer=customer,
        requested_action=requested_action,
        metadata=metadata,
    )


# --- text ---------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text from a vendor's HTML message body: tags dropped, entities decoded, block
    elements as line breaks, runs of blank lines collapsed."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(text: str) -> str:
    """HTML for a vendor that renders message bodies as HTML: every character escaped (model
    output must not become markup), paragraphs on blank lines, ``<br>`` for single breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.strip().splitlines()) + "</p>"
        for p in paragraphs
    )


# --- customers ----------------------------------------------------------------------------------


def customer(
    vendor: str, ref: str, *, name: str | None = None, email: str | None = None
) -> Customer:
    """A customer from whatever the event carries, with placeholders for what it does not."""
    if name and name.strip():
        display = clip(name.strip(), MAX_NAME)
    else:
        # The first word carries no letters, so a drafted reply greets "there", not the id.
        marker = f"#{ref}" if ref.isdigit() else f"\u2014 {ref}"
        display = clip(f"{marker} ({vendor})", MAX_NAME)
    address = email.strip() if email and _EMAIL.match(email.strip()) else None
    if address is None or len(address) > 320:
        safe_ref = re.sub(r"[^A-Za-z0-9._-]", "-", ref)[:64] or "unknown"
        address = f"{safe_ref}@{vendor}.invalid"
    return Customer(name=display, email=address)


# --- HTTP outcomes ------------------------------------------------------------------------------


def safe_path_id(value: Any, pattern: str, what: str) -> str:
    """An id taken from item metadata, checked before it goes into a URL path: metadata came from
    a webhook, and ``../`` in a path must never reach a vendor API."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not re.fullmatch(pattern, text):
        raise PermanentError(f"item metadata has no valid {what} (got {value!r})")
    return text


# Failures after which the request provably did not reach the vendor: safe to send again even
# when sending twice would act twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class StatusRules:
    """What one vendor's non-2xx answers mean for a retry, as its API documentation says.

    ``retryable``: statuses (besides every 5xx) that may succeed when sent again. ``not_acted``:
    the retryable statuses with which the vendor says it did nothing, so even a call that would
    act twice when sent twice (a Zendesk comment) may be sent again. A 503 with ``Retry-After``
    (down for maintenance) always counts as not acted.
    """

    retryable: frozenset[int] = RETRYABLE_STATUS
    not_acted: frozenset[int] = frozenset({429})

    def is_retryable(self, status: int) -> bool:
        return status >= 500 or status in self.retryable

    def vendor_did_not_act(self, status: int, *, retry_after: float | None) -> bool:
        return status in self.not_acted or (status == 503 and retry_after is not None)


DEFAULT_RULES = StatusRules()


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    vendor: str,
    idempotent: bool = True,
    rules: StatusRules = DEFAULT_RULES,
    **kwargs: Any,
) -> httpx.Response:
    """One API call, with transport failures and non-2xx answers mapped to the executor errors.

    ``idempotent=False`` is for calls that act twice when sent twice and that the vendor cannot
    de-duplicate (a Zendesk comment, an Intercom reply). For those, a failure after which the
    vendor may already have acted (a read timeout, a dropped connection, a 5xx) is not retried:
    it becomes a permanent "outcome unknown" error, so a human checks the ticket and uses Retry,
    rather than the customer receiving the same reply several times. ``rules`` is the vendor's
    reading of its status codes (which answers are worth a retry, and which say it did not act).
    """
    try:
        response = await client.request(method, url, **kwargs)
    except _NOT_SENT as exc:
        raise RetryableError(f"{vendor} API unreachable: {exc.__class__.__name__}") from exc
    except httpx.HTTPError as exc:
        if not idempotent:
            raise PermanentError(_outcome_unknown(vendor, exc.__class__.__name__)) from exc
        if isinstance(exc, httpx.TimeoutException):
            raise RetryableError(f"{vendor} API timed out: {exc.__class__.__name__}") from exc
        raise RetryableError(f"{vendor} API unreachable: {exc.__class__.__name__}") from exc
    if 200 <= response.status_code < 300:
        return response
    error = error_for(vendor, response, rules=rules)
    acted_maybe = not rules.vendor_did_not_act(response.status_code, retry_after=error.retry_after)
    if not idempotent and isinstance(error, RetryableError) and acted_maybe:
        raise PermanentError(
            _outcome_unknown(vendor, f"HTTP {response.status_code}"), status=response.status_code
        )
    raise error


def _outcome_unknown(vendor: str, what: str) -> str:
    return (
        f"{vendor} API failed after the request was sent ({what}): it may have acted. "
        f"Check the ticket in {vendor} before using Retry"
    )


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for(
    vendor: str,
    response: httpx.Response,
    *,
    retryable: bool | None = None,
    rules: StatusRules = DEFAULT_RULES,
) -> ExecutionError:
    """The executor error for a non-2xx answer by the vendor's ``rules``; ``retryable`` overrides
    them when the vendor says so explicitly in the answer (Stripe's ``Stripe-Should-Retry``)."""
    status = response.status_code
    message = f"{vendor} API answered HTTP {status}: {response.text[:300]}"
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if retry_after is not None:
        message += f" (Retry-After: {retry_after:g}s)"
    if retryable is None:
        retryable = rules.is_retryable(status)
    if retryable:
        return RetryableError(message, status=status, retry_after=retry_after)
    return PermanentError(message, status=status)


class VendorExecutor:
    """The base of the vendor executors: where the API is, the shared client, and the shape of
    every result (``executor``, ``sent``, then what the vendor answered)."""

    name: str
    title: str  # the vendor's name as its messages spell it
    rules: StatusRules = DEFAULT_RULES
    # Whether the vendor itself de-duplicates a resend (``bot.actions.authorise.resends_safely``).
    resends_safely = False

    def __init__(self, *, api_url: str, client: httpx.AsyncClient) -> None:
        self._api_url = api_url.rstrip("/")
        self._client = client

    async def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call to ``path`` below the API root, asking for JSON, through :func:`send` with
        this vendor's status rules (``idempotent`` as there)."""
        return await send(
            self._client,
            method,
            self._api_url + path,
            vendor=self.title,
            idempotent=idempotent,
            rules=self.rules,
            headers={"Accept": "application/json", **(headers or {})},
            **kwargs,
        )

    def not_sent(self, request: ActionRequest, event: str) -> dict[str, Any]:
        """The result for a reply or escalation to an ``event`` that has no conversation: recorded
        as not sent rather than failed, since there was never anyone to send it to."""
        kind = request.action.get("kind")
        log.info("vendor event has nobody to reply to", executor=self.name, item_id=request.item_id)
        return {
            "executor": self.name,
            "sent": False,
            "reason": f"{event} has no conversation; the {kind} was not sent",
        }

    def sent(self, response: httpx.Response, **details: Any) -> dict[str, Any]:
        """The result of a call the vendor accepted: its status, then the vendor's details."""
        return {"executor": self.name, "sent": True, "status": response.status_code, **details}


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response as a JSON object, or ``{}`` when a 2xx answer has no JSON (the action still
    happened; the summary just has less in it)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = [
    "DEFAULT_RULES",
    "MAX_BODY",
    "MAX_SUBJECT",
    "Envelope",
    "PayloadError",
    "SignatureError",
    "StatusRules",
    "VendorExecutor",
    "at",
    "clip",
    "customer",
    "envelope",
    "error_for",
    "event_kind",
    "external_id",
    "html_to_text",
    "ident",
    "iso_time",
    "json_body",
    "maybe_obj",
    "obj",
    "opt_int",
    "opt_str",
    "retry_after_seconds",
    "safe_path_id",
    "send",
    "text_to_html",
    "vendor_ticket",
]
