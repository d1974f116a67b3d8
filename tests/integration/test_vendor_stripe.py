"""Stripe: events verified by Stripe's own library become items exactly once; refunds go out as the
documented form post with the item's idempotency key, so a retry can never refund twice."""

from __future__ import annotations

import copy
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, PermanentError, RetryableError, SignatureError
from bot.vendors import stripe
from bot.vendors.stripe import StripeExecutor
from tests.support.fakes.vendor_api import FakeVendorApi
from tests.support.vendor_harness import (
    STRIPE_KEY,
    STRIPE_SECRET,
    VendorServer,
    action_request,
    fixture,
    fixture_bytes,
    stripe_headers,
)

DISPUTE = "stripe_charge_dispute_created.json"
EARLY_FRAUD = "stripe_early_fraud_warning_created.json"
REFUND_FAILED = "stripe_charge_refund_updated_failed.json"


@pytest.fixture
def executor(api: FakeVendorApi, http: httpx.AsyncClient) -> StripeExecutor:
    return StripeExecutor(api_url=api.url, api_key=STRIPE_KEY, client=http)


def _request(action: dict[str, Any] | None = None, **changes: Any) -> ActionRequest:
    if action is not None:
        changes["action"] = action
    return action_request("stripe", **changes)


# --- signature (Stripe's library) and amounts (pure) ----------------------------------------------


def test_stripes_library_accepts_an_independent_signer_and_refuses_changes() -> None:
    body = fixture_bytes(DISPUTE)
    header = stripe_headers(STRIPE_SECRET, body)["Stripe-Signature"]
    stripe.verify(STRIPE_SECRET, signature=header, body=body)
    cases: dict[str, list[tuple[str, str | None, bytes]]] = {
        "signature does not match": [
            (STRIPE_SECRET, header, body.replace(b"1000", b"9000")),
            ("whsec_another", header, body),
        ],
        "more than 5 minutes old": [
            (
                STRIPE_SECRET,
                stripe_headers(STRIPE_SECRET, body, timestamp=int(time.time()) - 301)[
                    "Stripe-Signature"
                ],
                body,
            )
        ],
        "missing": [(STRIPE_SECRET, None, body)],
        "malformed": [(STRIPE_SECRET, "v1=abc", body)],
        "UTF-8": [(STRIPE_SECRET, header, b"\xff\xfe")],
    }
    for reason, attempts in cases.items():
        for secret, signature, sent in attempts:
            with pytest.raises(SignatureError, match=reason):
                stripe.verify(secret, signature=signature, body=sent)


def test_minor_units_follow_stripes_currency_table() -> None:
    assert stripe.from_minor(1000, "usd") == Decimal("10.00")
    assert stripe.from_minor(1000, "JPY") == Decimal("1000.00")
    assert stripe.from_minor(12340, "kwd") == Decimal("12.34")
    assert stripe.to_minor(Decimal("480.00"), "usd") == 48000
    assert stripe.to_minor(Decimal("1000"), "jpy") == 1000
    assert stripe.to_minor(Decimal("12.34"), "kwd") == 12340
    with pytest.raises(PermanentError, match="minor units"):
        stripe.to_minor(Decimal("10.5"), "jpy")
    with pytest.raises(PermanentError, match="minor units"):
        stripe.to_minor(Decimal("0.001"), "usd")


# --- normalise (pure, documented payloads) --------------------------------------------------------


def test_documented_dispute_needs_a_human_and_offers_the_refund() -> None:
    ticket = stripe.normalise(fixture(DISPUTE))
    assert ticket is not None
    assert ticket.id == "evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert ticket.subject == "Stripe dispute on ch_1AZtxr2eZvKYlo2CJDX8whov: 10.00 USD (general)"
    assert "chargeback" in ticket.body  # the risk rules' legal words: always a human
    assert ticket.requested_action is not None
    assert ticket.requested_action.model_dump(exclude_none=True) == {
        "kind": "refund",
        "amount": Decimal("10.00"),
        "currency": "USD",
    }
    assert ticket.metadata["stripe_charge"] == "ch_1AZtxr2eZvKYlo2CJDX8whov"
    assert ticket.metadata["stripe_object_id"] == "du_1MtJUT2eZvKYlo2CNaw2HvEv"
    closed = fixture(DISPUTE)
    closed["data"]["object"]["is_charge_refundable"] = False
    closed_ticket = stripe.normalise(closed)
    assert closed_ticket is not None and closed_ticket.requested_action is None


