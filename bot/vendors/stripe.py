"""Stripe: webhook signatures, money events that need a human, and refunds.

Signature: ``Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint secret,
"{t}.{raw body}")>``, verified by the official ``stripe`` package
(``stripe.WebhookSignature.verify_header``) with Stripe's default tolerance of 300 seconds. Only
the verifier is used: the refund call goes through the shared ``httpx.AsyncClient`` like every
other executor, so timeouts, tests and error mapping are the same everywhere.

Events (Stripe "Event" object; ``data.object`` is the API object at the time of the event):

* ``charge.dispute.created``: the cardholder's bank opened a dispute. Always a human; when the
  dispute says the charge is still refundable, the disputed amount is offered as a refund.
* ``radar.early_fraud_warning.created``: the issuer reported the charge as fraud. Stripe suggests
  refunding actionable warnings to avoid a dispute, so a full refund (reason ``fraudulent``) is
  offered; warnings that are no longer actionable are ignored.
* ``charge.refund.updated`` with ``status: failed``: a refund did not reach the customer. Other
  refund updates are ignored.

The event ``id`` is the external id, so Stripe's retries of one event are one item.

Executor: ``POST /v1/refunds`` (form-encoded) with ``payment_intent`` (or ``charge``), ``amount``
in the currency's minor unit (omitted: the full remaining amount), an optional ``reason``,
``metadata[signoff_item_id]`` and the item's ``Idempotency-Key``, so a retry after a timeout can
never refund twice. Stripe's ``Stripe-Should-Retry`` answer header, when present, decides whether
an error is retried. Without it, Stripe's documented codes decide: 409 is another request with the
same idempotency key still running (retried: the key makes the retry safe), 429 is the rate
limit, 5xx a Stripe error; 400 (an invalid request), 402 (the request failed, e.g. the charge is
disputed), 401, 403 and 404 are permanent.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from stripe import SignatureVerificationError, WebhookSignature

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, PermanentError, RetryableError, SignatureError
from bot.logging_setup import get_logger
from bot.signing import require_key
from bot.tickets import RequestedAction, TicketIn
from bot.vendors.common import (
    StatusRules,
    VendorExecutor,
    at,
    customer,
    envelope,
    error_for,
    iso_time,
    json_body,
    maybe_obj,
    opt_int,
    opt_str,
    vendor_ticket,
)

log = get_logger(__name__)

# The refund carries its idempotency key, so a retry can never refund twice; these statuses (and
# every 5xx) are worth one.
STATUS_RULES = StatusRules(retryable=frozenset({408, 409, 425, 429}))

SOURCE = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
TYPE_KEY = "type"
TOLERANCE_SECONDS = 300

DISPUTE_CREATED = "charge.dispute.created"
EARLY_FRAUD_WARNING = "radar.early_fraud_warning.created"
REFUND_UPDATED = "charge.refund.updated"
HANDLED_EVENTS = frozenset({DISPUTE_CREATED, EARLY_FRAUD_WARNING, REFUND_UPDATED})

# docs.stripe.com/currencies: amounts are integers in the minor unit; these have none or three.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_STRIPE_ID = r"[A-Za-z0-9_]{3,255}"
# Stripe amounts are at most 8 digits (12 for some currencies); anything near this is not Stripe.
MAX_MINOR_AMOUNT = 10**14


# --- signature ----------------------------------------------------------------------------------


def verify(secret: str, *, signature: str | None, body: bytes) -> None:
    """Raise ``SignatureError`` unless Stripe's library accepts the header for this body."""
    require_key(secret)
    try:
        WebhookSignature.verify_header(body, signature, secret, tolerance=TOLERANCE_SECONDS)
    except SignatureVerificationError as exc:
        raise SignatureError(_reason(str(exc), signature)) from None
    except (UnicodeDecodeError, ValueError):
        raise SignatureError(
            "body is not UTF-8 text, so it cannot carry a Stripe signature"
        ) from None


def _reason(message: str, header: str | None) -> str:
    """A short, stable reason from the library's longer messages."""
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    if "tolerance" in message:
        return "timestamp is more than 5 minutes old"
    if "matching" in message:
        return "signature does not match"
    return f"malformed {SIGNATURE_HEADER} header"


# --- amounts ------------------------------------------------------------------------------------


def _exponent(currency: str) -> int:
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def from_minor(amount: int, currency: str) -> Decimal:
    """A Stripe integer amount as a decimal in the major unit (``1000 usd`` → ``10.00``)."""
    return (Decimal(amount) / (Decimal(10) ** _exponent(currency))).quantize(Decimal("0.01"))


