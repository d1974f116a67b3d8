"""Routing by team over signed Slack requests and the fake Web API: a lead's route sends a
category's cards to its channel, where only the route's user group and the leads may decide;
a rule is saved only for a channel the bot is in, and every change is audited and revertible."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.slack.card import APPROVE_ACTION
from bot.store.models import AuditEvent, Decision
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import LEAD, OUTSIDER, REVIEW_CHANNEL, REVIEWER, RunningServer
from tests.support.slack_payloads import card_click, post_event
from tests.support.slack_review import carded, sqlite_server, wait_ephemeral
from tests.support.slash_commands import ask
from tests.support.ticket_factory import address_ticket, refund_ticket

BILLING = "C0BILLING"
BILLING_TEAM = "S0BILLING"
BILLER = "U0BILLER"
ROUTE = f"category:refund <#{BILLING}|billing> reviewers:<!subteam^{BILLING_TEAM}|@billing>"


def _events(server: RunningServer, prefix: str) -> list[AuditEvent]:
    with Session(server.db) as session:
        rows = session.execute(
            select(AuditEvent)
            .where(col(AuditEvent.event).startswith(prefix))
            .order_by(col(AuditEvent.id))
        )
        return list(rows.scalars())


def test_a_routed_category_lands_in_its_channel_and_only_its_group_and_leads_decide(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> None:
    slack.channels[BILLING] = True
    slack.usergroup_members[BILLING_TEAM] = [BILLER]
    with sqlite_server(tmp_path, slack, sink) as server:
        assert "Saved #1 `category:refund`" in ask(server, f"route {ROUTE}", user=LEAD)
        assert slack.calls("conversations.info")[0].params["channel"] == BILLING

        routed = carded(server, refund_ticket("120.00"))
        other = carded(server, address_ticket())
        assert server.item(routed).slack_channel == BILLING
        assert server.item(routed).reviewer_group == BILLING_TEAM
        assert server.item(other).slack_channel == REVIEW_CHANNEL

        # A general reviewer and an outsider are refused on the routed card…
        card_click(server, APPROVE_ACTION, routed, user=REVIEWER)
        assert "only this route's reviewers" in wait_ephemeral(slack, REVIEWER, "can't approve")
        card_click(server, APPROVE_ACTION, routed, user=OUTSIDER)
        wait_ephemeral(slack, OUTSIDER, "can't approve")
        assert server.item(routed).state == "pending_review"
        # …while the route's group member decides it, and it executes under their name.
        card_click(server, APPROVE_ACTION, routed, user=BILLER)
        server.wait_for_state(routed, "executed")
        assert sink.wait_for(1)[0].json()["approved_by"] == BILLER
        # The billing member is nobody on the review channel's cards; a general reviewer is.
        card_click(server, APPROVE_ACTION, other, user=BILLER)
        wait_ephemeral(slack, BILLER, "only reviewers and leads")
        assert server.item(other).state == "pending_review"

        # A lead decides a routed card too.
        second = carded(server, refund_ticket("130.00"))
        assert server.item(second).slack_channel == BILLING
        card_click(server, APPROVE_ACTION, second, user=LEAD)
        server.wait_for_state(second, "executed")
        with Session(server.db) as session:
            decision = session.get(Decision, server.item(second).decision_id)
            assert decision is not None and decision.actor == LEAD
    refused = [e for e in _events(server, "decision_refused") if e.item_id == routed]
    assert {e.actor for e in refused} == {REVIEWER, OUTSIDER}


def test_routes_are_checked_listed_removed_and_reverted(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> None:
    slack.channels["C0NOTIN"] = False
    slack.channels[BILLING] = True
    with sqlite_server(tmp_path, slack, sink) as server:
        assert "Only leads" in ask(server, f"route {ROUTE}", user=REVIEWER)
        answer = ask(server, "route amount&gt;500 <#C0NOTIN|vip>", user=LEAD)
        assert "I'm not in <#C0NOTIN>" in answer and "/invite @Signoff" in answer
        answer = ask(server, "route tier:vip <#C0GONE|gone>", user=LEAD)
        assert "can't see <#C0GONE>" in answer
        assert "a selector is" in ask(server, f"route colour:red <#{BILLING}>", user=LEAD)
        assert "No card routes" in ask(server, "routes")

        saved = ask(server, f"route amount&gt;500 <#{BILLING}|billing>", user=LEAD)
        assert "Saved #1 `amount>500`" in saved and "change revert 1" in saved
        assert "#1 `amount>500` → <#C0BILLING>" in ask(server, "routes")
        event = {"type": "app_home_opened", "user": LEAD, "channel": "D0HOME", "tab": "home"}
        assert post_event(server, event).status_code == 200
        home = str(slack.wait_for("views.publish")[0].params["view"])
        assert "*Card routes*" in home and "#1 `amount>500` → <#C0BILLING>" in home
        removed = ask(server, "route remove #1", user=LEAD)
        assert "Removed #1" in removed and "change revert 2" in removed
        assert "No card routes" in ask(server, "routes")
        assert "Reverted #2" in ask(server, "change revert 2", user=LEAD)
        assert "#1 `amount>500`" in ask(server, "routes")
        # The restored rule routes again: a 600.00 refund goes to the billing channel.
        item_id = carded(server, refund_ticket("600.00"))
        assert server.item(item_id).slack_channel == BILLING
    assert [e.event for e in _events(server, "card_route")] == [
        "card_route_added",
        "card_route_removed",
        "card_route_restored",
    ]
    assert all(e.actor == LEAD for e in _events(server, "card_route"))