def test_documented_early_fraud_warning_offers_a_full_fraudulent_refund() -> None:
    ticket = stripe.normalise(fixture(EARLY_FRAUD))
    assert ticket is not None
    assert ticket.requested_action is not None
    assert (ticket.requested_action.kind, ticket.requested_action.amount) == ("refund", None)
    assert ticket.metadata["stripe_charge"] == "ch_1234"
    assert ticket.metadata["stripe_refund_reason"] == "fraudulent"
    spent = fixture(EARLY_FRAUD)
    spent["data"]["object"]["actionable"] = False
    assert stripe.normalise(spent) is None


def test_failed_refunds_need_a_human_and_other_events_are_ignored() -> None:
    ticket = stripe.normalise(fixture(REFUND_FAILED))
    assert ticket is not None
    assert "expired_or_canceled_card" in ticket.body
    assert ticket.metadata["stripe_payment_intent"] == "pi_1GszsK2eZvKYlo2CfhZyoZLp"
    succeeded = fixture(REFUND_FAILED)
    succeeded["data"]["object"]["status"] = "succeeded"
    assert stripe.normalise(succeeded) is None
    assert stripe.normalise(fixture("stripe_setup_intent_created.json")) is None


def test_impossible_amounts_are_payload_errors_not_crashes() -> None:
    for amount in (10**30, -5):
        payload = fixture(DISPUTE)
        payload["data"]["object"]["amount"] = amount
        with pytest.raises(PayloadError, match="out of range"):
            stripe.normalise(payload)
    far_future = fixture(DISPUTE)
    far_future["data"]["object"]["evidence_details"]["due_by"] = 10**30
    ticket = stripe.normalise(far_future)
    assert ticket is not None and "due by" not in ticket.body


# --- over HTTP, on both databases -----------------------------------------------------------------


def test_signed_dispute_is_stored_once(vendor_server: VendorServer) -> None:
    answer = vendor_server.post_new_then_redelivered("stripe", fixture_bytes(DISPUTE))
    item = vendor_server.item(answer["item_id"])
    assert (item.source, item.external_id) == ("stripe", "evt_1NG8Du2eZvKYlo2CUI79vXWy")
    assert item.requested_action == {"kind": "refund", "amount": "10.00", "currency": "USD"}
    reviewed = vendor_server.wait_for_state(item.id, "pending_review")
    assert reviewed.risk_level == "critical"


def test_bad_signatures_are_refused_and_nothing_is_stored(vendor_server: VendorServer) -> None:
    body = fixture_bytes(DISPUTE)
    old = int(time.time()) - 301
    attempts = {
        "unsigned": (body, {}),
        "tampered body": (body.replace(b"1000", b"99000"), stripe_headers(STRIPE_SECRET, body)),
        "wrong secret": (body, stripe_headers("whsec_not_the_secret", body)),
        "stale timestamp": (body, stripe_headers(STRIPE_SECRET, body, timestamp=old)),
    }
    vendor_server.assert_refused("stripe", attempts)


def test_several_v1_signatures_pass_when_one_matches_as_during_secret_rotation(
    vendor_server: VendorServer,
) -> None:
    """While an endpoint secret is rolled, Stripe signs with the old and the new secret and sends
    one ``v1=`` per secret: one that matches is enough; none matching is refused and stores
    nothing."""
    body = fixture_bytes(DISPUTE)
    ts = int(time.time())
    valid = stripe_headers(STRIPE_SECRET, body, timestamp=ts)["Stripe-Signature"].split("v1=")[1]
    other = stripe_headers("whsec_the_old_secret", body, timestamp=ts)["Stripe-Signature"]
    invalid = other.split("v1=")[1]
    refused = f"t={ts},v1={invalid},v1={'0' * 64}"
    response = vendor_server.post_vendor("stripe", body, {"Stripe-Signature": refused})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid signature"
    assert vendor_server.count_items() == 0
    rotated = f"t={ts},v1={invalid},v1={valid}"
    response = vendor_server.post_vendor("stripe", body, {"Stripe-Signature": rotated})
    assert response.status_code == 202, response.text
    assert vendor_server.count_items() == 1


def test_ignored_events_answer_200(vendor_server: VendorServer) -> None:
    succeeded = fixture(REFUND_FAILED)
    succeeded["data"]["object"]["status"] = "succeeded"
    bodies = [fixture_bytes("stripe_setup_intent_created.json"), json.dumps(succeeded).encode()]
    vendor_server.assert_ignored("stripe", bodies)


# --- executor against the fake API ----------------------------------------------------------------


