"""Edges found in review: odd but signed input never becomes a 500, a vendor that can receive but
not act never pretends to have acted, and the start-up log says so loudly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from structlog.testing import capture_logs

from bot.actions.sink import ExecutorRouter
from bot.errors import PermanentError
from bot.runtime import open_runtime
from bot.vendors.common import retry_after_seconds
from bot.vendors.executors import build_vendor_executors
from bot.vendors.settings import VendorSettings
from tests.support.server_harness import WEBHOOK_SECRET, make_settings
from tests.support.signatures import generic_headers
from tests.support.vendor_harness import (
    INTERCOM_SECRET,
    ZENDESK_SECRET,
    VendorServer,
    action_request,
    fixture,
    intercom_headers,
    zendesk_headers,
)

NESTED = b"[" * 50_000 + b"]" * 50_000


def _latin1(headers: dict[str, str]) -> dict[bytes, bytes]:
    """Raw header bytes, as a client that is not an HTTP library's well-behaved user sends them."""
    return {k.encode("latin-1"): v.encode("latin-1") for k, v in headers.items()}


def test_non_ascii_signature_headers_are_a_401_not_a_500(vendor_server: VendorServer) -> None:
    body = json.dumps(fixture("zendesk_ticket_created.json")).encode()
    zendesk = zendesk_headers(ZENDESK_SECRET, body)
    bad = {
        **zendesk,
        "X-Zendesk-Webhook-Signature": "é" + zendesk["X-Zendesk-Webhook-Signature"][1:],
    }
    answer = vendor_server.http.post(
        f"{vendor_server.url}/webhooks/zendesk",
        content=body,
        headers=_latin1(bad),
    )
    assert answer.status_code == 401
    intercom = vendor_server.http.post(
        f"{vendor_server.url}/webhooks/intercom",
        content=body,
        headers=_latin1({"X-Hub-Signature": "sha1=é"}),
    )
    assert intercom.status_code == 401
    generic = vendor_server.http.post(
        f"{vendor_server.url}/webhooks/generic",
        content=body,
        headers=_latin1({**generic_headers(WEBHOOK_SECRET, body), "X-Signoff-Signature": "v1=é"}),
    )
    assert generic.status_code == 401
    assert vendor_server.count_items() == 0


def test_signed_but_absurdly_nested_json_is_a_400(vendor_server: VendorServer) -> None:
    zendesk = vendor_server.post_vendor("zendesk", NESTED, zendesk_headers(ZENDESK_SECRET, NESTED))
    assert zendesk.status_code == 400
    generic = vendor_server.http.post(
        f"{vendor_server.url}/webhooks/generic",
        content=NESTED,
        headers=generic_headers(WEBHOOK_SECRET, NESTED),
    )
    assert generic.status_code == 400
    assert vendor_server.count_items() == 0


def test_an_intercom_author_type_of_the_wrong_shape_is_not_a_crash(
    vendor_server: VendorServer,
) -> None:
    payload = fixture("intercom_conversation_user_replied.json")
    parts = payload["data"]["item"]["conversation_parts"]["conversation_parts"]
    for part in parts:
        part["author"]["type"] = ["user"]
    body = json.dumps(payload).encode()
    answer = vendor_server.post_vendor("intercom", body, intercom_headers(INTERCOM_SECRET, body))
    assert answer.status_code in {200, 400}, answer.text


def test_oversize_unsigned_bodies_are_refused_before_any_signature_check(
    vendor_server: VendorServer,
) -> None:
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    assert vendor_server.post_vendor("zendesk", body, {}).status_code == 413


def test_the_hubspot_target_url_keeps_its_trailing_slash_because_hubspot_signs_it() -> None:
    settings = VendorSettings(
        _env_file=None,
        HUBSPOT_WEBHOOK_URL="https://signoff.example.com/webhooks/hubspot/",
        HUBSPOT_API_URL="https://api.hubapi.example/",
    )
    assert settings.hubspot_webhook_url == "https://signoff.example.com/webhooks/hubspot/"
    assert settings.hubspot_api_url == "https://api.hubapi.example"


async def test_a_source_that_can_receive_but_not_act_refuses_to_execute() -> None:
    receives_only = VendorSettings(_env_file=None, STRIPE_WEBHOOK_SECRET="whsec_0123456789abcdef")
    async with httpx.AsyncClient() as http:
        with_fallback = build_vendor_executors(receives_only, http, fallback_configured=True)
        assert with_fallback == {}  # the generic action sink carries Stripe's actions
        alone = build_vendor_executors(receives_only, http, fallback_configured=False)
        assert set(alone) == {"stripe"}
        with pytest.raises(PermanentError, match="STRIPE_API_KEY not set"):
            await alone["stripe"].execute(action_request("stripe"))


async def test_start_up_warns_about_a_source_whose_actions_would_fail(database_url: str) -> None:
    # A migrated database: a runtime opens the audit chain (its key boundary) as it starts.
    settings = make_settings(database_url=database_url, log_level="WARNING")
    vendors = VendorSettings(_env_file=None, ZENDESK_WEBHOOK_SECRET=ZENDESK_SECRET)
    with capture_logs() as logs:
        async with open_runtime(settings, vendors=vendors) as rt:
            assert isinstance(rt.executor, ExecutorRouter)
    warnings = [
        entry["event"]
        for entry in logs
        if entry["log_level"] == "warning" and not entry["event"].startswith("SIGNOFF_AUDIT_KEY")
    ]
    assert warnings == [
        "zendesk webhooks are accepted but approved zendesk actions will fail: set "
        "ZENDESK_API_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN (or SIGNOFF_ACTION_URL)"
    ]
    infos = [entry["event"] for entry in logs if entry["log_level"] == "info"]
    assert "zendesk webhook enabled at POST /webhooks/zendesk" in infos
    assert any(line.startswith("stripe executor disabled: STRIPE_API_KEY") for line in infos)


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    seconds = retry_after_seconds(later)
    assert seconds is not None and 100 < seconds <= 120
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=120), usegmt=True)
    assert retry_after_seconds(past) == 0.0
