"""Permission checks that a forged or out-of-date Slack payload cannot get past: each request is
signed exactly as Slack signs it and sent to the running server, and each test asserts the exact
Web API calls the bot made and that the database did not move.

A modal submission carries the view the bot opened for someone; Slack only sends it back for the
person it was opened for, but a user demoted (or a view replayed) between open and submit must
still be refused at submit, so these tests submit views opened for someone else.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.review.edit_validation import AMOUNT_BLOCK, CURRENCY_BLOCK, REPLY_BLOCK
from bot.slack.app_home_view import HOME_PAUSE, HOME_RESUME, HOME_SETTINGS, SETTINGS_CALLBACK
from bot.slack.card import EDIT_ACTION, REJECT_ACTION
from bot.slack.edit_modal import EDIT_CALLBACK
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK, REJECT_CALLBACK
from bot.store.models import AuditEvent, Decision, Item, ThresholdChange, ThresholdSetting
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import LEAD, OUTSIDER, REVIEWER, REVIEWER_2, RunningServer
from tests.support.slack_calls import calls_since, methods_since
from tests.support.slack_payloads import (
    card_click,
    home_click,
    input_values,
    select_value,
    submit_view,
)
from tests.support.slack_review import (
    audit_rows,
    carded,
    opened_view,
    wait_ephemeral,
)
from tests.support.ticket_factory import refund_ticket

MAY_NOT_DECIDE = "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)"
SELF_APPROVAL = "you raised this item, so someone else has to approve it (no self-approval)"


def _review_state(item: Item) -> tuple[Any, ...]:
    """Everything a decision or an edit would change on an item."""
    return (
        item.state,
        item.draft_version,
        item.draft_reply,
        item.proposed_action,
        item.approvals,
        item.edited_by,
        item.decision_id,
        item.ai_reply,
        item.approved_reply,
    )


def _decisions(server: RunningServer) -> int:
    with Session(server.db) as session:
        return int(session.execute(select(func.count()).select_from(Decision)).scalar_one())


def _settings_rows(server: RunningServer) -> list[tuple[str, str]]:
    with Session(server.db) as session:
        rows = session.execute(
            select(col(ThresholdSetting.key), col(ThresholdSetting.value)).order_by(
                col(ThresholdSetting.key)
            )
        ).all()
        return [(str(key), str(value)) for key, value in rows]


def _events(server: RunningServer, *names: str) -> list[tuple[str, str]]:
    with Session(server.db) as session:
        rows = session.execute(
            select(col(AuditEvent.event), col(AuditEvent.actor))
            .where(col(AuditEvent.event).in_(names))
            .order_by(col(AuditEvent.id))
        ).all()
        return [(str(event), str(actor)) for event, actor in rows]


def _edit_values() -> dict[str, Any]:
    return input_values(
        **{REPLY_BLOCK: "We refunded you in full.", AMOUNT_BLOCK: "75", CURRENCY_BLOCK: "USD"}
    )


def _click_home(server: RunningServer, action_id: str, value: str, user: str) -> None:
    assert server.slack is not None
    payload = home_click(
        action_id=action_id, value=value, user=user, response_url=server.slack.response_url("h")
    )
    assert server.post_slack({"payload": json.dumps(payload)}).status_code == 200


def _opened_for(
    server: RunningServer, item_id: str, callback: str, *, opener: str
) -> tuple[dict[str, Any], int]:
    """The modal ``callback`` as opened for ``opener`` through the card button, and the number
    of Slack calls made so far (what follows is the submission's doing)."""
    assert server.slack is not None
    action = EDIT_ACTION if callback == EDIT_CALLBACK else REJECT_ACTION
    card_click(server, action, item_id, user=opener)
    view = opened_view(server.slack, callback)
    return view, len(server.slack.calls())


def test_the_raiser_of_an_item_gets_no_edit_modal(
    one_db_server: RunningServer, slack: FakeSlack
) -> None:
    server = one_db_server
    item_id = carded(server, refund_ticket("75.00", metadata={"slack_user_id": REVIEWER}))
    item = server.item(item_id)
    mark = len(slack.calls())
    card_click(server, EDIT_ACTION, item_id, user=REVIEWER)
    text = wait_ephemeral(slack, REVIEWER, "You can't edit this")
    assert text == f"You can't edit this: {SELF_APPROVAL}. Nothing was changed."
    calls = calls_since(slack, mark)
    assert [c.method for c in calls] == ["chat.postEphemeral"]
    assert (calls[0].params["channel"], calls[0].params["user"]) == (item.slack_channel, REVIEWER)
    refused = audit_rows(server, item_id)[-1]
    assert (refused.event, refused.actor) == ("decision_refused", REVIEWER)
    assert refused.detail["attempted"] == "edit" and refused.detail["why"] == SELF_APPROVAL
    assert _review_state(server.item(item_id)) == _review_state(item)
    # Rejecting what you raised yourself takes no second person: that modal still opens.
    card_click(server, REJECT_ACTION, item_id, user=REVIEWER)
    assert opened_view(slack, REJECT_CALLBACK)["callback_id"] == REJECT_CALLBACK


def test_an_outsider_submitting_the_edit_modal_changes_nothing(
    one_db_server: RunningServer,
    carded_refund: str,
    slack: FakeSlack,
) -> None:
    server, item_id = one_db_server, carded_refund
    assert server.sink is not None
    before = server.item(item_id)
    view, mark = _opened_for(server, item_id, EDIT_CALLBACK, opener=REVIEWER)
    response = submit_view(server, view, user=OUTSIDER, values=_edit_values())
    assert response.status_code == 200 and response.content in (b"", b"null")  # modal closes
    text = wait_ephemeral(slack, OUTSIDER, "You can't")
    assert text == f"You can't edit and approve this: {MAY_NOT_DECIDE}. Nothing was changed."
    calls = calls_since(slack, mark)
    assert [c.method for c in calls] == ["chat.postEphemeral"]
    assert (calls[0].params["channel"], calls[0].params["user"]) == (before.slack_channel, OUTSIDER)
    assert _review_state(server.item(item_id)) == _review_state(before)
    refused = audit_rows(server, item_id)[-1]
    assert (refused.event, refused.actor) == ("decision_refused", OUTSIDER)
    assert refused.detail["attempted"] == "edit and approve"
    assert "edited" not in server.audit_events(item_id)
    assert _decisions(server) == 0 and server.sink.requests == []


def test_an_outsider_submitting_the_reject_modal_changes_nothing(
    one_db_server: RunningServer,
    carded_refund: str,
    slack: FakeSlack,
) -> None:
    server, item_id = one_db_server, carded_refund
    before = server.item(item_id)
    view, mark = _opened_for(server, item_id, REJECT_CALLBACK, opener=REVIEWER)
    values = {
        **select_value(REASON_BLOCK, "wrong_facts"),
        **input_values(**{DETAIL_BLOCK: "not what the customer asked"}),
    }
    response = submit_view(server, view, user=OUTSIDER, values=values)
    assert response.status_code == 200 and response.content in (b"", b"null")
    text = wait_ephemeral(slack, OUTSIDER, "You can't")
    assert text == f"You can't reject this: {MAY_NOT_DECIDE}. Nothing was changed."
    calls = calls_since(slack, mark)
    assert [c.method for c in calls] == ["chat.postEphemeral"]
    assert calls[0].params["channel"] == before.slack_channel
    assert _review_state(server.item(item_id)) == _review_state(before)
    refused = audit_rows(server, item_id)[-1]
    assert (refused.event, refused.actor) == ("decision_refused", OUTSIDER)
    assert refused.detail["attempted"] == "reject"
    assert "rejected" not in server.audit_events(item_id)
    assert _decisions(server) == 0


def test_the_raiser_submitting_the_edit_modal_is_refused(
    one_db_server: RunningServer, slack: FakeSlack
) -> None:
    server = one_db_server
    assert server.sink is not None
    item_id = carded(server, refund_ticket("75.00", metadata={"slack_user_id": REVIEWER}))
    before = server.item(item_id)
    view, mark = _opened_for(server, item_id, EDIT_CALLBACK, opener=REVIEWER_2)
    response = submit_view(server, view, user=REVIEWER, values=_edit_values())
    assert response.status_code == 200
    text = wait_ephemeral(slack, REVIEWER, "You can't")
    assert text == f"You can't edit and approve this: {SELF_APPROVAL}. Nothing was changed."
    assert methods_since(slack, mark) == ["chat.postEphemeral"]
    assert _review_state(server.item(item_id)) == _review_state(before)
    refused = audit_rows(server, item_id)[-1]
    assert (refused.event, refused.actor, refused.detail["why"]) == (
        "decision_refused",
        REVIEWER,
        SELF_APPROVAL,
    )
    assert _decisions(server) == 0 and server.sink.requests == []


def test_a_non_lead_submitting_the_settings_modal_changes_nothing(
    one_db_server: RunningServer,
    slack: FakeSlack,
) -> None:
    server = one_db_server
    _click_home(server, HOME_SETTINGS, "settings", LEAD)
    modal = opened_view(slack, SETTINGS_CALLBACK)
    settings_before = _settings_rows(server)
    mark = len(slack.calls())
    values = {
        **select_value("auto_approve_max_risk", "high"),
        **input_values(refund_auto_limit="5000", quorum_amount="10"),
    }
    for user in (REVIEWER, OUTSIDER):
        response = submit_view(server, modal, user=user, values=values)
        assert response.status_code == 200
        assert response.json() == {
            "response_action": "errors",
            "errors": {"refund_auto_limit": "Only leads (SIGNOFF_LEADS) can change thresholds."},
        }
    assert methods_since(slack, mark) == []
    assert _settings_rows(server) == settings_before
    assert _events(server, "setting_changed", "threshold_change_proposed") == []
    with Session(server.db) as session:
        assert session.execute(select(func.count()).select_from(ThresholdChange)).scalar_one() == 0


def test_a_non_lead_clicking_pause_or_resume_in_app_home_changes_nothing(
    one_db_server: RunningServer,
    slack: FakeSlack,
) -> None:
    server = one_db_server
    for user in (REVIEWER, OUTSIDER):
        settings_before = _settings_rows(server)
        mark = len(slack.calls())
        published = len(slack.calls("views.publish"))
        _click_home(server, HOME_PAUSE, "pause", user)
        slack.wait_for("views.publish", count=published + 1)
        calls = calls_since(slack, mark)
        assert [c.method for c in calls] == ["chat.postMessage", "views.publish"]
        assert calls[0].params["channel"] == user  # a DM: App Home has no channel
        assert calls[0].params["text"] == (
            "Only leads (SIGNOFF_LEADS) can use `/signoff pause`. Nothing was changed."
        )
        assert calls[1].params["user_id"] == user
        assert "Auto-execution is paused" not in json.dumps(calls[1].params["view"])
        assert _settings_rows(server) == settings_before
    # A lead pauses; a reviewer's Resume then changes nothing either.
    _click_home(server, HOME_PAUSE, "pause", LEAD)
    wait_ephemeral(slack, LEAD, "Auto-execution paused")
    slack.wait_for("views.publish", count=3)
    paused = _settings_rows(server)
    assert dict(paused)["paused"] == "true"
    mark = len(slack.calls())
    _click_home(server, HOME_RESUME, "resume", REVIEWER)
    slack.wait_for("views.publish", count=4)
    calls = calls_since(slack, mark)
    assert [c.method for c in calls] == ["chat.postMessage", "views.publish"]
    assert calls[0].params["text"] == (
        "Only leads (SIGNOFF_LEADS) can use `/signoff resume`. Nothing was changed."
    )
    assert "Auto-execution is paused" in json.dumps(calls[1].params["view"])
    assert _settings_rows(server) == paused
    assert _events(server, "command_refused") == [
        ("command_refused", REVIEWER),
        ("command_refused", OUTSIDER),
        ("command_refused", REVIEWER),
    ]