def to_minor(amount: Decimal, currency: str) -> int:
    """A decimal amount as Stripe's integer minor units, refusing amounts Stripe cannot take
    (fractions of the minor unit; for three-decimal currencies Stripe requires a final 0)."""
    exponent = _exponent(currency)
    minor = amount * (Decimal(10) ** exponent)
    if minor != minor.to_integral_value():
        raise PermanentError(f"{amount} {currency.upper()} is not a whole number of minor units")
    value = int(minor)
    if exponent == 3 and value % 10:
        raise PermanentError(f"Stripe needs {currency.upper()} amounts divisible by 10 minor units")
    return value


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return "an unknown amount"
    return f"{from_minor(amount, currency):,.2f} {currency.upper()}"


# --- events -------------------------------------------------------------------------------------


def normalise(payload: Any) -> TicketIn | None:
    """Map a money event onto ``TicketIn``; ``None`` for event types Signoff ignores."""
    event = envelope(payload, type_key=TYPE_KEY, handled=HANDLED_EVENTS)
    if event is None:
        return None
    thing = at(event.body, "data.object")
    charge = _ref(thing.get("charge"))
    payment_intent = _ref(thing.get("payment_intent"))
    currency = opt_str(thing.get("currency"))
    amount = opt_int(thing.get("amount"), "data.object.amount")
    if amount is not None and not 0 <= amount < MAX_MINOR_AMOUNT:
        raise PayloadError("data.object.amount is out of range")
    metadata: dict[str, Any] = {
        "stripe_event_id": event.id,
        "stripe_event_type": event.kind,
        "stripe_object_id": opt_str(thing.get("id")),
        "stripe_charge": charge,
        "stripe_payment_intent": payment_intent,
        "stripe_currency": currency.lower() if currency else None,
        "stripe_amount": amount,
        "stripe_livemode": event.body.get("livemode") is True,
    }
    ref = charge or payment_intent or event.id
    if event.kind == DISPUTE_CREATED:
        return _dispute(event.id, thing, ref, amount, currency, metadata)
    if event.kind == EARLY_FRAUD_WARNING:
        if thing.get("actionable") is not True:
            return None  # already disputed or fully refunded: nothing left to decide
        fraud_type = opt_str(thing.get("fraud_type")) or "unspecified"
        metadata["stripe_refund_reason"] = "fraudulent"
        return vendor_ticket(
            event.id,
            subject=f"Stripe early fraud warning on {ref} ({fraud_type})",
            body=(
                f"The card issuer reported charge {ref} as possible fraud "
                f"(fraud type: {fraud_type}). Stripe suggests refunding charges with an "
                "actionable early fraud warning to avoid a dispute. Approving refunds the full "
                "remaining amount of the charge, with reason 'fraudulent'."
            ),
            customer=customer(SOURCE, ref),
            requested_action=RequestedAction(kind="refund"),
            metadata=metadata,
        )
    if thing.get("status") != "failed":
        return None  # refunds that succeed or are pending need nobody
    failure = opt_str(thing.get("failure_reason")) or "unknown"
    return vendor_ticket(
        event.id,
        subject=f"Stripe refund failed on {ref}: {_money(amount, currency)}",
        body=(
            f"Refund {metadata['stripe_object_id']} of {_money(amount, currency)} on charge "
            f"{ref} failed (reason: {failure}). The customer has not received the money; "
            "contact them and refund another way."
        ),
        customer=customer(SOURCE, ref),
        metadata=metadata,
    )


def _dispute(
    event_id: str,
    dispute: dict[str, Any],
    ref: str,
    amount: int | None,
    currency: str | None,
    metadata: dict[str, Any],
) -> TicketIn:
    reason = opt_str(dispute.get("reason")) or "unspecified"
    status = opt_str(dispute.get("status")) or "unknown"
    refundable = dispute.get("is_charge_refundable") is True
    due_by = opt_int(maybe_obj(dispute.get("evidence_details")).get("due_by"), "due_by")
    evidence = maybe_obj(dispute.get("evidence"))
    lines = [
        f"The cardholder's bank opened a dispute (chargeback) on charge {ref} for "
        f"{_money(amount, currency)}. Reason: {reason}. Status: {status}.",
    ]
    due = iso_time(due_by, "minutes") if due_by is not None else None
    if due is not None:
        lines.append(f"Evidence is due by {due}; respond in the Stripe Dashboard.")
    offer: RequestedAction | None = None
    if refundable and amount is not None and currency:
        offer = RequestedAction(
            kind="refund", amount=from_minor(amount, currency), currency=currency.upper()
        )
        lines.append("The charge can still be refunded; approving refunds the disputed amount.")
    else:
        lines.append("The charge can no longer be refunded through Stripe.")
    metadata["stripe_dispute_status"] = status
    return vendor_ticket(
        event_id,
        subject=f"Stripe dispute on {ref}: {_money(amount, currency)} ({reason})",
        body="\n".join(lines),
        customer=customer(
            SOURCE,
            ref,
            name=opt_str(evidence.get("customer_name")),
            email=opt_str(evidence.get("customer_email_address")),
        ),
        requested_action=offer,
        metadata=metadata,
    )


