"""An insider with the database's own access (triggers dropped, hashes recomputed without the
key, tail rows deleted) cannot make ``audit verify`` pass: it names the first bad row or the
missing tail. The chain stays verifiable across a key rotation, and an anchor published to Slack
is what verify reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.store.audit_keys import legacy_hash
from bot.store.models import AuditAnchor, AuditEvent
from tests.support.audit_log import lift_append_only, outside
from tests.support.bot_cli import run_bot
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import BOT_TOKEN, start_server
from tests.support.ticket_factory import password_ticket, refund_ticket

KEY_A = "audit-key-A-0123456789abcdef0123456789abcdef"
KEY_B = "audit-key-B-fedcba9876543210fedcba9876543210"
AUDIT_CHANNEL = "C0AUDIT"


def _activity(database_url: str, sink: HttpSink, **settings: Any) -> None:
    """A real server decides a few tickets (one is auto-approved), then stops."""
    with start_server(database_url=database_url, slack=None, sink=sink, **settings) as server:
        for ticket in (password_ticket(), refund_ticket("300.00"), password_ticket()):
            item_id = server.post_ticket(ticket).json()["item_id"]
            server.wait_for_state(item_id, "executed", "pending_review")


def _rows(db: Engine) -> list[AuditEvent]:
    with Session(db) as session:
        rows = list(session.execute(select(AuditEvent).order_by(col(AuditEvent.id))).scalars())
        for row in rows:
            session.expunge(row)
        return rows


def _verify_fails(database_url: str, env: dict[str, str], *says: str) -> None:
    """``audit verify`` exits 1 and its report says each of ``says``."""
    code, out = _audit(database_url, "verify", **env)
    assert code == 1, out
    for words in says:
        assert words in out, out


def _drop_triggers(db: Engine) -> None:
    with db.begin() as connection:
        lift_append_only(connection)


def _reseal_from(db: Engine, first: int) -> None:
    """What an insider without the key can do: re-hash every row from ``first`` on with the
    unkeyed formula (the only one they can compute), chain by chain, so every link matches
    again."""
    rows = _rows(db)
    heads: dict[int, str] = {}
    with db.begin() as connection:
        for row in rows:
            assert row.id is not None
            if row.id < first:
                heads[row.chain] = row.row_hash or ""
                continue
            prev = heads.get(row.chain, "0" * 64)
            digest = legacy_hash(prev, row.at, row.item_id, row.actor, row.event, row.detail)
            connection.execute(
                update(AuditEvent)
                .where(col(AuditEvent.id) == row.id)
                .values(prev_hash=prev, row_hash=digest, key_id=None, detail_mac=None)
            )
            heads[row.chain] = digest


def _delete_tail(db: Engine, count: int) -> int:
    last = _rows(db)[-count].id
    with db.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": last})
    return int(last or 0)


def _audit(database_url: str, *args: str, **env: str) -> tuple[int, str]:
    result = run_bot("audit", *args, database_url=database_url, env=env)
    return result.returncode, result.stdout + result.stderr


def test_insider_rewrite_and_tail_deletion_are_named(
    database_url: str, sink: HttpSink, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    env = {"SIGNOFF_AUDIT_KEY": KEY_A, "SIGNOFF_AUDIT_ANCHOR_FILE": str(anchors)}
    _activity(database_url, sink, audit_key=KEY_A)
    code, out = _audit(database_url, "anchor", **env)
    assert code == 0, out
    code, out = _audit(database_url, "verify", **env)
    assert code == 0, out
    assert "1 anchor(s) matched" in out and "sealed with the audit key" in out

    with outside(database_url) as db:
        rows = _rows(db)
        auto = next(r for r in rows if r.event == "auto_approved")
        _drop_triggers(db)
        with db.begin() as connection:
            connection.execute(
                update(AuditEvent)
                .where(col(AuditEvent.id) == auto.id)
                .values(event="approved", actor="U0LEAD")
            )
        assert auto.id is not None
        _reseal_from(db, auto.id)
        _delete_tail(db, 2)
    _verify_fails(database_url, env, f"TAMPERED at row {auto.id}", "without the key")


def test_whole_chain_resealed_unkeyed_is_caught_by_the_anchor(
    database_url: str, sink: HttpSink, tmp_path: Path
) -> None:
    """Re-hashing every row from the first (so no keyed row is left to fail) still leaves the
    anchor outside the database: the anchored row is gone (tail deleted) or differs."""
    anchors = tmp_path / "anchors.jsonl"
    env = {"SIGNOFF_AUDIT_KEY": KEY_A, "SIGNOFF_AUDIT_ANCHOR_FILE": str(anchors)}
    _activity(database_url, sink, audit_key=KEY_A)
    assert _audit(database_url, "anchor", **env)[0] == 0
    anchored = json.loads(anchors.read_text().splitlines()[-1])
    heads = sorted(anchored["heads"], key=lambda head: head["row_id"])
    assert len(heads) > 1  # the activity spread over several chains
    with outside(database_url) as db:
        _drop_triggers(db)
        _reseal_from(db, 1)
        # The oldest anchored head is the first row found to differ.
        _verify_fails(
            database_url, env, f"TAMPERED at row {heads[0]['row_id']}", "differs from the anchor"
        )
        _delete_tail(db, 3)
    # Deleting the newest rows too does not help: the other chains' heads still differ (a
    # missing tail alone is named as such: tests/integration/test_audit_chains.py).
    _verify_fails(
        database_url, env, f"TAMPERED at row {heads[0]['row_id']}", "differs from the anchor"
    )


def test_chain_verifies_across_key_rotation(
    database_url: str, sink: HttpSink, tmp_path: Path
) -> None:
    _activity(database_url, sink)  # before any key: unkeyed rows
    _activity(database_url, sink, audit_key=KEY_A)
    _activity(database_url, sink, audit_key=KEY_B, audit_previous_keys=(KEY_A,))
    with outside(database_url) as db:
        events = [(r.event, r.key_id) for r in _rows(db)]
    boundary = next(i for i, (event, _) in enumerate(events) if event == "audit_chain_keyed")
    assert all(key is None for _, key in events[:boundary])
    assert all(key is not None for _, key in events[boundary:])
    assert [e for e, _ in events].count("audit_key_rotated") == 1

    code, out = _audit(
        database_url, "verify", SIGNOFF_AUDIT_KEY=KEY_B, SIGNOFF_AUDIT_PREVIOUS_KEYS=KEY_A
    )
    assert code == 0, out
    assert f"rows before {boundary + 1} are unkeyed" in out
    # Without the old key the rows it sealed cannot be checked: never reported as intact.
    _verify_fails(
        database_url,
        {"SIGNOFF_AUDIT_KEY": KEY_B},
        f"TAMPERED at row {boundary + 1}",
        "cannot verify",
    )
    _verify_fails(database_url, {}, "SIGNOFF_AUDIT_KEY is not set")


def test_anchor_published_to_slack_is_what_verify_reads(
    database_url: str, sink: HttpSink, slack: FakeSlack
) -> None:
    _activity(database_url, sink, audit_key=KEY_A)
    env = {
        "SIGNOFF_AUDIT_KEY": KEY_A,
        "SIGNOFF_AUDIT_CHANNEL": AUDIT_CHANNEL,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
    }
    code, out = _audit(database_url, "anchor", **env)
    assert code == 0, out
    posted = slack.calls("chat.postMessage")[-1].params
    assert posted["channel"] == AUDIT_CHANNEL
    payload = posted["metadata"]["event_payload"]
    with outside(database_url) as db:
        head = _rows(db)[-1]
        assert (payload["row_id"], payload["row_hash"]) == (head.id, head.row_hash)
        with Session(db) as session:
            recorded = session.execute(select(AuditAnchor)).scalars().all()
            assert [(a.row_id, a.target) for a in recorded] == [(head.id, "slack:C0AUDIT")]

        code, out = _audit(database_url, "verify", **env)
        assert code == 0, out
        assert "Slack channel C0AUDIT: 1 anchor(s) read" in out and "1 anchor(s) matched" in out
        assert slack.calls("conversations.history")
        _drop_triggers(db)
        _delete_tail(db, 1)
    _verify_fails(database_url, env, "missing tail", f"Slack {AUDIT_CHANNEL}")
