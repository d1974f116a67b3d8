"""Edit: a modal opened with the click's trigger_id, inline field errors, re-validation against
the action schema and the policy, three separate records, and an audit trail of both texts."""

from __future__ import annotations

import json
from typing import Any

from bot.review.edit_validation import AMOUNT_BLOCK, CURRENCY_BLOCK, REPLY_BLOCK
from bot.slack.card import APPROVE_ACTION, EDIT_ACTION
from bot.slack.edit_modal import EDIT_CALLBACK
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import OUTSIDER, REVIEWER, REVIEWER_2, RunningServer, wait_until
from tests.support.slack_payloads import card_click, input_values, submit_view
from tests.support.slack_review import (
    audit_rows,
    carded,
    latest_card,
    opened_view,
    thread_texts,
    wait_ephemeral,
)
from tests.support.ticket_factory import refund_ticket


def _open_edit(server: RunningServer, amount: str) -> tuple[str, dict[str, Any]]:
    """A refund of ``amount`` on a card whose Edit a reviewer pressed: (item id, the modal)."""
    assert server.slack is not None
    item_id = carded(server, refund_ticket(amount))
    card_click(server, EDIT_ACTION, item_id, user=REVIEWER)
    return item_id, opened_view(server.slack, EDIT_CALLBACK)


def _edit_values(reply: str, amount: str, currency: str = "USD") -> dict[str, object]:
    return input_values(**{REPLY_BLOCK: reply, AMOUNT_BLOCK: amount, CURRENCY_BLOCK: currency})


def test_edit_opens_a_modal_with_the_draft_and_the_refund_parameters(
    one_db_server: RunningServer,
    carded_refund: str,
    slack: FakeSlack,
) -> None:
    server, item_id = one_db_server, carded_refund
    item = server.item(item_id)
    card_click(server, EDIT_ACTION, item_id, user=REVIEWER)
    call = slack.wait_for("views.open")[0]
    assert call.params["trigger_id"].endswith(".2222222222.abcdef")  # the click's own trigger
    view = call.params["view"]
    assert view["callback_id"] == EDIT_CALLBACK
    assert view["submit"]["text"] == "Save and approve"
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs[REPLY_BLOCK]["multiline"] is True
    assert inputs[REPLY_BLOCK]["initial_value"] == item.draft_reply
    assert inputs[AMOUNT_BLOCK]["initial_value"] == "75.00"
    assert inputs[CURRENCY_BLOCK]["initial_value"] == "USD"
    assert json.loads(view["private_metadata"]) == {
        "item_id": item_id,
        "version": 0,
        "channel": item.slack_channel,
        "ts": item.slack_ts,
    }


