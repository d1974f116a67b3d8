"""What all four vendors share: settings that say what is missing, disabled sources that refuse
with the setting's name, the size limit before the signature, and executors only where
credentials are."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from bot.errors import ConfigurationError
from bot.tickets import first_name
from bot.vendors import SOURCES
from bot.vendors.common import customer
from bot.vendors.executors import build_vendor_executors
from bot.vendors.settings import VendorSettings, load_vendor_settings
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.vendor_harness import (
    ZENDESK_SECRET,
    VendorServer,
    start_vendor_server,
    vendor_settings,
    zendesk_headers,
)


@pytest.fixture
def bare_server(database_url: str, slack: FakeSlack, sink: HttpSink) -> Iterator[VendorServer]:
    """Vendor routes mounted, no vendor configured except Zendesk's secret."""
    vendors = VendorSettings(_env_file=None, ZENDESK_WEBHOOK_SECRET=ZENDESK_SECRET)
    with start_vendor_server(
        database_url=database_url, slack=slack, sink=sink, vendors=vendors
    ) as running:
        yield running


def test_placeholder_customers_are_greeted_as_there_and_never_mailable() -> None:
    for vendor, ref in (
        ("zendesk", "8447388090494"),
        ("intercom", "5ba682d23d7c"),
        ("stripe", "ch_1"),
    ):
        placeholder = customer(vendor, ref)
        assert first_name(placeholder.name) == "there"
        assert placeholder.email.endswith(f"@{vendor}.invalid")
    assert customer("intercom", "x", name="Maria Lopez", email="not-an-email").email == (
        "x@intercom.invalid"
    )
    assert customer("intercom", "x", name=" Maria ", email="maria@example.com").name == "Maria"


def test_nothing_configured_names_every_missing_setting() -> None:
    settings = VendorSettings(_env_file=None)
    lines = settings.disabled_lines()
    assert len(lines) == 2 * len(SOURCES)
    assert lines[0] == (
        "zendesk webhook disabled: ZENDESK_WEBHOOK_SECRET not set "
        "(POST /webhooks/zendesk answers 503)"
    )
    assert "ZENDESK_API_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN not set" in lines[1]
    assert "INTERCOM_ACCESS_TOKEN and INTERCOM_ADMIN_ID not set" in lines[3]
    assert settings.enabled_lines() == []
    assert settings.secret_values() == []


def test_full_configuration_enables_everything_and_lists_its_secrets() -> None:
    settings = vendor_settings("https://api.example/")
    assert settings.disabled_lines() == []
    assert all(settings.source_enabled(s) and settings.executor_enabled(s) for s in SOURCES)
    assert settings.zendesk_api_url == "https://api.example"  # trailing slash dropped
    assert ZENDESK_SECRET in settings.secret_values()
    assert len(settings.secret_values()) == 8


def test_blank_values_mean_unset_and_bad_values_are_one_line_each() -> None:
    blank = VendorSettings(_env_file=None, STRIPE_API_KEY=" ", ZENDESK_REPLY_STATUS="")
    assert blank.stripe_api_key is None
    assert blank.zendesk_reply_status == "pending"
    with pytest.raises(ConfigurationError) as error:
        load_vendor_settings(
            _env_file=None, ZENDESK_API_URL="zendesk.com", ZENDESK_REPLY_STATUS="closed"
        )
    assert error.value.problems == [
        "ZENDESK_API_URL: Value error, must be an http:// or https:// URL",
        "ZENDESK_REPLY_STATUS: Value error, must be one of hold, new, open, pending, solved",
    ]


async def test_executors_exist_only_where_all_credentials_are() -> None:
    async with httpx.AsyncClient() as http:
        assert build_vendor_executors(VendorSettings(_env_file=None), http) == {}
        partial = VendorSettings(
            _env_file=None,
            ZENDESK_API_URL="https://acme.zendesk.com",
            ZENDESK_EMAIL="agent@acme.example",
            STRIPE_API_KEY="sk_test_x",
        )
        executors = build_vendor_executors(partial, http)
        assert set(executors) == {"stripe"}  # Zendesk still lacks its token
        full = build_vendor_executors(vendor_settings("https://api.example"), http)
        assert {name: e.name for name, e in full.items()} == {s: s for s in SOURCES}


def test_disabled_sources_answer_503_naming_the_setting(bare_server: VendorServer) -> None:
    for vendor, setting in (
        ("intercom", "INTERCOM_CLIENT_SECRET"),
        ("hubspot", "HUBSPOT_CLIENT_SECRET"),
        ("stripe", "STRIPE_WEBHOOK_SECRET"),
    ):
        response = bare_server.post_vendor(vendor, b"{}", {})
        assert response.status_code == 503
        assert response.json()["error"].startswith(f"{setting} is not set")
    assert bare_server.count_items() == 0


def test_oversize_bodies_are_refused_before_the_signature(bare_server: VendorServer) -> None:
    body = json.dumps({"type": "zen:event-type:ticket.created", "pad": "x" * 1_100_000}).encode()
    response = bare_server.post_vendor("zendesk", body, zendesk_headers(ZENDESK_SECRET, body))
    assert response.status_code == 413
    assert bare_server.count_items() == 0
