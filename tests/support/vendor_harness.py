"""Running Signoff with the vendor webhooks, and signing requests the way each vendor does.

``start_vendor_server`` is ``tests.support.server_harness.start_server`` with ``VendorSettings``
passed to ``create_app`` exactly as ``python -m bot serve`` does: sources with a secret are
enabled, and when ``api_url`` points the vendor settings at a ``FakeVendorApi`` the runtime
routes each source's actions to its vendor executor, so a test follows a webhook to the vendor
API call.

The signing helpers are written independently of ``bot.vendors`` (straight from each vendor's
documented scheme), so a bug in the verifier cannot hide behind the same bug in the test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.actions.sink import ActionRequest
from bot.store.models import Item
from bot.vendors.settings import VendorSettings
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import RunningServer, start_server

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"

ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
INTERCOM_SECRET = "intercom-client-secret-0123456789"
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
STRIPE_SECRET = "whsec_test_secret_0123456789abcdef"
HUBSPOT_PUBLIC_URL = "https://signoff.example.com/webhooks/hubspot"

ZENDESK_EMAIL = "agent@example.com"
ZENDESK_TOKEN = "zendesk-api-token-0123456789"
INTERCOM_TOKEN = "intercom-access-token-0123456789"
INTERCOM_ADMIN = "991267"
HUBSPOT_TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"
STRIPE_KEY = "sk_test_0123456789abcdef"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def vendor_settings(api_url: str | None = None, **overrides: Any) -> VendorSettings:
    """Every source enabled with the test secrets; executors too when ``api_url`` is given.
    Built only from arguments, so a developer's ``.env`` never leaks into a test."""
    fields: dict[str, Any] = {
        "zendesk_webhook_secret": ZENDESK_SECRET,
        "intercom_client_secret": INTERCOM_SECRET,
        "hubspot_client_secret": HUBSPOT_SECRET,
        "hubspot_webhook_url": HUBSPOT_PUBLIC_URL,
        "stripe_webhook_secret": STRIPE_SECRET,
    }
    if api_url is not None:
        fields.update(
            zendesk_api_url=api_url,
            zendesk_email=ZENDESK_EMAIL,
            zendesk_api_token=ZENDESK_TOKEN,
            intercom_api_url=api_url,
            intercom_access_token=INTERCOM_TOKEN,
            intercom_admin_id=INTERCOM_ADMIN,
            hubspot_api_url=api_url,
            hubspot_access_token=HUBSPOT_TOKEN,
            stripe_api_url=api_url,
            stripe_api_key=STRIPE_KEY,
        )
    fields.update(overrides)
    return VendorSettings(_env_file=None, **fields)


def action_request(source: str, kind: str | None = None, **changes: Any) -> ActionRequest:
    """The approved action ``source``'s executor tests start from, with its action's ``kind``
    and any other field changed. Per vendor, ``sample_actions.json`` holds the item's ticket id,
    action, reply and the metadata that points at the fake API's sample record (Zendesk ticket
    5158, Intercom conversation 1295, HubSpot deal 9171456231, Stripe charge ch_1AZ…)."""
    item_id = f"itm_{source}0001"
    fields: dict[str, Any] = {
        "item_id": item_id,
        "source": source,
        "action": {"kind": "reply"},
        "reply_text": "",
        "approved_by": "U0REVIEWER",
        "policy": None,
        "idempotency_key": f"signoff-{item_id}-1",
        **fixture("sample_actions.json")[source],
    }
    if kind is not None:
        fields["action"] = {**fields["action"], "kind": kind}
    return ActionRequest(**{**fields, **changes})


# --- signing, independently of bot.vendors --------------------------------------------------------


def zendesk_headers(
    secret: str, body: bytes, *, timestamp: datetime | None = None
) -> dict[str, str]:
    ts = (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
    }


def intercom_headers(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def hubspot_headers(
    secret: str, body: bytes, *, uri: str, method: str = "POST", timestamp_ms: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    source = method.encode() + uri.encode() + body + ts.encode()
    mac = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(mac).decode(),
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-Version": "v3",
    }


def stripe_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={ts},v1={mac}"}


def signed_headers(vendor: str, body: bytes) -> dict[str, str]:
    """The headers ``vendor`` sends with ``body``: signed now, with the test secret, for the URL
    the test settings name (HubSpot signs the URL too)."""
    match vendor:
        case "zendesk":
            return zendesk_headers(ZENDESK_SECRET, body)
        case "intercom":
            return intercom_headers(INTERCOM_SECRET, body)
        case "hubspot":
            return hubspot_headers(HUBSPOT_SECRET, body, uri=HUBSPOT_PUBLIC_URL)
        case "stripe":
            return stripe_headers(STRIPE_SECRET, body)
    raise ValueError(f"no signer for {vendor!r}")


# --- the running server ---------------------------------------------------------------------------


class VendorServer(RunningServer):
    """A ``RunningServer`` with helpers for posting to the vendor endpoints."""

    def post_vendor(
        self, vendor: str, body: bytes, headers: dict[str, str], *, path: str = ""
    ) -> httpx.Response:
        return self.http.post(
            f"{self.url}/webhooks/{vendor}{path}",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )

    def post_signed(self, vendor: str, body: bytes) -> httpx.Response:
        """``body`` delivered the way ``vendor`` delivers it, signed with the test secret."""
        return self.post_vendor(vendor, body, signed_headers(vendor, body))

    def post_new_then_redelivered(self, vendor: str, body: bytes) -> dict[str, Any]:
        """Deliver ``body`` twice, as a vendor retrying does: the first is accepted (202), the
        second is answered 200 ``duplicate`` naming the same items, and one item is stored per
        event. Returns the first answer."""
        first = self.post_signed(vendor, body)
        assert first.status_code == 202, first.text
        again = self.post_signed(vendor, body)
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        assert _item_ids(again.json()) == _item_ids(first.json())
        assert self.count_items() == len(_item_ids(first.json()))
        return dict(first.json())

    def assert_refused(
        self, vendor: str, attempts: dict[str, tuple[bytes, dict[str, str]]]
    ) -> None:
        """Every ``name: (body, headers)`` attempt is refused 401 as an invalid signature, and
        none of them stores anything."""
        for name, (sent, headers) in attempts.items():
            response = self.post_vendor(vendor, sent, headers)
            assert response.status_code == 401, name
            assert response.json()["error"] == "invalid signature", name
        assert self.count_items() == 0

    def assert_ignored(self, vendor: str, bodies: list[bytes]) -> list[dict[str, Any]]:
        """Each signed body is answered 200 ``ignored`` and stores nothing; returns the answers
        for the test to look closer."""
        answers = []
        for body in bodies:
            response = self.post_signed(vendor, body)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "ignored"
            answers.append(response.json())
        assert self.count_items() == 0
        return answers

    def count_items(self) -> int:
        with Session(self.db) as session:
            return int(session.execute(select(func.count()).select_from(Item)).scalar_one())


def _item_ids(answer: dict[str, Any]) -> list[str]:
    """The items a webhook answer names: one for a single event, one per event for a batch."""
    return [entry["item_id"] for entry in answer.get("items", [answer])]


@contextlib.contextmanager
def start_vendor_server(
    *,
    database_url: str,
    slack: FakeSlack | None,
    sink: HttpSink | None,
    vendors: VendorSettings | None,
    **overrides: Any,
) -> Iterator[VendorServer]:
    with start_server(
        database_url=database_url, slack=slack, sink=sink, vendors=vendors, **overrides
    ) as running:
        yield VendorServer(
            running.url, running.settings, running.slack, running.sink, running.http, running.db
        )
