"""Spot checks ask the same reviewer roster as every card button: members of the Slack reviewer
group may answer 👍 / 👎, outsiders are refused privately and nothing is recorded, and the person
who raised an item may not vouch for it with a 👍."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.autonomy.spot_checks import SPOT_BAD_ACTION, SPOT_OK_ACTION
from bot.store.models import AutonomyOutcome
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    OUTSIDER,
    REVIEW_CHANNEL,
    REVIEWER,
    RunningServer,
    block_actions,
    wait_until,
)
from tests.support.slack_calls import calls_since
from tests.support.slack_review import audit_rows, sqlite_server, submit
from tests.support.ticket_factory import password_ticket

GROUP = "S0REVIEWERS"
GROUPIE = "U0GROUPIE"


@pytest.fixture
def spot_server(tmp_path: Path, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    """Every auto-executed item is spot-checked; GROUPIE is a reviewer only through the group."""
    slack.usergroup_members[GROUP] = [GROUPIE]
    with sqlite_server(
        tmp_path, slack, sink, reviewer_group=GROUP, spot_check_share=1.0
    ) as running:
        yield running


def _spot_check(server: RunningServer, ticket: dict[str, Any]) -> tuple[str, str]:
    """Submit a routine ticket and wait for its spot check; returns (item id, message ts)."""
    assert server.slack is not None
    item_id = submit(server, ticket)
    server.wait_for_state(item_id, "executed")
    slack = server.slack
    return item_id, wait_until(
        lambda: next(
            (
                ts
                for (channel, ts), message in slack.messages.items()
                if channel == REVIEW_CHANNEL
                and "Spot check" in message["text"]
                and item_id in message["text"]
            ),
            None,
        ),
        what=f"spot check of {item_id} posted",
    )


def _answer(server: RunningServer, action_id: str, item_id: str, ts: str, *, user: str) -> None:
    """A 👍 / 👎 click on the spot check message, as Slack sends it."""
    slack = server.slack
    assert slack is not None
    payload = block_actions(
        action_id=action_id,
        item_id=item_id,
        user=user,
        channel=REVIEW_CHANNEL,
        message_ts=ts,
        response_url=slack.response_url(f"spot-{user}"),
    )
    payload["message"]["blocks"] = slack.messages[(REVIEW_CHANNEL, ts)]["blocks"]
    payload["actions"][0]["block_id"] = f"spot:{item_id}"
    response = server.post_slack({"payload": json.dumps(payload)})
    assert response.status_code == 200


def _spot_outcomes(server: RunningServer) -> list[tuple[str, str, str]]:
    with Session(server.db) as session:
        rows = session.execute(
            select(
                col(AutonomyOutcome.item_id),
                col(AutonomyOutcome.outcome),
                col(AutonomyOutcome.actor),
            ).where(col(AutonomyOutcome.source) == "spot_check")
        ).all()
    return sorted((str(i), str(o), str(a)) for i, o, a in rows)


def _group_was_read(slack: FakeSlack) -> bool:
    return any(c.params["usergroup"] == GROUP for c in slack.calls("usergroups.users.list"))


def _answered(
    server: RunningServer, action: str, user: str, method: str
) -> tuple[str, str, dict[str, Any]]:
    """Send a spot check and have ``user`` press ``action`` on it: that press makes exactly one
    Slack call, ``method``, after reading the reviewer group. Returns (item id, ts, its params)."""
    slack = server.slack
    assert slack is not None
    item_id, ts = _spot_check(server, password_ticket())
    mark = len(slack.calls())
    _answer(server, action, item_id, ts, user=user)
    wait_until(lambda: slack.calls(method), what=f"{method} after the answer")
    calls = calls_since(slack, mark)
    assert [call.method for call in calls] == [method]
    assert _group_was_read(slack)
    return item_id, ts, calls[0].params


def test_a_member_of_the_reviewer_group_answers_a_spot_check(
    spot_server: RunningServer,
) -> None:
    server = spot_server
    item_id, ts, update = _answered(server, SPOT_OK_ACTION, GROUPIE, "chat.update")
    assert (update["channel"], update["ts"]) == (REVIEW_CHANNEL, ts)
    assert update["text"] == f"👍 Spot check answered by <@{GROUPIE}>."
    assert [b for b in update["blocks"] if b["type"] == "actions"] == []
    assert _spot_outcomes(server) == [(item_id, "approved_unchanged", GROUPIE)]
    answered = [r for r in audit_rows(server, item_id) if r.event.startswith("spot_check_a")]
    assert [(r.event, r.actor, r.detail["good"]) for r in answered] == [
        ("spot_check_answered", GROUPIE, True)
    ]


def test_an_outsider_is_refused_privately_and_nothing_is_recorded(
    spot_server: RunningServer,
) -> None:
    server = spot_server
    item_id, ts, refusal = _answered(server, SPOT_BAD_ACTION, OUTSIDER, "chat.postEphemeral")
    assert (refusal["channel"], refusal["user"]) == (REVIEW_CHANNEL, OUTSIDER)
    assert refusal["text"] == (
        "Only reviewers and leads can answer spot checks. Nothing was recorded."
    )
    assert _spot_outcomes(server) == []
    refused = audit_rows(server, item_id)[-1]
    assert (refused.event, refused.actor, refused.detail["why"]) == (
        "spot_check_refused",
        OUTSIDER,
        "not a reviewer or lead",
    )
    # The spot check is still open: a group member's 👎 counts after the outsider's did not.
    _answer(server, SPOT_BAD_ACTION, item_id, ts, user=GROUPIE)
    wait_until(lambda: _spot_outcomes(server), what="the group member's answer")
    assert _spot_outcomes(server) == [(item_id, "rejected", GROUPIE)]


def test_whoever_raised_an_item_cannot_vouch_for_it(spot_server: RunningServer) -> None:
    server = spot_server
    slack = server.slack
    assert slack is not None
    item_id, ts = _spot_check(server, password_ticket(metadata={"slack_user_id": GROUPIE}))
    _answer(server, SPOT_OK_ACTION, item_id, ts, user=GROUPIE)
    refusal = wait_until(lambda: slack.calls("chat.postEphemeral"), what="refusal")[0]
    assert refusal.params["user"] == GROUPIE
    assert "no self-approval" in refusal.params["text"]
    assert _spot_outcomes(server) == []
    assert slack.calls("chat.update") == []
    _answer(server, SPOT_OK_ACTION, item_id, ts, user=REVIEWER)
    wait_until(lambda: _spot_outcomes(server), what="another reviewer's answer")
    assert _spot_outcomes(server) == [(item_id, "approved_unchanged", REVIEWER)]
