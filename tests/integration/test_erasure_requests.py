"""The other ways in: a lead's ``/signoff erase`` (audited, confirmed by a code) and
``SIGNOFF_RETENTION`` (decided items only, pending ones never)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import text

from bot.erasure.request import ErasureTools
from bot.erasure.retention import erase_past_retention
from bot.settings import Settings
from bot.store.audit_keys import AuditKeys
from bot.store.audit_verify import verify_chain
from bot.store.column_types import utcnow
from bot.store.database import create_engine, session_factory
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    LEAD,
    REVIEWER,
    RunningServer,
    make_settings,
    start_server,
)
from tests.support.slack_review import carded, reject_with_reason
from tests.support.slash_commands import ask
from tests.support.ticket_factory import refund_ticket

KEY = "erasure-requests-audit-key-0123456789abcdef"
EMAIL = "lee.request@example.net"


def _customer_ticket() -> dict[str, object]:
    return refund_ticket(customer={"name": "Lee Request", "email": EMAIL})


def test_a_lead_erases_a_customer_after_confirming(one_db_server: RunningServer) -> None:
    server = one_db_server
    item_id = carded(server, _customer_ticket())
    assert "Only leads" in ask(server, f"erase {EMAIL}", user=REVIEWER)
    asked = ask(server, f"erase <mailto:{EMAIL}|{EMAIL}>", user=LEAD)
    assert "*1* item(s)" in asked and EMAIL not in asked
    code = re.findall(r"`/signoff erase <the same address> ([0-9a-f]{8})`", asked)[0]
    assert "does not match" in ask(server, f"erase {EMAIL} 00000000", user=LEAD)
    assert server.item(item_id).erased_at is None
    assert "1 item(s) erased" in ask(server, f"erase {EMAIL} {code}", user=LEAD)
    assert server.item(item_id).state == "erased"
    with server.db.connect() as connection:
        rows = connection.execute(
            text("SELECT actor, event, detail FROM audit_event WHERE event LIKE 'eras%'")
        ).all()
    assert [(r.actor, r.event) for r in rows] == [(LEAD, "erasure_requested"), (LEAD, "erased")]
    assert EMAIL not in str(rows)
    with server.db.connect() as connection:
        payloads = connection.execute(text("SELECT payload FROM interaction_inbox")).all()
    assert EMAIL not in str(payloads)  # the commands themselves are scrubbed too


async def _retention(url: str) -> tuple[list[str], list[str], bool]:
    engine = create_engine(url)
    keys = AuditKeys.from_settings(_settings(url))
    try:
        tools = ErasureTools(engine, session_factory(engine, keys))
        later = utcnow() + timedelta(days=91)
        first = await erase_past_retention(tools, timedelta(days=90), later)
        second = await erase_past_retention(tools, timedelta(days=90), later)
        async with tools.sessions() as session:
            report = await verify_chain(session, keys)
        return list(first.items), list(second.items), report.ok
    finally:
        await engine.dispose()


def _settings(url: str) -> Settings:
    return make_settings(database_url=url, audit_key=KEY)


def test_retention_erases_decided_items_only(
    database_url: str, slack: FakeSlack, sink: HttpSink
) -> None:
    with start_server(
        database_url=database_url, slack=slack, sink=sink, audit_key=KEY, retention="90d"
    ) as server:
        decided = carded(server, _customer_ticket())
        pending = carded(server, _customer_ticket())
        reject_with_reason(server, decided, user=REVIEWER)
        assert "retention 90d" in ask(server, "settings")
        first, second, verified = asyncio.run(_retention(database_url))
        assert first == [decided] and second == [] and verified
        assert server.item(decided).state == "rejected"
        assert server.item(decided).customer_email == "[erased]"
        assert server.item(pending).customer_email == EMAIL
