"""Roles enforced on the server for every click: reviewers (IDs and a Slack user group), leads,
no self-approval, quorum with a lead where policy says so, and races that execute once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from bot.review.roster import ReviewerRoster
from bot.slack.card import APPROVE_ACTION, REJECT_ACTION
from bot.slack.reject_modal import REASON_BLOCK
from bot.store.models import Decision
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    LEAD,
    OUTSIDER,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
    wait_until,
)
from tests.support.slack_payloads import card_click, select_value, submit_view
from tests.support.slack_review import (
    audit_rows,
    carded,
    latest_card,
    opened_view,
    sqlite_server,
    wait_ephemeral,
)
from tests.support.ticket_factory import refund_ticket

GROUP = "S0REVIEWERS"
GROUPIE = "U0GROUPIE"


def test_members_of_the_reviewer_group_may_decide_and_the_list_is_cached(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> None:
    slack.usergroup_members[GROUP] = [GROUPIE]
    with sqlite_server(tmp_path, slack, sink, reviewer_group=GROUP) as server:
        first = carded(server, refund_ticket("300.00"))
        second = carded(server, refund_ticket("310.00"))
        card_click(server, REJECT_ACTION, first, user=GROUPIE)
        submit_view(
            server,
            opened_view(slack, "signoff_reject_submit"),
            user=GROUPIE,
            values=select_value(REASON_BLOCK, "should_not_act"),
        )
        server.wait_for_state(first, "rejected")
        card_click(server, APPROVE_ACTION, second, user=GROUPIE)
        wait_until(lambda: server.item(second).decision_id, what="group member's approval")
        with Session(server.db) as session:
            decision = session.get(Decision, server.item(second).decision_id)
            assert decision is not None and decision.actor == GROUPIE
        card_click(server, APPROVE_ACTION, second, user=OUTSIDER)
        wait_ephemeral(slack, OUTSIDER, "only reviewers and leads")
    lookups = slack.calls("usergroups.users.list")
    assert len(lookups) == 1 and lookups[0].params["usergroup"] == GROUP


async def test_a_slack_outage_never_grants_group_membership(slack: FakeSlack) -> None:
    slack.usergroup_members[GROUP] = [GROUPIE]
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    roster = ReviewerRoster(
        client, reviewers=frozenset({REVIEWER}), leads=frozenset(), group_id=GROUP, ttl_seconds=0.01
    )
    slack.fail_next("usergroups.users.list", 200, error="fatal_error")
    assert not (await roster.roles(GROUPIE)).may_decide  # cold cache and Slack failing
    wait_until(lambda: not roster._fresh(), what="cache expiry")
    assert (await roster.roles(GROUPIE)).may_decide
    slack.usergroup_members[GROUP] = []
    wait_until(lambda: not roster._fresh(), what="cache expiry")
    assert not (await roster.roles(GROUPIE)).may_decide  # removed from the group: no longer


def test_whoever_raised_an_item_from_slack_cannot_approve_it(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None and server.sink is not None
    ticket = refund_ticket("120.00", metadata={"slack_user_id": REVIEWER})
    item_id = carded(server, ticket)
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    assert "no self-approval" in wait_ephemeral(server.slack, REVIEWER, "You can't approve")
    assert server.item(item_id).state == "pending_review"
    refused = audit_rows(server, item_id)[-1]
    assert refused.event == "decision_refused" and refused.actor == REVIEWER
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER_2)
    server.wait_for_state(item_id, "executed")


def test_critical_risk_needs_a_lead_among_the_approvers(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None and server.sink is not None
    ticket = refund_ticket("90.00", body="Refund the 90.00 USD now or my lawyer will call you.")
    item_id = carded(server, ticket)
    assert server.item(item_id).risk_level == "critical"
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
    assert "a lead's approval" in wait_ephemeral(server.slack, REVIEWER, "recorded (1 approval)")
    card_click(server, APPROVE_ACTION, item_id, user=REVIEWER_2)
    wait_ephemeral(server.slack, REVIEWER_2, "recorded (2 approvals)")
    ts = server.item(item_id).slack_ts
    assert ts is not None
    latest_card(
        server.slack, ts, f"2 approvals (a lead must approve): <@{REVIEWER}>, <@{REVIEWER_2}>"
    )
    assert server.sink.requests == []
    card_click(server, APPROVE_ACTION, item_id, user=LEAD)
    server.wait_for_state(item_id, "executed")
    assert server.sink.wait_for(1)[0].json()["approved_by"] == LEAD


def test_fifty_concurrent_approvals_of_a_two_person_item_execute_once(
    server: RunningServer,
) -> None:
    assert server.slack is not None and server.sink is not None
    item_id = carded(server, refund_ticket("900.00"))  # above the quorum amount: 2 approvers
    users = ([REVIEWER, REVIEWER_2, LEAD] * 17)[:50]
    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(
            pool.map(
                lambda u: card_click(server, APPROVE_ACTION, item_id, user=u).status_code, users
            )
        )
    assert statuses == [200] * 50
    server.wait_for_state(item_id, "executed")
    server.slack.wait_for("chat.postEphemeral", count=49)
    assert len(server.sink.requests) == 1
    events = server.audit_events(item_id)
    assert events.count("approval_recorded") == 1 and events.count("approved") == 1
    approved = next(r for r in audit_rows(server, item_id) if r.event == "approved")
    assert len(set(approved.detail["approvers"])) == 2


def test_an_expired_item_is_never_shown_as_rejected(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> None:
    with sqlite_server(tmp_path, slack, sink, expire_after=timedelta(seconds=1)) as server:
        item_id = carded(server, refund_ticket("80.00"))
        server.wait_for_state(item_id, "expired", timeout=20)
        ts = server.item(item_id).slack_ts
        assert ts is not None
        card = latest_card(slack, ts, "Expired")
        assert "not a rejection" in card and "Rejected" not in card
        card_click(server, APPROVE_ACTION, item_id, user=REVIEWER)
        text = wait_ephemeral(slack, REVIEWER, "expired without a decision")
        assert "rejected" not in text.lower()
        assert server.item(item_id).state == "expired" and sink.requests == []
