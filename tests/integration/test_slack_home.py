"""App Home: ``app_home_opened`` publishes the viewer's queue with the card's buttons, counts by
risk, today's stats and thresholds; leads change thresholds in a modal and pause from there."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.app_home_view import HOME_PAUSE, HOME_RESUME, HOME_SETTINGS, SETTINGS_CALLBACK
from bot.slack.card import APPROVE_ACTION, EDIT_ACTION
from bot.slack.edit_modal import EDIT_CALLBACK
from tests.support.server_harness import (
    LEAD,
    OUTSIDER,
    REVIEW_CHANNEL,
    REVIEWER,
    RunningServer,
    wait_until,
)
from tests.support.slack_payloads import (
    home_click,
    input_values,
    post_event,
    select_value,
    submit_view,
)
from tests.support.slack_review import carded, opened_view, wait_ephemeral
from tests.support.ticket_factory import refund_ticket


def _open_home(server: RunningServer, user: str) -> dict[str, Any]:
    assert server.slack is not None
    before = len(server.slack.calls("views.publish"))
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    assert post_event(server, event).status_code == 200
    call = server.slack.wait_for("views.publish", count=before + 1)[before]
    assert call.params["user_id"] == user
    view: dict[str, Any] = call.params["view"]
    return view


def _click_home(server: RunningServer, action_id: str, value: str, user: str) -> None:
    assert server.slack is not None
    payload = home_click(
        action_id=action_id, value=value, user=user, response_url=server.slack.response_url("h")
    )
    assert server.post_slack({"payload": json.dumps(payload)}).status_code == 200


def _action_ids(view: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_home_shows_the_queue_with_buttons_counts_stats_and_thresholds(
    one_db_server: RunningServer,
) -> None:
    server = one_db_server
    item_id = carded(server, refund_ticket("300.00"))
    view = _open_home(server, REVIEWER)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    rendered = json.dumps(view, ensure_ascii=False)
    assert item_id in rendered and "Waiting for review: 1* (LOW 0 · MEDIUM 0 · HIGH 1" in rendered
    assert "Signoff stats for today" in rendered and "refund_auto_limit = 50" in rendered
    assert _action_ids(view) == [APPROVE_ACTION, "signoff_edit", "signoff_reject"]
    outsider = _open_home(server, OUTSIDER)
    assert _action_ids(outsider) == [] and "You can look, but not decide" in json.dumps(outsider)
    lead = _open_home(server, LEAD)
    assert _action_ids(lead)[:2] == [HOME_SETTINGS, HOME_PAUSE]


def test_approving_and_editing_from_home(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None and server.sink is not None
    item_id = carded(server, refund_ticket("300.00"))
    view = _open_home(server, REVIEWER)
    value = next(
        e["value"]
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == APPROVE_ACTION
    )
    _click_home(server, EDIT_ACTION, value, REVIEWER)
    modal = opened_view(server.slack, EDIT_CALLBACK)
    assert json.loads(modal["private_metadata"])["channel"] is None
    _click_home(server, APPROVE_ACTION, value, REVIEWER)
    server.wait_for_state(item_id, "executed")
    republished = server.slack.wait_for("views.publish", count=2)[1].params["view"]
    assert "Your queue*: empty" in json.dumps(republished)
    _click_home(server, APPROVE_ACTION, value, REVIEWER)  # again: answered in a DM, no channel
    assert "Already approved" in wait_ephemeral(server.slack, REVIEWER, "Nothing was changed")


def test_leads_change_thresholds_and_pause_from_home(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None
    _click_home(server, HOME_SETTINGS, "settings", REVIEWER)
    wait_ephemeral(server.slack, REVIEWER, "Only leads")
    _click_home(server, HOME_SETTINGS, "settings", LEAD)
    modal = opened_view(server.slack, SETTINGS_CALLBACK)
    values = {
        **select_value("auto_approve_max_risk", "medium"),
        **input_values(refund_auto_limit="lots", quorum_amount="250"),
    }
    bad = submit_view(server, modal, user=LEAD, values=values)
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["refund_auto_limit"]
    values.update(input_values(refund_auto_limit="80", quorum_amount="250"))
    assert submit_view(server, modal, user=LEAD, values=values).status_code == 200
    notice = wait_until(
        lambda: next(
            (
                c.params["text"]
                for c in server.slack.calls("chat.postMessage")  # type: ignore[union-attr]
                if c.params.get("channel") == REVIEW_CHANNEL
            ),
            None,
        ),
        what="a notice in the review channel",
    )
    # The quorum amount applies at once; the two routing thresholds wait for the dry run.
    assert "`quorum_amount`: `500` → `250`" in notice
    assert "auto_approve_max_risk" not in notice and "refund_auto_limit" not in notice
    dry_run = wait_until(
        lambda: next(
            (
                c.params["text"]
                for c in server.slack.calls("chat.postMessage")  # type: ignore[union-attr]
                if c.params.get("channel") == f"D{LEAD}"
            ),
            None,
        ),
        what="the dry run in the lead's DMs",
    )
    assert "*Dry run* `auto_approve_max_risk`: `low` → `medium`" in dry_run
    assert "*Dry run* `refund_auto_limit`: `50` → `80`" in dry_run
    assert "/signoff change confirm #" in dry_run
    _click_home(server, HOME_PAUSE, "pause", LEAD)
    wait_ephemeral(server.slack, LEAD, "Auto-execution paused")
    home = _open_home(server, LEAD)
    assert "Auto-execution is paused" in json.dumps(home)
    assert HOME_RESUME in _action_ids(home)
    _click_home(server, HOME_RESUME, "resume", LEAD)
    wait_ephemeral(server.slack, LEAD, "Auto-execution resumed")
    assert HOME_PAUSE in _action_ids(_open_home(server, LEAD))
