"""Slack requests and the interaction inbox, through the real server: a retry is answered 200
and recorded once; a modal's field errors are answered inside it and nothing is recorded."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.review.edit_validation import REPLY_BLOCK
from bot.slack.card import APPROVE_ACTION
from bot.slack.edit_modal import edit_view
from bot.store.models import InboxEntry
from tests.support.server_harness import REVIEWER, RunningServer, block_actions, wait_until
from tests.support.slack_payloads import input_values, submit_view
from tests.support.slack_review import carded
from tests.support.ticket_factory import refund_ticket


def _rows(server: RunningServer) -> list[InboxEntry]:
    with Session(server.db) as session:
        rows = list(session.execute(select(InboxEntry)).scalars())
        for row in rows:
            session.expunge(row)
        return rows


def test_a_slack_retry_of_a_recorded_click_is_answered_and_recorded_once(
    server: RunningServer,
) -> None:
    assert server.slack is not None
    item_id = carded(server, refund_ticket("900.00"))  # above the quorum: two approvals needed
    item = server.item(item_id)
    payload = block_actions(
        action_id=APPROVE_ACTION,
        item_id=item_id,
        user=REVIEWER,
        channel=str(item.slack_channel),
        message_ts=str(item.slack_ts),
        response_url=server.slack.response_url("retry"),
    )
    payload["actions"][0]["value"] = f"{item_id}:{item.draft_version}"
    form = {"payload": json.dumps(payload)}
    assert server.post_slack(form).status_code == 200
    retried = server.post_slack(form, headers={"X-Slack-Retry-Num": "1"})
    assert retried.status_code == 200
    [row] = wait_until(lambda: [r for r in _rows(server) if r.done_at is not None])
    assert (row.kind, row.actor, row.lane) == (APPROVE_ACTION, REVIEWER, f"item:{item_id}")
    assert row.signed_at is not None and row.outcome == "waiting" and row.attempts == 1
    assert len(_rows(server)) == 1
    assert server.item(item_id).approvals == [REVIEWER]
    assert server.audit_events(item_id).count("approval_recorded") == 1


def test_field_errors_are_answered_inside_the_modal_and_nothing_is_recorded(
    server: RunningServer,
) -> None:
    item_id = carded(server, refund_ticket("75.00"))
    item = server.item(item_id)
    view = {**edit_view(item, channel=item.slack_channel), "id": "V0EDIT"}
    response = submit_view(server, view, user=REVIEWER, values=input_values(**{REPLY_BLOCK: " "}))
    assert response.status_code == 200
    assert response.json()["response_action"] == "errors"
    assert REPLY_BLOCK in response.json()["errors"]
    assert _rows(server) == []