def _ref(value: Any) -> str | None:
    """An id field that Stripe may also send expanded into the object."""
    if isinstance(value, dict):
        value = value.get("id")
    return opt_str(value)


# --- executor -----------------------------------------------------------------------------------


class StripeExecutor(VendorExecutor):
    """Creates a refund, keyed by the item's idempotency key so it happens at most once."""

    name = SOURCE
    title = "Stripe"
    rules = STATUS_RULES
    # Stripe replays a key's first answer instead of refunding again.
    resends_safely = True

    def __init__(self, *, api_url: str, api_key: str, client: httpx.AsyncClient) -> None:
        super().__init__(api_url=api_url, client=client)
        self._key = api_key

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        kind = request.action.get("kind")
        if kind in {"reply", "escalate"}:
            return self.not_sent(request, "a Stripe event")
        if kind != "refund":
            raise PermanentError(f"Stripe executor issues refunds only, not {kind!r}")
        form = self._refund_form(request)
        try:
            response = await self._client.post(
                f"{self._api_url}/v1/refunds",
                data=form,
                headers={
                    "Authorization": f"Bearer {self._key}",
                    "Idempotency-Key": request.idempotency_key,
                },
            )
        except httpx.TimeoutException as exc:
            raise RetryableError(f"Stripe API timed out: {exc.__class__.__name__}") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"Stripe API unreachable: {exc.__class__.__name__}") from exc
        if not 200 <= response.status_code < 300:
            should_retry = response.headers.get("Stripe-Should-Retry")
            verdict = None if should_retry is None else should_retry.lower() == "true"
            raise error_for(self.title, response, retryable=verdict, rules=self.rules)
        refund = json_body(response)
        log.info("stripe refund created", item_id=request.item_id, refund_id=refund.get("id"))
        return self.sent(
            response,
            refund_id=refund.get("id"),
            refund_status=refund.get("status"),
            amount=refund.get("amount"),
            currency=refund.get("currency"),
            charge=refund.get("charge"),
            payment_intent=refund.get("payment_intent"),
            request_id=response.headers.get("Request-Id"),
        )

    def _refund_form(self, request: ActionRequest) -> dict[str, str]:
        meta = request.metadata
        form: dict[str, str] = {}
        payment_intent, charge = meta.get("stripe_payment_intent"), meta.get("stripe_charge")
        if isinstance(payment_intent, str) and re.fullmatch(_STRIPE_ID, payment_intent):
            form["payment_intent"] = payment_intent
        elif isinstance(charge, str) and re.fullmatch(_STRIPE_ID, charge):
            form["charge"] = charge
        else:
            raise PermanentError("item metadata names no Stripe charge or payment intent")
        known = meta.get("stripe_currency")
        asked = request.action.get("currency")
        if asked and known and str(asked).lower() != str(known).lower():
            raise PermanentError(
                f"refund is in {str(asked).upper()} but the charge is in {str(known).upper()}"
            )
        raw = request.action.get("amount")
        if raw is not None:
            currency = str(asked or known or "")
            if not currency:
                raise PermanentError("refund amount has no currency")
            try:
                amount = Decimal(str(raw))
            except InvalidOperation:
                raise PermanentError(f"refund amount {raw!r} is not a number") from None
            if not amount.is_finite() or amount <= 0:
                raise PermanentError("refund amount must be positive")
            form["amount"] = str(to_minor(amount, currency))
        reason = meta.get("stripe_refund_reason")
        if reason in {"duplicate", "fraudulent", "requested_by_customer"}:
            form["reason"] = str(reason)
        form["metadata[signoff_item_id]"] = request.item_id
        return form


__all__ = [
    "DISPUTE_CREATED",
    "EARLY_FRAUD_WARNING",
    "REFUND_UPDATED",
    "SIGNATURE_HEADER",
    "TYPE_KEY",
    "StripeExecutor",
    "from_minor",
    "normalise",
    "to_minor",
    "verify",
]
