"""``/signoff``: every subcommand over signed slash-command requests, ephemeral answers, filters
and pages, lead-only changes with old → new in the audit log and a notice in the channel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.slack.card import APPROVE_ACTION
from bot.store.models import AuditEvent
from handlers.commands.registry import registry
from tests.support.server_harness import (
    LEAD,
    REVIEW_CHANNEL,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
)
from tests.support.slack_payloads import card_click, post_event
from tests.support.slack_review import carded, submit, wait_ephemeral
from tests.support.slash_commands import ask
from tests.support.ticket_factory import password_ticket, refund_ticket


def _settings_audit(server: RunningServer) -> list[tuple[str, str, dict[str, object]]]:
    with Session(server.db) as session:
        rows = session.execute(
            select(AuditEvent)
            .where(col(AuditEvent.event).in_(["setting_changed", "command_refused"]))
            .order_by(col(AuditEvent.id))
        ).scalars()
        return [(r.event, r.actor, dict(r.detail)) for r in rows]


def test_help_lists_every_registered_subcommand(one_db_server: RunningServer) -> None:
    answer = ask(one_db_server, "help")
    for name, entry in registry().items():
        if not entry.hidden:
            assert f"/signoff {entry.usage}" in answer, name
    # Renamed subcommands are listed by their new names only.
    assert "/signoff threshold" not in answer and "/signoff settings" in answer
    assert "You are a *reviewer*" in answer
    assert "You are a *lead*" in ask(one_db_server, "", user=LEAD)  # empty text is help


def test_pending_filters_and_pages(one_db_server: RunningServer) -> None:
    server = one_db_server
    ids = [submit(server, refund_ticket(f"{100 + n}.00")) for n in range(11)]
    critical = submit(server, refund_ticket("90.00", body="My lawyer says refund the 90.00 USD."))
    for item_id in [*ids, critical]:
        server.wait_for_state(item_id, "pending_review")
    first = ask(server, "pending")
    assert "12 item(s) waiting for review* — page 1 of 2" in first
    assert ids[0] in first and critical not in first
    assert "/signoff pending page:2" in first
    second = ask(server, "pending page:2")
    assert ids[10] in second and critical in second and ids[0] not in second
    only_critical = ask(server, "pending critical")
    assert "1 item(s)" in only_critical and critical in only_critical
    assert "Nothing is waiting" in ask(server, "pending older:2h")
    assert "Nothing is waiting" in ask(server, "pending category:no-such-thing")
    bad = ask(server, "pending urgent&<now>")
    assert "I don't understand `urgent&amp;&lt;now&gt;`" in bad and "older:2h" in bad


def test_show_mine_and_stats(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None
    approved = carded(server, refund_ticket("120.00"))
    waiting = carded(server, refund_ticket("130.00"))
    auto = submit(server, password_ticket())
    server.wait_for_state(auto, "executed")
    card_click(server, APPROVE_ACTION, approved, user=REVIEWER)
    server.wait_for_state(approved, "executed")

    shown = ask(server, f"show {approved}")
    assert f"Outcome: *approved* by <@{REVIEWER}>" in shown
    assert "m***@example.com" in shown and "maria@example.com" not in shown
    assert "AI proposed: refund 120.00 USD → approved: refund 120.00 USD" in shown
    assert "Outcome: *auto executed* by policy (`low_risk_auto`)" in ask(server, f"show {auto}")
    assert "There is no item `itm_nope`" in ask(server, "show itm_nope")
    assert "Say which item" in ask(server, "show")

    mine = ask(server, "mine")
    assert "Waiting for you (1)" in mine and waiting in mine
    assert f"`{approved}` approved" in mine

    stats = ask(server, "stats today")
    assert "Items received: *3* · waiting for review now: 1" in stats
    assert "Auto-executed: 1 (50% of decisions)" in stats
    assert "approved 100%" in stats and "Median time to a human decision" in stats
    assert "Periods:" in ask(server, "stats fortnight")


def test_only_leads_change_settings_and_every_change_is_audited_and_announced(
    one_db_server: RunningServer,
) -> None:
    server = one_db_server
    assert server.slack is not None
    refused = ask(server, "set quorum_amount 100")
    assert "Only leads" in refused and "Nothing was changed" in refused
    assert "refund_auto_limit must be a number" in ask(server, "set refund_limit lots", user=LEAD)
    assert "is not a setting" in ask(server, "set colour blue", user=LEAD)
    assert "Usage:" in ask(server, "set quorum_amount", user=LEAD)
    changed = ask(server, "set quorum_amount 100", user=LEAD)
    assert "`quorum_amount`: `500` → `100`" in changed
    assert "already `100`" in ask(server, "set quorum 100", user=LEAD)
    notice = server.slack.wait_for("chat.postMessage")[0].params
    assert notice["channel"] == REVIEW_CHANNEL and "`500` → `100`" in notice["text"]
    assert _settings_audit(server) == [
        ("command_refused", REVIEWER, {"command": "set", "why": "not a lead"}),
        ("setting_changed", LEAD, {"key": "quorum_amount", "old": "500", "new": "100"}),
    ]
    assert "quorum_amount = 100" in ask(server, "settings")
    # The new quorum amount applies at once: a 300.00 refund now needs two approvers.
    item_id = carded(server, refund_ticket("300.00"))
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    wait_ephemeral(server.slack, REVIEWER, "(1 of 2)")
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER_2)
    server.wait_for_state(item_id, "executed")


def test_pause_is_a_kill_switch_for_auto_execution(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None and server.sink is not None
    assert "Only leads" in ask(server, "pause")
    assert "paused" in ask(server, "pause", user=LEAD)
    assert "already paused" in ask(server, "pause", user=LEAD)
    held = carded(server, password_ticket())  # low risk, but nothing runs on its own now
    assert server.item(held).route_policy == "paused"
    assert server.sink.requests == []
    shown = ask(server, "thresholds")  # the old name of `settings` still answers, with a hint
    assert "paused" in shown and "`/signoff thresholds` is now `/signoff settings`" in shown
    assert "resumed" in ask(server, "resume", user=LEAD)
    auto = submit(server, password_ticket())
    server.wait_for_state(auto, "executed")
    texts = [c.params["text"] for c in server.slack.calls("chat.postMessage") if "text" in c.params]
    assert any("paused auto-execution" in t for t in texts)
    assert any("resumed auto-execution" in t for t in texts)


def test_mentions_use_the_same_commands(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None
    item_id = carded(server, refund_ticket("300.00"))
    event = {
        "type": "app_mention",
        "user": REVIEWER,
        "text": "<@U0BOT> pending high",
        "ts": "1700000000.000100",
        "channel": REVIEW_CHANNEL,
        "event_ts": "1700000000.000100",
    }
    assert post_event(server, event).status_code == 200
    assert item_id in wait_ephemeral(server.slack, REVIEWER, "waiting for review")


def test_set_on_a_routing_threshold_shows_the_dry_run_and_changes_nothing_yet(
    one_db_server: RunningServer,
) -> None:
    server = one_db_server
    answer = ask(server, "set refund_limit 75", user=LEAD)
    assert "*Dry run* `refund_auto_limit`: `50` → `75`" in answer
    assert "confirm" in answer
    assert "refund_auto_limit = 50" in ask(server, "settings")
    assert _settings_audit(server) == []