def test_invalid_edit_is_answered_inline_and_changes_nothing(one_db_server: RunningServer) -> None:
    server = one_db_server
    item_id, view = _open_edit(server, "75.00")
    response = submit_view(server, view, user=REVIEWER, values=_edit_values("  ", "12,5x", "US"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {REPLY_BLOCK, AMOUNT_BLOCK, CURRENCY_BLOCK}
    negative = submit_view(server, view, user=REVIEWER, values=_edit_values("ok", "-5"))
    assert negative.json()["errors"] == {AMOUNT_BLOCK: "The amount must be more than zero."}
    too_precise = submit_view(server, view, user=REVIEWER, values=_edit_values("ok", "1.005"))
    assert too_precise.json()["errors"] == {AMOUNT_BLOCK: "At most two decimal places."}
    item = server.item(item_id)
    assert (item.state, item.draft_version, item.edited_by) == ("pending_review", 0, None)
    assert "edited" not in server.audit_events(item_id)


def test_edit_saves_approves_and_executes_the_edited_version(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id = carded(server, refund_ticket("75.00"))
    original = server.item(item_id)
    server.click(EDIT_ACTION, item_id, user=REVIEWER)
    view = opened_view(server.slack, EDIT_CALLBACK)
    new_reply = "Hi Maria,\n\nWe have refunded 60.00 USD.\n\nBest, Support"
    response = submit_view(server, view, user=REVIEWER, values=_edit_values(new_reply, "60"))
    assert response.status_code == 200 and response.content in (b"", b"null")

    item = server.wait_for_state(item_id, "executed")
    body = server.sink.wait_for(1)[0].json()
    assert body["reply_text"] == new_reply
    assert body["action"] == {"kind": "refund", "amount": "60.00", "currency": "USD"}
    assert body["approved_by"] == REVIEWER
    # Three separate records: what the AI proposed, what was approved (and is executed).
    assert item.ai_reply == original.draft_reply != new_reply
    assert item.ai_action == {"kind": "refund", "amount": "75.00", "currency": "USD"}
    assert item.approved_reply == new_reply == item.draft_reply
    assert item.approved_action == body["action"]
    assert item.edit_summary == "refund 75.00 USD → refund 60.00 USD; reply rewritten " + (
        f"({len(original.draft_reply or '')} → {len(new_reply)} characters)"
    )
    edited = next(r for r in audit_rows(server, item_id) if r.event == "edited")
    assert edited.actor == REVIEWER
    assert edited.detail["original_reply"] == original.draft_reply
    assert edited.detail["edited_reply"] == new_reply
    assert edited.detail["original_action"]["amount"] == "75.00"
    assert edited.detail["edited_action"]["amount"] == "60.00"
    assert server.audit_events(item_id)[-5:] == [
        "edited",
        "approved",
        "execution_started",
        "execution_attempt",
        "executed",
    ]
    assert item.slack_ts is not None
    card = latest_card(server.slack, item.slack_ts, "executed")
    assert f"*Approved after edit* by <@{REVIEWER}>" in card
    assert "refund 75.00 USD → refund 60.00 USD" in card
    assert '"type": "actions"' not in card
    slack_api, ts = server.slack, item.slack_ts
    thread = wait_until(lambda: thread_texts(slack_api, ts), what="thread")
    assert "edited the draft" in thread[0] and "We have refunded 60.00 USD." in thread[0]


def test_raising_a_refund_in_an_edit_needs_a_second_approver(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    item_id = carded(server, refund_ticket("75.00"))
    server.click(EDIT_ACTION, item_id, user=REVIEWER)
    view = opened_view(server.slack, EDIT_CALLBACK)
    submit_view(server, view, user=REVIEWER, values=_edit_values("Refunding in full.", "5000"))
    answer = wait_ephemeral(server.slack, REVIEWER, "Edit saved")
    assert "1 of 2" in answer and "1 more approval" in answer
    item = server.item(item_id)
    assert item.state == "pending_review" and item.approvals == [REVIEWER]
    assert item.approvals_required == 2 and item.draft_version == 1
    assert item.proposed_action == {"kind": "refund", "amount": "5000.00", "currency": "USD"}
    assert item.slack_ts is not None
    latest_card(server.slack, item.slack_ts, f"1 of 2 approvals: <@{REVIEWER}>")

    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    wait_ephemeral(server.slack, REVIEWER, "You already approved this")
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER_2)
    server.wait_for_state(item_id, "executed")
    body = server.sink.wait_for(1)[0].json()
    assert body["action"]["amount"] == "5000.00" and body["approved_by"] == REVIEWER_2
    approved = next(r for r in audit_rows(server, item_id) if r.event == "approved")
    assert approved.detail["approvers"] == [REVIEWER, REVIEWER_2]
    assert len(server.sink.requests) == 1


def test_an_edit_made_on_an_older_version_is_refused(
    one_db_server: RunningServer, slack: FakeSlack
) -> None:
    server = one_db_server
    item_id, first = _open_edit(server, "700.00")  # two approvers: the item stays pending
    card_click(server, EDIT_ACTION, item_id, user=REVIEWER_2)
    second = opened_view(slack, EDIT_CALLBACK, count=2)
    submit_view(server, first, user=REVIEWER, values=_edit_values("Version one.", "650"))
    wait_until(lambda: server.item(item_id).draft_version == 1, what="first edit saved")
    submit_view(server, second, user=REVIEWER_2, values=_edit_values("Version two.", "10"))
    wait_ephemeral(slack, REVIEWER_2, "edited this draft while you were editing")
    item = server.item(item_id)
    assert item.draft_reply == "Version one." and item.draft_version == 1
    # A click on a card rendered before the edit is refused too.
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER_2, value=f"{item_id}:0")
    wait_ephemeral(slack, REVIEWER_2, "after you loaded the card")
    assert server.item(item_id).approvals == [REVIEWER]


def test_an_outsider_gets_no_modal(
    one_db_server: RunningServer, carded_refund: str, slack: FakeSlack
) -> None:
    server, item_id = one_db_server, carded_refund
    card_click(server, EDIT_ACTION, item_id, user=OUTSIDER)
    text = wait_ephemeral(slack, OUTSIDER, "You can't edit this")
    assert "only reviewers and leads" in text and "Nothing was changed" in text
    assert slack.calls("views.open") == []
    assert server.audit_events(item_id)[-1] == "decision_refused"


def test_a_damaged_form_is_answered_and_changes_nothing(
    one_db_server: RunningServer,
    slack: FakeSlack,
) -> None:
    server = one_db_server
    item_id, view = _open_edit(server, "75.00")
    meta = json.loads(view["private_metadata"])
    corrupt = {**view, "private_metadata": json.dumps({**meta, "version": "not-a-number"})}
    response = submit_view(server, corrupt, user=REVIEWER, values=_edit_values("Hello", "70"))
    assert response.status_code == 200
    wait_ephemeral(slack, REVIEWER, "This form does not match an item any more")
    item = server.item(item_id)
    assert item.state == "pending_review" and item.draft_version == 0
    assert "edited" not in server.audit_events(item_id)


def test_failures_are_answered_privately_and_change_nothing(
    one_db_server: RunningServer, carded_refund: str, slack: FakeSlack
) -> None:
    server, item_id = one_db_server, carded_refund
    item = server.item(item_id)
    slack.fail_next("views.open", 200, error="expired_trigger_id")
    card_click(server, EDIT_ACTION, item_id, user=REVIEWER)
    wait_ephemeral(slack, REVIEWER, "Slack did not open the form in time")
    broken = {  # a click without a trigger_id: the listener fails after its ack
        "type": "block_actions",
        "user": {"id": REVIEWER_2},
        "team": {"id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "channel": {"id": item.slack_channel},
        "container": {"type": "message"},
        "actions": [
            {"action_id": EDIT_ACTION, "value": item_id, "block_id": "b", "type": "button"}
        ],
    }
    response = server.post_slack({"payload": json.dumps(broken)})
    assert response.status_code == 200  # still acknowledged: Slack shows no error
    wait_ephemeral(slack, REVIEWER_2, "Something went wrong handling that")
    after = server.item(item_id)
    assert (after.state, after.draft_version) == ("pending_review", 0)
