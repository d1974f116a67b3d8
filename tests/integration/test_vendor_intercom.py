"""Intercom: signed conversation notifications become items exactly once; replies go back as the
admin through the documented endpoint; unsigned or tampered notifications store nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from bot.actions.sink import ActionRequest
from bot.errors import PermanentError, RetryableError, SignatureError
from bot.vendors import intercom
from bot.vendors.common import html_to_text, text_to_html
from bot.vendors.intercom import IntercomExecutor
from tests.support.fakes.vendor_api import FakeVendorApi
from tests.support.vendor_harness import (
    INTERCOM_ADMIN,
    INTERCOM_SECRET,
    INTERCOM_TOKEN,
    VendorServer,
    action_request,
    fixture,
    fixture_bytes,
    intercom_headers,
)

CREATED = "intercom_conversation_user_created.json"
REPLIED = "intercom_conversation_user_replied.json"


@pytest.fixture
def executor(api: FakeVendorApi, http: httpx.AsyncClient) -> IntercomExecutor:
    return IntercomExecutor(
        api_url=api.url, access_token=INTERCOM_TOKEN, admin_id=INTERCOM_ADMIN, client=http
    )


def _request(kind: str = "reply", **changes: Any) -> ActionRequest:
    return action_request("intercom", kind, **changes)


# --- signature and text (pure) --------------------------------------------------------------------


def test_signature_matches_an_independent_signer_and_refuses_changes() -> None:
    body = fixture_bytes(CREATED)
    signature = intercom_headers(INTERCOM_SECRET, body)["X-Hub-Signature"]
    assert signature.startswith("sha1=") and len(signature) == 45
    assert intercom.sign(INTERCOM_SECRET, body) == signature
    intercom.verify(INTERCOM_SECRET, signature=signature, body=body)
    with pytest.raises(SignatureError, match="does not match"):
        intercom.verify(INTERCOM_SECRET, signature=signature, body=body.replace(b"twice", b"x"))
    with pytest.raises(SignatureError, match="does not match"):
        intercom.verify("another-secret", signature=signature, body=body)
    with pytest.raises(SignatureError, match="missing"):
        intercom.verify(INTERCOM_SECRET, signature=None, body=body)


def test_html_goes_both_ways_without_letting_text_become_markup() -> None:
    assert html_to_text("<p>One &amp; two</p><p>three<br>four</p>") == "One & two\n\nthree\nfour"
    assert text_to_html("a <b>\n& c\n\nnext") == "<p>a &lt;b&gt;<br>&amp; c</p><p>next</p>"


# --- normalise (pure, documented payloads) --------------------------------------------------------


def test_documented_conversation_created_payload_is_normalised() -> None:
    ticket = intercom.normalise(fixture(CREATED))
    assert ticket is not None
    assert ticket.id == "notif_4e3504a3-ba3f-46dc-ab48-8e4d5bdfdf4e"
    assert ticket.subject == "Intercom conversation 1295"
    assert ticket.body == "Hi, I was charged twice for my subscription this month.\n\nCan you help?"
    assert (ticket.customer.name, ticket.customer.email) == ("Maria Lopez", "maria@example.com")
    assert ticket.metadata["intercom_conversation_id"] == "1295"
    assert ticket.metadata["intercom_contact_id"] == "5ba682d23d7cf92bef87bfd4"


def test_customer_reply_uses_the_latest_customer_part() -> None:
    ticket = intercom.normalise(fixture(REPLIED))
    assert ticket is not None
    assert ticket.subject == "Re: Charged twice"
    assert ticket.body == (
        "Here is the receipt: both charges are on 3 March & they are the same amount."
    )
    assert ticket.metadata["intercom_part_id"] == "7037849571"
    only_admin = fixture(REPLIED)
    part = only_admin["data"]["item"]["conversation_parts"]["conversation_parts"][0]
    part["author"] = {"type": "admin", "id": "991267", "name": "Agent"}
    assert intercom.normalise(only_admin) is None


def test_ping_and_admin_topics_are_ignored() -> None:
    assert intercom.normalise(fixture("intercom_ping.json")) is None
    assert intercom.normalise(fixture("intercom_conversation_admin_replied.json")) is None


# --- over HTTP, on both databases -----------------------------------------------------------------


def test_signed_notification_is_stored_once(routed_vendor_server: VendorServer) -> None:
    answer = routed_vendor_server.post_new_then_redelivered("intercom", fixture_bytes(CREATED))
    item = routed_vendor_server.item(answer["item_id"])
    assert (item.source, item.external_id) == (
        "intercom",
        "notif_4e3504a3-ba3f-46dc-ab48-8e4d5bdfdf4e",
    )
    assert item.customer_email == "maria@example.com"


def test_bad_signatures_are_refused_and_nothing_is_stored(
    routed_vendor_server: VendorServer,
) -> None:
    body = fixture_bytes(CREATED)
    attempts = {
        "unsigned": (body, {}),
        "tampered body": (
            body.replace(b"twice", b"ten times"),
            intercom_headers(INTERCOM_SECRET, body),
        ),
        "wrong secret": (body, intercom_headers("not-the-secret", body)),
        "sha256 instead of sha1": (body, {"X-Hub-Signature": "sha256=" + "0" * 64}),
    }
    routed_vendor_server.assert_refused("intercom", attempts)


def test_ignored_topics_answer_200(routed_vendor_server: VendorServer) -> None:
    topics = ("intercom_ping.json", "intercom_conversation_admin_replied.json")
    routed_vendor_server.assert_ignored("intercom", [fixture_bytes(name) for name in topics])


def test_auto_approved_reply_is_sent_as_the_admin(
    routed_vendor_server: VendorServer, api: FakeVendorApi
) -> None:
    payload = copy.deepcopy(fixture(CREATED))
    payload["data"]["item"]["source"]["body"] = "<p>How do I reset my password?</p>"
    response = routed_vendor_server.post_signed("intercom", json.dumps(payload).encode())
    assert response.status_code == 202
    item = routed_vendor_server.wait_for_state(response.json()["item_id"], "executed", "failed")
    assert item.state == "executed", item.last_error
    [call] = api.wait_for(1)
    assert (call.method, call.path) == ("POST", "/conversations/1295/reply")
    sent = call.json()
    assert (sent["message_type"], sent["type"], sent["admin_id"]) == (
        "comment",
        "admin",
        INTERCOM_ADMIN,
    )
    assert html_to_text(sent["body"]) == (item.draft_reply or "").strip()
    assert item.execution_result is not None
    assert item.execution_result["part_id"] == "7037849602"


# --- executor against the fake API ----------------------------------------------------------------


async def test_reply_is_the_documented_admin_reply(
    api: FakeVendorApi, executor: IntercomExecutor
) -> None:
    result = await executor.execute(_request())
    [call] = api.requests
    assert (call.method, call.path) == ("POST", "/conversations/1295/reply")
    assert call.headers["authorization"] == f"Bearer {INTERCOM_TOKEN}"
    assert call.headers["intercom-version"] == intercom.API_VERSION
    assert call.json() == {
        "message_type": "comment",
        "type": "admin",
        "admin_id": INTERCOM_ADMIN,
        "body": (
            "<p>Hi Maria,</p><p>Sorry about the double charge &lt;we&#x27;re on it&gt; "
            "&amp; will refund.</p>"
        ),
    }
    assert result["sent"] is True
    assert result["conversation_id"] == "1295"


async def test_escalation_is_a_note(api: FakeVendorApi, executor: IntercomExecutor) -> None:
    await executor.execute(_request("escalate"))
    assert api.requests[0].json()["message_type"] == "note"


async def test_errors_are_retryable_or_permanent(
    api: FakeVendorApi, executor: IntercomExecutor
) -> None:
    api.respond_with(429, headers={"Retry-After": "3"})
    with pytest.raises(RetryableError) as throttled:
        await executor.execute(_request())
    assert throttled.value.retry_after == 3.0
    for status in (500, 502):  # Intercom may have posted the reply: never resend blindly
        api.respond_with(status)
        with pytest.raises(PermanentError, match="may have acted"):
            await executor.execute(_request())
    for status in (400, 401, 404):
        api.respond_with(status, body={"type": "error.list", "errors": [{"code": "not_found"}]})
        with pytest.raises(PermanentError, match="not_found"):
            await executor.execute(_request())
    with pytest.raises(PermanentError, match="update_field"):
        await executor.execute(_request("update_field"))
    with pytest.raises(PermanentError, match="conversation id"):
        await executor.execute(_request(metadata={}))
    assert len(api.requests) == 6


async def test_a_conflict_with_existing_data_is_permanent(
    api: FakeVendorApi, executor: IntercomExecutor
) -> None:
    """Intercom documents 409 as existing data clashing with the request: the same request
    clashes again, so the item fails with Intercom's own message (not "may have acted")."""
    clash = {
        "type": "error.list",
        "errors": [{"code": "conflict", "message": "Multiple existing users match this email"}],
    }
    api.respond_with(409, body=clash)
    with pytest.raises(PermanentError, match="Multiple existing users") as permanent:
        await executor.execute(_request())
    assert permanent.value.status == 409
    assert "may have acted" not in str(permanent.value)
    assert len(api.requests) == 1
