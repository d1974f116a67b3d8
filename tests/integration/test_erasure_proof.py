"""The proof that an erasure forgets: after ``python -m bot erase --customer``, no byte of the
database (SQLite: the file and its WAL; PostgreSQL: ``pg_dump`` and every relation's file read
back raw) holds the customer's e-mail, name, phone or ticket text; ``audit verify`` passes; the
posted cards and their thread lines were rewritten in place; and no log ever held the data."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.slack.card import APPROVE_ACTION, SHOW_MORE_ACTION
from bot.store.database import sync_url
from tests.support.bot_cli import run_bot
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import BOT_TOKEN, REVIEWER, start_server, wait_until
from tests.support.slack_payloads import card_click
from tests.support.slack_review import carded, reject_with_reason, submit
from tests.support.ticket_factory import refund_ticket

AUDIT_KEY = "erasure-proof-audit-key-0123456789abcdef01"
EMAIL = "jane.erasmus@example.net"
NAME = "Jane Erasmus"
PHONE = "+44 20 7946 0958"
STORY = "Bartholomew the parrot shredded my renewal invoice"
SECRETS = (EMAIL, NAME, "Erasmus", PHONE, "7946 0958", STORY, "Bartholomew")


def _ticket(number: int) -> dict[str, Any]:
    filler = " ".join(f"Line {n}: the renewal went through twice." for n in range(30))
    return refund_ticket(
        "480.00",
        id=f"T-erase-{number}",
        subject=f"Refund please, {NAME}",
        body=f"{STORY}. Call me on {PHONE} or write to {EMAIL}. {filler}",
        customer={"name": NAME, "email": EMAIL, "tier": "pro"},
    )


def _found(blob: bytes) -> list[str]:
    lowered = blob.lower()
    return [s for s in SECRETS if s.lower().encode() in lowered]


def _sqlite_bytes(url: str) -> bytes:
    path = Path(str(make_url(sync_url(url)).database))
    parts = [path.read_bytes()]
    for suffix in ("-wal", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            parts.append(extra.read_bytes())
    return b"".join(parts)


def _postgres_bytes(url: str) -> bytes:
    """``pg_dump`` of the test database, and every table, TOAST table and index file read raw
    (``pg_read_binary_file``, after a CHECKPOINT): dead tuples would show in the raw files."""
    sync = sync_url(url)
    parts: list[bytes] = []
    if shutil.which("pg_dump"):
        dumped = subprocess.run(
            ["pg_dump", "--no-owner", sync.replace("+psycopg", "")],
            capture_output=True,
            check=True,
            timeout=120,
        )
        parts.append(dumped.stdout)
    engine = create_engine(sync, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            paths = connection.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't', 'i') "
                    "AND pg_relation_filepath(c.oid) IS NOT NULL"
                )
            ).scalars()
            for path in list(paths):
                parts.append(
                    connection.execute(
                        text("SELECT pg_read_binary_file(:p)"), {"p": path}
                    ).scalar_one()
                )
            if not parts:
                for table in connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars():
                    rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                    parts.append(repr(rows).encode())
    finally:
        engine.dispose()
    return b"".join(parts)


def test_erasure_leaves_no_trace(
    database_url: str, slack: FakeSlack, sink: HttpSink, capfd: pytest.CaptureFixture[str]
) -> None:
    sqlite = database_url.startswith("sqlite")
    env = {
        "SIGNOFF_AUDIT_KEY": AUDIT_KEY,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
    }
    with start_server(
        database_url=database_url, slack=slack, sink=sink, audit_key=AUDIT_KEY, log_level="INFO"
    ) as server:
        executed, rejected, pending = (carded(server, _ticket(n)) for n in (1, 2, 3))
        other = carded(server, refund_ticket())
        # A small refund is auto-executed and reserves the customer's auto-money budget.
        customer = {"name": NAME, "email": EMAIL, "tier": "pro"}
        small = refund_ticket(
            "15.00",
            subject="Shipping refund",
            body=f"Refund of the shipping fee for order 88, 15.00 USD, as agreed. {PHONE}",
            customer=customer,
        )
        auto = submit(server, small)
        assert server.wait_for_state(auto, "executed", "pending_review").state == "executed"
        with server.db.connect() as connection:
            held = connection.execute(text("SELECT customer FROM auto_money_reservation"))
            assert [row.customer for row in held] == [EMAIL]
        card = server.item(executed)
        card_click(server, SHOW_MORE_ACTION, executed, user=REVIEWER)
        wait_until(
            lambda: any(m.get("thread_ts") == card.slack_ts for m in slack.messages.values()),
            what="full text in the thread",
        )
        server.click(APPROVE_ACTION, executed)
        server.wait_for_state(executed, "executed")
        reject_with_reason(
            server, rejected, user=REVIEWER, detail=f"{NAME} already got this refund"
        )
        assert _found(json.dumps(list(slack.messages.values())).encode())  # it was there

        erased = run_bot(
            "erase", "--customer", EMAIL.upper(), "--by", "dpo", "--yes",
            *([] if sqlite else ["--vacuum-full"]),
            database_url=database_url,
            env=env,
        )  # fmt: skip
        assert erased.returncode == 0, erased.stderr
        assert "4 item(s) erased" in erased.stdout

        assert server.item(executed).state == "executed"
        assert server.item(rejected).state == "rejected"
        gone = server.item(pending)
        assert gone.state == "erased" and gone.erased_at is not None
        assert server.item(other).customer_email == "maria@example.com"
        # The cards (and the full-text thread lines) were rewritten in place, facts kept.
        for item_id in (executed, rejected, pending):
            item = server.item(item_id)
            message = slack.messages[(str(item.slack_channel), str(item.slack_ts))]
            assert "Erased at the customer's request" in message["text"]
            assert item_id in json.dumps(message["blocks"])
        assert any(
            "approved"
            in json.dumps(slack.messages[(str(card.slack_channel), str(card.slack_ts))]["blocks"])
            for _ in [0]
        )
        assert not _found(json.dumps(list(slack.messages.values())).encode())
        # An erased item cannot be approved any more.
        ephemerals = len(slack.calls("chat.postEphemeral"))
        assert server.click(APPROVE_ACTION, pending).status_code == 200
        wait_until(
            lambda: len(slack.calls("chat.postEphemeral")) > ephemerals, what="refusal answered"
        )
        assert server.item(pending).state == "erased"

    verified = run_bot("audit", "verify", database_url=database_url, env=env)
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact" in verified.stdout

    dump = _sqlite_bytes(database_url) if sqlite else _postgres_bytes(database_url)
    assert b"maria@example.com" in dump  # the dump does see what was not erased
    assert _found(dump) == []
    logs = capfd.readouterr()
    everything = logs.out + logs.err + erased.stdout + erased.stderr + verified.stdout
    assert _found(everything.encode()) == []
