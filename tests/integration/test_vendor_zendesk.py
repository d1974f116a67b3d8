"""Zendesk: signed ticket events become items exactly once; answers go back through the
Tickets API exactly as documented; anything unsigned, tampered or stale stores nothing."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, PermanentError, RetryableError, SignatureError
from bot.store.models import Item
from bot.vendors import zendesk
from bot.vendors.zendesk import ZendeskExecutor
from tests.support.fakes.vendor_api import FakeVendorApi
from tests.support.server_harness import free_port
from tests.support.vendor_harness import (
    ZENDESK_EMAIL,
    ZENDESK_SECRET,
    ZENDESK_TOKEN,
    VendorServer,
    action_request,
    fixture,
    fixture_bytes,
    zendesk_headers,
)

CREATED = "zendesk_ticket_created.json"
COMMENTED = "zendesk_ticket_comment_added.json"


def _request(kind: str = "reply", **changes: Any) -> ActionRequest:
    return action_request("zendesk", kind, **changes)


# --- signature (pure) -----------------------------------------------------------------------------


def test_signature_matches_an_independent_signer_and_refuses_changes() -> None:
    body = fixture_bytes(CREATED)
    headers = zendesk_headers(ZENDESK_SECRET, body)
    signature = headers["X-Zendesk-Webhook-Signature"]
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    assert zendesk.sign(ZENDESK_SECRET, timestamp, body) == signature
    zendesk.verify(ZENDESK_SECRET, signature=signature, timestamp=timestamp, body=body)
    with pytest.raises(SignatureError, match="does not match"):
        zendesk.verify(ZENDESK_SECRET, signature=signature, timestamp=timestamp, body=body + b" ")
    with pytest.raises(SignatureError, match="does not match"):
        zendesk.verify("another-secret", signature=signature, timestamp=timestamp, body=body)
    with pytest.raises(SignatureError, match="ISO 8601"):
        zendesk.verify(ZENDESK_SECRET, signature=signature, timestamp="1704708727", body=body)


# --- normalise (pure, documented payloads) --------------------------------------------------------


def test_documented_ticket_created_payload_is_normalised() -> None:
    ticket = zendesk.normalise(fixture(CREATED))
    assert ticket is not None
    assert ticket.id == "cbe4028c-7239-495d-b020-f22348516046"  # the event id: redeliveries match
    assert ticket.kind == "ticket"
    assert ticket.subject == "Cannot login to mobile app"
    assert ticket.body == "Customer is experiencing login issues with the mobile app"
    assert ticket.customer.email == "8447388090494@zendesk.invalid"
    assert ticket.metadata["zendesk_ticket_id"] == "5158"
    assert ticket.metadata["zendesk_tags"] == ["mobile", "login"]


def test_customer_comment_is_a_follow_up_and_agent_comments_are_ignored() -> None:
    payload = fixture(COMMENTED)
    ticket = zendesk.normalise(payload)
    assert ticket is not None
    assert ticket.subject == "Re: Cannot login to mobile app"
    assert ticket.body.startswith("I tried the steps you sent")
    assert ticket.customer.name == "Jane Doe"
    assert ticket.metadata["zendesk_comment_id"] == "9876543210"

    by_agent = copy.deepcopy(payload)
    by_agent["event"]["comment"]["author"]["is_staff"] = True
    assert zendesk.normalise(by_agent) is None  # includes Signoff's own replies
    note = copy.deepcopy(payload)
    note["event"]["comment"]["is_public"] = False
    assert zendesk.normalise(note) is None
    first = copy.deepcopy(payload)
    first["event"]["comment"]["body"] = payload["detail"]["description"]
    assert zendesk.normalise(first) is None  # already an item through ticket.created


def test_other_event_types_are_ignored_and_broken_shapes_are_named() -> None:
    assert zendesk.normalise(fixture("zendesk_ticket_status_changed.json")) is None
    assert zendesk.normalise(fixture("zendesk_user_active_changed.json")) is None
    broken = fixture(CREATED)
    del broken["detail"]
    with pytest.raises(PayloadError, match="detail"):
        zendesk.normalise(broken)


# --- over HTTP, on both databases -----------------------------------------------------------------


def test_signed_ticket_is_stored_once(routed_vendor_server: VendorServer) -> None:
    answer = routed_vendor_server.post_new_then_redelivered("zendesk", fixture_bytes(CREATED))
    item = routed_vendor_server.item(answer["item_id"])
    assert (item.source, item.external_id) == ("zendesk", "cbe4028c-7239-495d-b020-f22348516046")
    assert item.subject == "Cannot login to mobile app"
    assert item.extra["zendesk_ticket_id"] == "5158"


def test_bad_signatures_are_refused_and_nothing_is_stored(
    routed_vendor_server: VendorServer,
) -> None:
    body = fixture_bytes(CREATED)
    tampered = body.replace(b"Cannot login", b"Refund $5000")
    stale = datetime.now(UTC) - timedelta(minutes=6)
    future = datetime.now(UTC) + timedelta(minutes=6)
    attempts = {
        "unsigned": (body, {}),
        "tampered body": (tampered, zendesk_headers(ZENDESK_SECRET, body)),
        "wrong secret": (body, zendesk_headers("not-the-secret", body)),
        "stale timestamp": (body, zendesk_headers(ZENDESK_SECRET, body, timestamp=stale)),
        "future timestamp": (body, zendesk_headers(ZENDESK_SECRET, body, timestamp=future)),
    }
    routed_vendor_server.assert_refused("zendesk", attempts)


def test_ignored_events_answer_200_and_bad_bodies_400(routed_vendor_server: VendorServer) -> None:
    bodies = [
        fixture_bytes("zendesk_ticket_status_changed.json"),
        fixture_bytes("zendesk_user_active_changed.json"),
    ]
    answers = routed_vendor_server.assert_ignored("zendesk", bodies)
    assert answers == [{"status": "ignored", "event_type": json.loads(b)["type"]} for b in bodies]
    not_json = b'{"type": "zen:event-type:ticket.created", '
    no_detail = b'{"type": "zen:event-type:ticket.created", "id": "x"}'
    for body, error in ((not_json, "body is not valid JSON"), (no_detail, "unexpected Zendesk")):
        response = routed_vendor_server.post_signed("zendesk", body)
        assert response.status_code == 400
        assert response.json()["error"].startswith(error)
    assert routed_vendor_server.count_items() == 0


def _post_password_reset_until_done(server: VendorServer) -> Item:
    """A signed new ticket the heuristic auto-approves (a password reset), waited on until its
    action has executed or failed."""
    payload = fixture(CREATED)
    payload["detail"]["subject"] = "Can't log in"
    payload["detail"]["description"] = "Hi, I forgot my password. How do I reset it?"
    response = server.post_signed("zendesk", json.dumps(payload).encode())
    assert response.status_code == 202
    return server.wait_for_state(response.json()["item_id"], "executed", "failed")


def test_auto_approved_reply_is_posted_to_the_zendesk_ticket(
    routed_vendor_server: VendorServer, api: FakeVendorApi
) -> None:
    item = _post_password_reset_until_done(routed_vendor_server)
    assert item.state == "executed", item.last_error
    [call] = api.wait_for(1)
    assert (call.method, call.path) == ("PUT", "/api/v2/tickets/5158.json")
    sent = call.json()["ticket"]
    assert sent["comment"] == {"body": item.draft_reply, "public": True}
    assert sent["status"] == "pending"
    assert item.execution_result is not None
    assert item.execution_result["executor"] == "zendesk"
    assert item.execution_result["audit_id"] == 2127301143
    assert "executed" in routed_vendor_server.audit_events(item.id)


def test_a_conflicting_update_is_sent_again_and_the_reply_posted_once(
    routed_vendor_server: VendorServer, api: FakeVendorApi
) -> None:
    """Zendesk answers the first PUT with 409 (another update to the ticket won): the worker
    schedules a retry instead of failing the item, and the second PUT posts the one reply."""
    api.respond_with(409, body={"error": "Conflict", "description": "Ticket was updated"})
    item = _post_password_reset_until_done(routed_vendor_server)
    assert item.state == "executed", item.last_error
    first, second = api.wait_for(2)
    assert [first.status, second.status] == [409, 200]
    assert first.json() == second.json()  # the same comment, posted by the second call only
    assert item.attempts == 2
    events = routed_vendor_server.audit_events(item.id)
    assert events.count("execution_retry_scheduled") == 1
    assert events.count("executed") == 1


# --- executor against the fake API ----------------------------------------------------------------


async def test_reply_is_the_documented_ticket_update(
    api: FakeVendorApi, http: httpx.AsyncClient
) -> None:
    executor = ZendeskExecutor(
        api_url=api.url + "/", email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, client=http
    )
    result = await executor.execute(_request())
    [call] = api.requests
    assert (call.method, call.path) == ("PUT", "/api/v2/tickets/5158.json")
    credentials = base64.b64encode(f"{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {credentials}"
    assert call.headers["content-type"] == "application/json"
    assert call.json() == {
        "ticket": {
            "comment": {"body": "Hi there,\n\nHere is how to reset your password.", "public": True},
            "status": "pending",
        }
    }
    assert result == {
        "executor": "zendesk",
        "sent": True,
        "status": 200,
        "ticket_id": 5158,
        "ticket_status": "pending",
        "public": True,
        "audit_id": 2127301143,
    }


async def test_escalation_is_an_internal_note(api: FakeVendorApi, http: httpx.AsyncClient) -> None:
    executor = ZendeskExecutor(
        api_url=api.url, email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, client=http
    )
    await executor.execute(_request("escalate"))
    sent = api.requests[0].json()["ticket"]
    assert sent["comment"]["public"] is False
    assert sent["status"] == "open"
    assert "Drafted reply, not sent" in sent["comment"]["body"]


async def test_errors_are_retryable_or_permanent(
    api: FakeVendorApi, http: httpx.AsyncClient
) -> None:
    executor = ZendeskExecutor(
        api_url=api.url, email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, client=http
    )
    # Throttled or down for maintenance: Zendesk did not act, so sending again is safe.
    for status in (429, 503):
        api.respond_with(status, headers={"Retry-After": "7"})
        with pytest.raises(RetryableError) as retry:
            await executor.execute(_request())
        assert retry.value.status == status
        assert retry.value.retry_after == 7.0
    assert "Retry-After: 7s" in str(retry.value)
    # A conflict with another update to the ticket: Zendesk did not apply this one, so the same
    # comment may go again without reaching the customer twice.
    api.respond_with(409)
    with pytest.raises(RetryableError) as conflict:
        await executor.execute(_request())
    assert conflict.value.status == 409
    # Zendesk may have posted the comment before failing: a resend would be a second public
    # reply, so a human checks the ticket first.
    for status in (500, 502):
        api.respond_with(status)
        with pytest.raises(PermanentError, match="may have acted") as unknown:
            await executor.execute(_request())
        assert unknown.value.status == status
    for status in (400, 401, 403, 404, 422):
        api.respond_with(status)
        with pytest.raises(PermanentError) as permanent:
            await executor.execute(_request())
        assert permanent.value.status == status
    with pytest.raises(PermanentError, match="refund"):
        await executor.execute(_request("refund"))
    with pytest.raises(PermanentError, match="ticket id"):
        await executor.execute(_request(metadata={"zendesk_ticket_id": "../users/1"}))
    assert len(api.requests) == 10  # the last two never left Signoff


async def test_an_unreachable_api_is_retried_but_a_timeout_after_sending_is_not(
    api: FakeVendorApi,
) -> None:
    api.delay = 0.5
    async with httpx.AsyncClient(timeout=0.1) as slow:
        executor = ZendeskExecutor(
            api_url=api.url, email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, client=slow
        )
        with pytest.raises(PermanentError, match=r"ReadTimeout\): it may have acted"):
            await executor.execute(_request())
    assert len(api.wait_for(1)) == 1  # the comment reached Zendesk: resending would repeat it
    async with httpx.AsyncClient(timeout=1) as client:
        executor = ZendeskExecutor(
            api_url=f"http://127.0.0.1:{free_port()}",
            email=ZENDESK_EMAIL,
            api_token=ZENDESK_TOKEN,
            client=client,
        )
        with pytest.raises(RetryableError, match="unreachable"):
            await executor.execute(_request())