async def test_refund_is_the_documented_form_post_with_the_idempotency_key(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    result = await executor.execute(_request())
    [call] = api.requests
    assert (call.method, call.path) == ("POST", "/v1/refunds")
    assert call.headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert call.headers["idempotency-key"] == "signoff-itm_stripe0001-7"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form() == {
        "charge": "ch_1AZtxr2eZvKYlo2CJDX8whov",
        "amount": "1000",
        "metadata[signoff_item_id]": "itm_stripe0001",
    }
    assert result == {
        "executor": "stripe",
        "sent": True,
        "status": 200,
        "refund_id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "refund_status": "succeeded",
        "amount": 1000,
        "currency": "usd",
        "charge": "ch_1AZtxr2eZvKYlo2CJDX8whov",
        "payment_intent": None,
        "request_id": "req_fake0123456789",
    }


async def test_a_retry_reuses_the_key_so_stripe_refunds_once(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    first = await executor.execute(_request())
    second = await executor.execute(_request())
    assert first == second
    keys = {call.headers["idempotency-key"] for call in api.requests}
    assert keys == {"signoff-itm_stripe0001-7"}


async def test_early_fraud_refund_is_full_and_fraudulent_on_the_payment_intent(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    metadata = {
        "stripe_charge": "ch_1234",
        "stripe_payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "stripe_refund_reason": "fraudulent",
    }
    await executor.execute(_request({"kind": "refund"}, metadata=metadata))
    assert api.requests[0].form() == {
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "reason": "fraudulent",
        "metadata[signoff_item_id]": "itm_stripe0001",
    }


async def test_errors_are_retryable_or_permanent(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    # Each attempt gets its own key: Stripe (and the fake) replay a key's first success.
    def attempt(n: int) -> ActionRequest:
        return _request(idempotency_key=f"signoff-itm_stripe0001-{n}")

    for n, status in enumerate((429, 409, 500, 503)):
        api.respond_with(status)
        with pytest.raises(RetryableError):
            await executor.execute(attempt(n))
    card_error = {"error": {"type": "card_error", "code": "charge_disputed"}}
    for n, status in enumerate((400, 402, 404), start=10):
        api.respond_with(status, body=card_error)
        with pytest.raises(PermanentError, match="charge_disputed"):
            await executor.execute(attempt(n))
    api.respond_with(400, headers={"Stripe-Should-Retry": "true"})
    with pytest.raises(RetryableError):
        await executor.execute(attempt(20))
    api.respond_with(500, headers={"Stripe-Should-Retry": "false"})
    with pytest.raises(PermanentError):
        await executor.execute(attempt(21))
    assert len(api.requests) == 9


async def test_a_concurrent_request_with_the_key_is_retried_and_refunds_once(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    """Stripe answers 409 while another request with the same idempotency key is still running
    (it saved no result for this one): retryable, and the retry with the same key refunds once.
    A 400 (invalid request) and a 402 (the request failed) are never retried."""
    in_use = {
        "error": {
            "type": "idempotency_error",
            "code": "idempotency_key_in_use",
            "message": "There is currently another in-progress request using this key",
        }
    }
    api.respond_with(409, body=in_use)
    with pytest.raises(RetryableError, match="idempotency_key_in_use") as conflict:
        await executor.execute(_request())
    assert conflict.value.status == 409
    first = await executor.execute(_request())
    again = await executor.execute(_request())
    assert first == again  # Stripe replays the key's first success: one refund
    assert [call.status for call in api.requests] == [409, 200, 200]
    assert {call.headers["idempotency-key"] for call in api.requests} == {
        "signoff-itm_stripe0001-7"
    }
    for n, (status, kind) in enumerate(((400, "invalid_request_error"), (402, "card_error"))):
        api.respond_with(status, body={"error": {"type": kind, "code": "amount_too_large"}})
        with pytest.raises(PermanentError, match="amount_too_large") as permanent:
            await executor.execute(_request(idempotency_key=f"signoff-itm_stripe0001-{30 + n}"))
        assert permanent.value.status == status


async def test_refunds_that_cannot_be_right_never_leave_signoff(
    api: FakeVendorApi, executor: StripeExecutor
) -> None:
    wrong_currency = _request({"kind": "refund", "amount": "10.00", "currency": "EUR"})
    with pytest.raises(PermanentError, match="EUR"):
        await executor.execute(wrong_currency)
    with pytest.raises(PermanentError, match="charge or payment intent"):
        await executor.execute(_request(metadata={}))
    with pytest.raises(PermanentError, match="refunds only"):
        await executor.execute(_request({"kind": "credit", "amount": "5.00"}))
    negative = copy.deepcopy(_request({"kind": "refund", "amount": "-1", "currency": "USD"}))
    with pytest.raises(PermanentError, match="positive"):
        await executor.execute(negative)
    reply = await executor.execute(_request({"kind": "reply"}))
    assert reply["sent"] is False
    assert api.requests == []


async def test_timeouts_are_retryable(api: FakeVendorApi) -> None:
    api.delay = 0.5
    async with httpx.AsyncClient(timeout=0.1) as slow:
        executor = StripeExecutor(api_url=api.url, api_key=STRIPE_KEY, client=slow)
        with pytest.raises(RetryableError, match="timed out"):
            await executor.execute(_request())
