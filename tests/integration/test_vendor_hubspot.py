"""HubSpot: v3-signed event batches become crm_event items exactly once (the URL HubSpot called is
part of the signature, also behind a proxy); property updates go out exactly as documented."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bot.actions.sink import ActionRequest
from bot.errors import PayloadError, PermanentError, RetryableError, SignatureError
from bot.vendors import hubspot
from bot.vendors.hubspot import HubSpotExecutor
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.fakes.vendor_api import FakeVendorApi
from tests.support.vendor_harness import (
    HUBSPOT_PUBLIC_URL,
    HUBSPOT_SECRET,
    HUBSPOT_TOKEN,
    VendorServer,
    action_request,
    fixture,
    fixture_bytes,
    hubspot_headers,
    start_vendor_server,
    vendor_settings,
)

BATCH = "hubspot_batch.json"

# Known answer from the reference file (hubspot-api-python's signature tests).
KAT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
KAT_BODY = b"{'example_field':'example_value'}"
KAT_URI = "https://www.example.com/webhook_uri"
KAT_TIMESTAMP = "15000000"
KAT_SIGNATURE = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


@pytest.fixture
def executor(api: FakeVendorApi, http: httpx.AsyncClient) -> HubSpotExecutor:
    return HubSpotExecutor(api_url=api.url, access_token=HUBSPOT_TOKEN, client=http)


def _request(kind: str = "update_field", **changes: Any) -> ActionRequest:
    return action_request("hubspot", kind, **changes)


# --- signature (pure) -----------------------------------------------------------------------------


def test_known_answer_from_hubspots_own_tests() -> None:
    signature = hubspot.sign(
        KAT_SECRET, method="POST", uri=KAT_URI, body=KAT_BODY, timestamp=KAT_TIMESTAMP
    )
    assert signature == KAT_SIGNATURE
    at_the_time = int(KAT_TIMESTAMP) / 1000 + 60

    def verify(now: float | None = at_the_time, **changed: Any) -> None:
        request: dict[str, Any] = {"method": "POST", "uri": KAT_URI, "body": KAT_BODY, **changed}
        hubspot.verify(
            KAT_SECRET, signature=KAT_SIGNATURE, timestamp=KAT_TIMESTAMP, now=now, **request
        )

    verify()
    with pytest.raises(SignatureError, match="5 minutes"):
        verify(now=None)  # the real clock: years after the known answer was signed
    for changed in ({"uri": KAT_URI + "/other"}, {"method": "PUT"}, {"body": KAT_BODY + b" "}):
        with pytest.raises(SignatureError, match="does not match"):
            verify(**changed)


def test_uri_is_decoded_as_hubspot_signs_it_and_rebuilt_behind_a_proxy() -> None:
    assert hubspot.signed_uri("https://a.example/hook?next=%2Fx%3Fy%3Az%40w%2a") == (
        "https://a.example/hook?next=/x?y:z@w*"
    )
    assert hubspot.signed_uri("https://a.example/hook?q=a%20b") == "https://a.example/hook?q=a%20b"
    assert (
        hubspot.request_uri(
            configured="https://pub.example/webhooks/hubspot",
            scheme="http",
            host="10.0.0.5:3000",
            path="/webhooks/hubspot",
            query="a=1",
        )
        == "https://pub.example/webhooks/hubspot?a=1"
    )
    assert (
        hubspot.request_uri(
            configured=None, scheme="https", host="pub.example", path="/webhooks/hubspot", query=""
        )
        == "https://pub.example/webhooks/hubspot"
    )


# --- normalise (pure, documented payloads) --------------------------------------------------------


def test_documented_batch_is_normalised_event_by_event() -> None:
    property_change, creation = hubspot.events(fixture(BATCH))
    ticket = hubspot.normalise(property_change)
    assert ticket is not None
    assert ticket.kind == "crm_event"
    assert ticket.id == "33:25:3816279340:1246965:1462216307945"
    assert ticket.subject == "HubSpot contact 1246965: lifecyclestage changed to 'subscriber'"
    assert "Change source: ACADEMY" in ticket.body
    assert ticket.metadata["hubspot_object_type"] == "contacts"
    assert ticket.metadata["hubspot_object_id"] == "1246965"
    assert hubspot.normalise(creation) is None  # contact.creation: not an event Signoff acts on
    [verbatim] = hubspot.events(fixture("hubspot_contact_creation.json"))
    assert hubspot.normalise(verbatim) is None


def test_deal_and_ticket_events_name_their_objects() -> None:
    deal, ticket = (
        hubspot.normalise(e) for e in hubspot.events(fixture("hubspot_deal_and_ticket.json"))
    )
    assert deal is not None and ticket is not None
    assert deal.metadata["hubspot_object_type"] == "deals"
    assert deal.metadata["hubspot_property_value"] == "closedlost"
    assert ticket.subject == "HubSpot ticket 2034567121 created"
    assert ticket.metadata["hubspot_object_type"] == "tickets"
    with pytest.raises(PayloadError, match="array"):
        hubspot.events("not a batch")
    with pytest.raises(PayloadError, match="objectId"):
        hubspot.normalise({"subscriptionType": "deal.propertyChange", "eventId": 1})


# --- over HTTP, on both databases -----------------------------------------------------------------


def test_signed_batch_is_stored_once_per_event(vendor_server: VendorServer) -> None:
    answer = vendor_server.post_new_then_redelivered("hubspot", fixture_bytes(BATCH))
    assert (answer["status"], answer["ignored"], len(answer["items"])) == ("accepted", 1, 1)
    item = vendor_server.item(answer["items"][0]["item_id"])
    assert (item.source, item.kind) == ("hubspot", "crm_event")
    assert item.extra["hubspot_object_id"] == "1246965"


def test_bad_signatures_are_refused_and_nothing_is_stored(vendor_server: VendorServer) -> None:
    body = fixture_bytes(BATCH)
    stale = int(time.time() * 1000) - 301_000
    attempts = {
        "unsigned": (body, {}),
        "tampered body": (
            body.replace(b"subscriber", b"customer"),
            hubspot_headers(HUBSPOT_SECRET, body, uri=HUBSPOT_PUBLIC_URL),
        ),
        "wrong secret": (body, hubspot_headers("not-the-secret", body, uri=HUBSPOT_PUBLIC_URL)),
        "stale timestamp": (
            body,
            hubspot_headers(HUBSPOT_SECRET, body, uri=HUBSPOT_PUBLIC_URL, timestamp_ms=stale),
        ),
        "signed for another URL": (
            body,
            hubspot_headers(HUBSPOT_SECRET, body, uri="https://evil.example/webhooks/hubspot"),
        ),
    }
    vendor_server.assert_refused("hubspot", attempts)


def test_ignored_batches_answer_200_and_one_bad_event_stores_none(
    vendor_server: VendorServer,
) -> None:
    creation = fixture_bytes("hubspot_contact_creation.json")
    [answer] = vendor_server.assert_ignored("hubspot", [creation])
    assert answer == {"status": "ignored", "items": [], "ignored": 1}
    batch = fixture("hubspot_deal_and_ticket.json")
    del batch[1]["objectId"]
    response = vendor_server.post_signed("hubspot", json.dumps(batch).encode())
    assert response.status_code == 400
    assert "objectId" in response.json()["detail"]
    assert vendor_server.count_items() == 0  # the good deal event was not stored either


def test_without_a_public_url_the_forwarded_url_is_signed(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    vendors = vendor_settings(hubspot_webhook_url=None)
    with start_vendor_server(
        database_url=database_url, slack=slack, sink=sink, vendors=vendors
    ) as running:
        body = fixture_bytes(BATCH)
        public = "https://hooks.example.org/webhooks/hubspot?portal=33"
        headers = {
            **hubspot_headers(HUBSPOT_SECRET, body, uri=public),
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "hooks.example.org",
        }
        response = running.post_vendor("hubspot", body, headers, path="?portal=33")
        assert response.status_code == 202, response.text
        direct = f"{running.url}/webhooks/hubspot"
        unproxied = hubspot_headers(HUBSPOT_SECRET, body, uri=direct)
        assert running.post_vendor("hubspot", body, unproxied).status_code == 200  # duplicate
        assert running.count_items() == 1


# --- executor against the fake API ----------------------------------------------------------------


async def test_update_is_the_documented_patch(
    api: FakeVendorApi, executor: HubSpotExecutor
) -> None:
    result = await executor.execute(_request())
    [call] = api.requests
    assert (call.method, call.path) == ("PATCH", "/crm/v3/objects/deals/9171456231")
    assert call.headers["authorization"] == f"Bearer {HUBSPOT_TOKEN}"
    assert call.headers["content-type"] == "application/json"
    assert call.json() == {"properties": {"dealstage": "closedwon"}}
    assert result == {
        "executor": "hubspot",
        "sent": True,
        "status": 200,
        "object_type": "deals",
        "object_id": "9171456231",
        "property": "dealstage",
        "value": "closedwon",
        "updated_at": "2024-03-24T09:30:00.000Z",
    }


async def test_replies_are_recorded_as_not_sent(
    api: FakeVendorApi, executor: HubSpotExecutor
) -> None:
    result = await executor.execute(_request("reply", reply_text="Hi there"))
    assert result["sent"] is False
    assert api.requests == []


async def test_errors_are_retryable_or_permanent(
    api: FakeVendorApi, executor: HubSpotExecutor
) -> None:
    for status in (429, 500, 504):
        api.respond_with(status)
        with pytest.raises(RetryableError):
            await executor.execute(_request())
    for status in (400, 401, 404):
        api.respond_with(status, body={"status": "error", "category": "VALIDATION_ERROR"})
        with pytest.raises(PermanentError, match="VALIDATION_ERROR"):
            await executor.execute(_request())
    with pytest.raises(PermanentError, match="refund"):
        await executor.execute(_request("refund"))
    with pytest.raises(PermanentError, match="property name"):
        await executor.execute(
            _request(action={"kind": "update_field", "field": "a/b", "value": "x"})
        )
    with pytest.raises(PermanentError, match="object type"):
        await executor.execute(_request(metadata={"hubspot_object_id": "1"}))
    assert len(api.requests) == 6


async def test_a_unique_value_conflict_is_permanent_and_a_locked_record_is_retried(
    api: FakeVendorApi, executor: HubSpotExecutor
) -> None:
    """HubSpot's 409 means another record already has this unique property value: sending it
    again conflicts again, so a human sees HubSpot's message. 423 means the record is locked by
    a large sync, so the same update is tried again later."""
    conflict = {
        "status": "error",
        "message": "Contact already exists. Existing ID: 4251",
        "category": "CONFLICT",
    }
    api.respond_with(409, body=conflict)
    with pytest.raises(PermanentError, match="Contact already exists") as permanent:
        await executor.execute(_request())
    assert permanent.value.status == 409
    api.respond_with(423, body={"status": "error", "category": "LOCKED"})
    with pytest.raises(RetryableError) as locked:
        await executor.execute(_request())
    assert locked.value.status == 423
    result = await executor.execute(_request())  # the retry after the lock is released
    assert result["sent"] is True
    assert [call.status for call in api.requests] == [409, 423, 200]
    assert len({call.body for call in api.requests}) == 1


def test_the_echo_of_signoffs_own_update_is_ignored_but_other_integrations_are_not() -> None:
    event = fixture("hubspot_batch.json")[0]
    own = {**event, "changeSource": "INTEGRATION", "sourceId": str(event["appId"])}
    assert hubspot.normalise(own) is None
    other_app = {**event, "changeSource": "INTEGRATION", "sourceId": "999"}
    assert hubspot.normalise(other_app) is not None
    by_a_person = {**event, "changeSource": "CRM_UI", "sourceId": str(event["appId"])}
    assert hubspot.normalise(by_a_person) is not None
