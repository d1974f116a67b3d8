"""``/signoff autonomy``, ``edits`` and ``change`` over signed slash commands: buckets and
their evidence, lead-only pins that win (audited), a threshold change with a 30-day dry run,
confirm and one-command revert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.slack.card import APPROVE_ACTION
from bot.store.models import AuditEvent
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import LEAD, REVIEWER, RunningServer
from tests.support.slack_payloads import card_click
from tests.support.slack_review import carded, reject_with_reason, sqlite_server, submit
from tests.support.slash_commands import ask
from tests.support.ticket_factory import ADDRESS_BUCKET, address_ticket, password_ticket


@pytest.fixture
def server(tmp_path: Path, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    settings: dict[str, Any] = {
        "autonomy_min_reviews": 3,
        "autonomy_target": 0.4,
        "autonomy_sample": 0.0,
        "spot_check_share": 0.0,
    }
    with sqlite_server(tmp_path, slack, sink, **settings) as running:
        yield running


def _events(server: RunningServer, event: str) -> list[dict[str, Any]]:
    return [row.detail for row in server.rows(AuditEvent, col(AuditEvent.event) == event)]


def _approve(server: RunningServer, item_id: str) -> None:
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    server.wait_for_state(item_id, "executed")


def test_autonomy_lists_buckets_with_their_evidence(server: RunningServer) -> None:
    assert "No buckets yet" in ask(server, "autonomy", user=REVIEWER)
    first, second = carded(server, address_ticket()), carded(server, address_ticket())
    _approve(server, first)
    answer = ask(server, "autonomy", user=REVIEWER)
    assert f"`{ADDRESS_BUCKET}` *learning (shadow mode)*" in answer
    assert "1 unchanged · 0 edited · 0 rejected" in answer
    assert "2 more unchanged approvals in a row would earn trust" in answer
    _approve(server, second)
    detail = ask(server, f"autonomy {ADDRESS_BUCKET}", user=REVIEWER)
    assert "2 unchanged" in detail and "1 more unchanged" in detail
    assert "is not a risk level" in ask(server, "autonomy a/b/c", user=REVIEWER)
    assert f"`{ADDRESS_BUCKET}`" in ask(server, "autonomy shipping", user=REVIEWER)
    assert "No bucket starts with `billing`" in ask(server, "autonomy billing", user=REVIEWER)


def test_pins_are_lead_only_audited_and_win(server: RunningServer, sink: HttpSink) -> None:
    refused = ask(server, f"autonomy pin {ADDRESS_BUCKET} allow", user=REVIEWER)
    assert "Only leads" in refused and "Nothing was changed" in refused
    assert _events(server, "command_refused")[-1]["command"] == "autonomy pin"

    assert "Pinned" in ask(server, f"autonomy pin {ADDRESS_BUCKET} allow", user=LEAD)
    assert _events(server, "autonomy_pinned")[-1] == {
        "bucket": ADDRESS_BUCKET,
        "old": "none",
        "new": "allow",
    }
    allowed = server.wait_for_state(submit(server, address_ticket()), "executed")
    assert allowed.route_policy == "pinned_allow"
    assert "allowed by a lead" in ask(server, "autonomy", user=LEAD)

    # A low-risk reply is auto-executed by the thresholds; pinned to review, it is not.
    auto = server.wait_for_state(submit(server, password_ticket()), "executed")
    assert auto.route_policy == "low_risk_auto" and auto.autonomy_bucket
    assert "always_review" in ask(server, f"autonomy pin {auto.autonomy_bucket} review", user=LEAD)
    pinned = server.wait_for_state(submit(server, password_ticket()), "pending_review")
    assert pinned.route_policy == "pinned_review"

    assert "Unpinned" in ask(server, f"autonomy unpin {auto.autonomy_bucket}", user=LEAD)
    assert "not pinned" in ask(server, f"autonomy unpin {auto.autonomy_bucket}", user=LEAD)
    again = server.wait_for_state(submit(server, password_ticket()), "executed")
    assert again.route_policy == "low_risk_auto"


def test_leads_set_the_autonomy_policy(server: RunningServer) -> None:
    assert "Only leads" in ask(server, "autonomy set autonomy_target 0.5", user=REVIEWER)
    assert "must be between 0 and 1" in ask(server, "autonomy set autonomy_target 1.5", user=LEAD)
    # What earns trust changes only after the lead has seen which buckets it would change.
    for setting in ("autonomy_min_reviews 1", "autonomy_target 30%"):
        proposal = ask(server, f"autonomy set {setting}", user=LEAD)
        assert f"*Dry run* `{setting.split()[0]}`" in proposal
        assert "Nothing has changed yet" in proposal
        change_id = proposal.split("change confirm ")[1].split("`")[0]
        assert "Applied" in ask(server, f"change confirm {change_id}", user=LEAD)
    assert _events(server, "setting_changed")[-1]["new"] == "0.3"
    # The bound for n unchanged approvals is n / (n + z²): 0.21 for one, 0.34 for two.
    for _ in range(2):
        _approve(server, carded(server, address_ticket()))
    trusted = server.wait_for_state(submit(server, address_ticket()), "executed")
    assert trusted.route_policy == "earned_autonomy"


def test_setting_change_dry_run_confirm_and_revert(server: RunningServer) -> None:
    reviewed = [carded(server, address_ticket()) for _ in range(2)]
    for item_id in reviewed:
        _approve(server, item_id)
    assert "Only leads" in ask(server, "change risk medium", user=REVIEWER)

    dry_run = ask(server, "change risk medium", user=LEAD)
    assert "*Dry run* `auto_approve_max_risk`: `low` → `medium`" in dry_run
    assert "2 would have been auto-executed (now 0)" in dry_run
    assert "*shipping*: +2 auto (humans rejected 0% and edited 0% of the 2 they reviewed)" in (
        dry_run
    )
    assert reviewed[0] in dry_run or reviewed[1] in dry_run
    assert "Nothing has changed yet" in dry_run
    # Nothing changed: the next address ticket still goes to review.
    server.wait_for_state(submit(server, address_ticket()), "pending_review")

    cancelled = ask(server, "change risk medium", user=LEAD)
    cancel_id = cancelled.split("change cancel ")[1].split("`")[0]
    assert "Cancelled" in ask(server, f"change cancel {cancel_id}", user=LEAD)
    assert "cancelled, not waiting" in ask(server, f"change confirm {cancel_id}", user=LEAD)

    proposal = ask(server, "change risk medium", user=LEAD)
    change_id = proposal.split("change confirm ")[1].split("`")[0]
    applied = ask(server, f"change confirm #{change_id}", user=LEAD)
    assert "`auto_approve_max_risk` `low` → `medium`" in applied
    auto = server.wait_for_state(submit(server, address_ticket()), "executed")
    assert auto.route_policy == "low_risk_auto"

    assert "`auto_approve_max_risk` is `low` again" in ask(server, "change revert", user=LEAD)
    server.wait_for_state(submit(server, address_ticket()), "pending_review")
    listing = ask(server, "change", user=LEAD)
    assert "reverted" in listing and "cancelled" in listing
    events = [e["event"] for e in _all_threshold_events(server)]
    assert events == [
        "threshold_change_proposed",
        "threshold_change_proposed",
        "threshold_change_cancelled",
        "threshold_change_proposed",
        "threshold_change_applied",
        "setting_changed",
        "threshold_change_reverted",
        "setting_changed",
    ]
    quorum = ask(server, "change quorum 800", user=LEAD)
    assert "`quorum_amount` does not change which items are auto-executed" in quorum
    quorum_id = quorum.split("change confirm ")[1].split("`")[0]
    assert "`quorum_amount` `500` → `800`" in ask(server, f"change confirm {quorum_id}", user=LEAD)
    assert "already `800`" in ask(server, "change quorum 800", user=LEAD)
    assert "not a setting" in ask(server, "change nonsense 3", user=LEAD)
    assert "Not changed" in ask(server, "change risk extreme", user=LEAD)
    # The old name, one letter from `settings`' old name `thresholds`, still works for now and
    # says what the command is called now.
    old = ask(server, "threshold", user=LEAD)
    assert "reverted" in old and "`/signoff threshold` is now `/signoff change`" in old


def _all_threshold_events(server: RunningServer) -> list[dict[str, Any]]:
    with Session(server.db) as session:
        rows = session.execute(
            select(AuditEvent)
            .where(
                col(AuditEvent.event).like("threshold_change_%")
                | (col(AuditEvent.event) == "setting_changed")
            )
            .order_by(col(AuditEvent.id))
        ).scalars()
        return [{"event": row.event, **row.detail} for row in rows]


def test_edits_reports_edit_rate_per_category(server: RunningServer) -> None:
    assert "No human approvals" in ask(server, "edits", user=REVIEWER)
    _approve(server, carded(server, address_ticket()))
    answer = ask(server, "edits 2", user=REVIEWER)
    assert "*shipping* —" in answer and "0% edited of 1" in answer
    assert "weeks from 1 to 52" in ask(server, "edits 99", user=REVIEWER)
    reject_with_reason(server, carded(server, address_ticket()), user=LEAD)
    stats = ask(server, "stats week", user=REVIEWER)
    assert "*Edits per category*" in stats and "*shipping* —" in stats
    assert "*Reject reasons per category:*\n• *shipping* — wrong facts 1" in stats
    assert "*Earned autonomy:* 0 items executed on a bucket's trust" in stats
