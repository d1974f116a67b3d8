"""Bad input to ``POST /webhooks/generic`` gets a clear error and stores nothing; good input is
stored exactly once however often it is delivered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import Item
from tests.support.server_harness import WEBHOOK_SECRET, RunningServer
from tests.support.signatures import generic_headers, generic_signature
from tests.support.ticket_factory import password_ticket, refund_ticket


def _count_items(server: RunningServer) -> int:
    with Session(server.db) as session:
        return int(session.execute(select(func.count()).select_from(Item)).scalar_one())


def _post_raw(server: RunningServer, body: bytes, headers: dict[str, str]) -> int:
    response = server.http.post(
        f"{server.url}/webhooks/generic",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )
    return response.status_code


def test_unsigned_request_is_refused(server: RunningServer) -> None:
    body = json.dumps(password_ticket()).encode()
    response = server.http.post(f"{server.url}/webhooks/generic", content=body)
    assert response.status_code == 401
    assert "missing" in response.json()["detail"]
    assert _count_items(server) == 0


def test_wrong_secret_is_refused(server: RunningServer) -> None:
    response = server.post_ticket(password_ticket(), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["detail"] == "signature does not match"
    assert _count_items(server) == 0


def test_tampered_body_is_refused(server: RunningServer) -> None:
    body = json.dumps(refund_ticket("10.00")).encode()
    headers = generic_headers(WEBHOOK_SECRET, body)
    tampered = body.replace(b"10.00", b"9999.00")
    assert _post_raw(server, tampered, headers) == 401
    assert _count_items(server) == 0


def test_stale_timestamp_is_refused(server: RunningServer) -> None:
    body = json.dumps(password_ticket()).encode()
    old = int(time.time()) - 301
    headers = generic_headers(WEBHOOK_SECRET, body, timestamp=old)
    assert _post_raw(server, body, headers) == 401
    future = int(time.time()) + 400
    assert _post_raw(server, body, generic_headers(WEBHOOK_SECRET, body, timestamp=future)) == 401
    assert _count_items(server) == 0


def test_malformed_json_is_a_400(server: RunningServer) -> None:
    body = b'{"id": "x", "kind": '
    response = server.http.post(
        f"{server.url}/webhooks/generic",
        content=body,
        headers=generic_headers(WEBHOOK_SECRET, body),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "body is not valid JSON"
    assert _count_items(server) == 0


# Valid JSON that no database can store as text: refused at the door, never a 500 from the insert.
UNSTORABLE = {
    "NUL in the body": ("body", "before\\u0000after"),
    "unpaired surrogate in the subject": ("subject", "broken \\ud800 text"),
    "NUL in a metadata key": ("metadata", '{"tag\\u0000": 1}'),
}


@pytest.mark.parametrize("case", sorted(UNSTORABLE))
def test_text_no_database_can_store_is_a_400_and_stores_nothing(
    server: RunningServer, case: str
) -> None:
    field, raw = UNSTORABLE[case]
    text = json.dumps(password_ticket())
    marker = '"__unstorable__"'
    ticket = json.loads(text)
    ticket[field] = "__unstorable__"
    body = json.dumps(ticket).replace(marker, raw if field == "metadata" else f'"{raw}"')
    assert _post_raw(server, body.encode(), generic_headers(WEBHOOK_SECRET, body.encode())) == 400
    assert _count_items(server) == 0
    assert server.post_ticket(password_ticket()).status_code == 202  # the next one is fine


def test_missing_and_wrong_fields_are_named(server: RunningServer) -> None:
    ticket = password_ticket()
    del ticket["subject"]
    ticket["customer"] = {"name": "No Email"}
    ticket["kind"] = "fax"
    response = server.post_ticket(ticket)
    assert response.status_code == 400
    fields = {problem["field"] for problem in response.json()["fields"]}
    assert fields == {"subject", "customer.email", "kind"}
    assert _count_items(server) == 0


def test_negative_refund_amount_is_refused(server: RunningServer) -> None:
    response = server.post_ticket(refund_ticket("-5.00"))
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "requested_action.amount"


def test_a_requested_action_that_could_never_be_valid_is_refused_at_the_door(
    server: RunningServer,
) -> None:
    ticket = password_ticket(requested_action={"kind": "update_field", "field": "x" * 150})
    response = server.post_ticket(ticket)
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "requested_action.field"
    assert _count_items(server) == 0


def test_two_megabyte_body_is_a_413(server: RunningServer) -> None:
    ticket = password_ticket(body="x" * 2_000_000)
    body = json.dumps(ticket).encode()
    assert _post_raw(server, body, generic_headers(WEBHOOK_SECRET, body)) == 413
    assert _count_items(server) == 0


def test_oversize_chunked_body_without_length_is_a_413(server: RunningServer) -> None:
    body = json.dumps(password_ticket(body="y" * 1_200_000)).encode()
    headers = {"Content-Type": "application/json", **generic_headers(WEBHOOK_SECRET, body)}

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = server.http.post(f"{server.url}/webhooks/generic", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert _count_items(server) == 0


def test_ten_concurrent_deliveries_make_one_item(server: RunningServer) -> None:
    ticket = password_ticket()
    body = json.dumps(ticket).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Signoff-Timestamp": timestamp,
        "X-Signoff-Signature": generic_signature(WEBHOOK_SECRET, timestamp, body),
    }

    def deliver(_: int) -> tuple[int, str]:
        response = server.http.post(f"{server.url}/webhooks/generic", content=body, headers=headers)
        return response.status_code, response.json()["item_id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(deliver, range(10)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 9 + [202]
    assert len({item_id for _, item_id in results}) == 1
    assert _count_items(server) == 1
    assert server.audit_events(results[0][1]).count("received") == 1


def test_duplicate_answers_with_the_existing_item(server: RunningServer) -> None:
    ticket = refund_ticket("42.00")
    first = server.post_ticket(ticket)
    second = server.post_ticket(ticket)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["item_id"] == first.json()["item_id"]
    assert second.json()["status"] == "duplicate"
