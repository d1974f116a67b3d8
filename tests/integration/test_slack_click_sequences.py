"""Property, end to end: any sequence of clicks by anyone on one card, sent as signed Slack payloads
to the running server, executes the action at most once, and the audit log explains every state
the item went through.

``test_slack_click_property`` drives the same kind of sequences through the review commands
(``bot.review.approve``, ``edit``, ``reject``, …) directly (fast, many examples); this one goes
through everything a real click goes through: signature checks, Bolt, the listeners, the roster,
the worker woken by the click, the executor posting to the action sink. The sink sometimes
refuses the action (HTTP 400, a permanent failure), so the lead's Retry has something to retry.

Modal submissions carry the view the bot builds for the item as it is at that moment, exactly
what Slack sends back when someone presses Submit; who may submit is the server's business.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.review.edit_validation import AMOUNT_BLOCK, CURRENCY_BLOCK, REPLY_BLOCK
from bot.slack.card import APPROVE_ACTION, REDRAFT_ACTION, RETRY_ACTION
from bot.slack.edit_modal import edit_view
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK, reject_view
from bot.store.models import Decision, Item
from tests.support.fakes.http_sink import HttpSink, SinkRequest
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    LEAD,
    OUTSIDER,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
    start_server,
    wait_until,
)
from tests.support.slack_payloads import card_click, input_values, select_value, submit_view
from tests.support.slack_review import audit_rows, carded, ephemerals, submit
from tests.support.ticket_factory import refund_ticket

RAISER = "U0RAISER"  # a reviewer, who raised the item from Slack
USERS = [REVIEWER, REVIEWER_2, LEAD, OUTSIDER, RAISER]
OPS = ["approve", "approve_old", "edit_up", "edit_down", "reject", "redraft", "retry", "newer"]

# What each audit event says the item became; every other event leaves the state as it was.
STATE_AFTER = {
    "received": "received",
    "redrafted": "received",
    "assessed": "assessed",
    "sent_to_review": "pending_review",
    "auto_approved": "approved",
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired",
    "execution_started": "executing",
    "retry_requested": "executing",
    "executed": "executed",
    "execution_failed": "failed",
    "execution_refused": "failed",
}
# A click that is recorded says so in the audit log only; every other answer is private.
RECORDED = {"approved", "rejected", "redrafted", "retry_requested"}
# States an item rests in until someone clicks again (the others move on by themselves).
RESTING = {"pending_review", "rejected", "executed", "failed", "expired"}


@pytest.fixture
def click_server(database_url: str, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    """One server per backend for all examples; each example works on its own new item."""
    with start_server(
        database_url=database_url,
        slack=slack,
        sink=sink,
        reviewers=frozenset({REVIEWER, REVIEWER_2, RAISER}),
        # No Slack pacing to wait for: the fake has no rate limit.
        slack_posts_per_second=50.0,
        slack_post_burst=20,
    ) as running:
        yield running


def refused(op: str, user: str) -> bool:
    """Whether the server must refuse (and audit) ``op`` by ``user``, whatever the item's state:
    permission is checked before anything else."""
    if op == "retry":
        return user != LEAD
    if user == OUTSIDER:
        return True
    return user == RAISER and op in {"approve", "approve_old", "edit_up", "edit_down"}


def resting(server: RunningServer, item_id: str, *, worker_done: bool = True) -> Item:
    """Wait until the item waits for a human (or is finished): not between worker steps, and
    (``worker_done``) no worker still holds it, e.g. while it tells the card's thread about a
    failure. The property varies the sequence of clicks; a click landing inside a worker's
    step is the one timing it does not vary (``test_a_retry_…`` below clicks into it)."""

    def settled() -> Item | None:
        item = server.item(item_id)
        if item.state not in RESTING or (item.state == "pending_review" and not item.slack_ts):
            return None
        return None if worker_done and item.claimed_by else item

    return wait_until(settled, what=f"{item_id} at rest")


def _recorded_by(server: RunningServer, item_id: str, user: str) -> int:
    return sum(r.event in RECORDED and r.actor == user for r in audit_rows(server, item_id))


def click(
    server: RunningServer, item_id: str, op: str, user: str, thread: str, *, worker_done: bool
) -> bool:
    """Send one click (or submission) as Slack would and wait until the server has answered it:
    a private message to ``user``, or the decision in the audit log. False when nothing reached
    the review rules (a newer event, or a form answered with field errors inside the modal)."""
    assert server.slack is not None
    slack = server.slack
    item = resting(server, item_id, worker_done=worker_done)
    if op == "newer":  # the customer writes again on the same conversation
        newer = submit(server, refund_ticket("300.00", metadata={"thread_id": thread}))
        resting(server, newer)
        return False
    answers, recorded = len(ephemerals(slack, user)), _recorded_by(server, item_id, user)
    channel = item.slack_channel
    if op in {"approve", "approve_old"}:
        version = item.draft_version - 1 if op == "approve_old" and item.draft_version else None
        value = f"{item_id}:{item.draft_version if version is None else version}"
        card_click(server, APPROVE_ACTION, item_id, user=user, value=value)
    elif op in {"edit_up", "edit_down"}:
        amount = "5000.00" if op == "edit_up" else "20.00"
        values = input_values(
            **{REPLY_BLOCK: f"Edited by {user}.", AMOUNT_BLOCK: amount, CURRENCY_BLOCK: "USD"}
        )
        view = {**edit_view(item, channel=channel), "id": "V0EDIT"}
        response = submit_view(server, view, user=user, values=values)
        assert response.status_code == 200
        if response.content not in (b"", b"null"):
            assert response.json()["response_action"] == "errors"  # answered inside the modal
            return False
    elif op == "reject":
        values = {
            **select_value(REASON_BLOCK, "wrong_facts"),
            **input_values(**{DETAIL_BLOCK: f"rejected by {user}"}),
        }
        response = submit_view(
            server,
            {**reject_view(item, channel=channel), "id": "V0REJECT"},
            user=user,
            values=values,
        )
        assert response.status_code == 200
    else:
        card_click(server, REDRAFT_ACTION if op == "redraft" else RETRY_ACTION, item_id, user=user)
    wait_until(
        lambda: (
            len(ephemerals(slack, user)) > answers or _recorded_by(server, item_id, user) > recorded
        ),
        what=f"the answer to {op} by {user}",
    )
    return True


def replayed_states(events: list[str]) -> list[str]:
    """The states the audit log says the item went through, in order."""
    states: list[str] = []
    for event in events:
        state = STATE_AFTER.get(event)
        if state is not None and (not states or states[-1] != state):
            states.append(state)
    return states


def is_subsequence(seen: list[str], path: list[str]) -> bool:
    steps = iter(path)
    return all(any(state == step for step in steps) for state in seen)


def _sink_requests(sink: HttpSink, item_id: str) -> list[SinkRequest]:
    return [r for r in sink.requests if r.json().get("item_id") == item_id]


def scenario(
    server: RunningServer,
    failures: int,
    steps: list[tuple[str, str]],
    *,
    worker_done: bool = True,
) -> None:
    """Run ``steps`` on a new item while the sink refuses the first ``failures`` actions, then
    check that it executed at most once and that the audit log explains what happened."""
    assert server.slack is not None and server.sink is not None
    sink = server.sink
    sink.reset()  # no refusal queued by an earlier example is left for this one
    sink.respond_with(400, failures)
    thread = f"conv-{uuid.uuid4().hex}"
    item_id = carded(
        server, refund_ticket("300.00", metadata={"thread_id": thread, "slack_user_id": RAISER})
    )
    seen = ["pending_review"]
    expected_refusals: Counter[str] = Counter()
    for op, user in steps:
        if click(server, item_id, op, user, thread, worker_done=worker_done) and refused(op, user):
            expected_refusals[user] += 1
        state = resting(server, item_id, worker_done=worker_done).state
        if state != seen[-1]:
            seen.append(state)
    item = resting(server, item_id)
    rows = audit_rows(server, item_id)
    events = [r.event for r in rows]

    # At most one execution: one decision, one idempotency key, one request the sink took.
    requests = _sink_requests(sink, item_id)
    took = [r for r in requests if 200 <= r.status < 300]
    assert len(took) == (1 if item.state == "executed" else 0)
    assert len({r.headers["idempotency-key"] for r in requests}) <= 1
    assert len(requests) == events.count("execution_attempt")
    assert all(r.json()["approved_by"] not in {OUTSIDER, RAISER} for r in requests)
    with Session(server.db) as session:
        decisions = session.execute(
            select(func.count()).where(col(Decision.item_id) == item_id)
        ).scalar_one()
    assert decisions == (1 if item.decision_id is not None else 0)
    assert events.count("approved") + events.count("rejected") == decisions

    # The audit log explains every step: each state the item rested in, in order, and where it
    # ended; every refusal the rules demand, by whom; every approval still counted.
    path = replayed_states(events)
    assert path[-1] == item.state
    assert is_subsequence(seen, path), (seen, path)
    refusals = Counter(r.actor for r in rows if r.event == "decision_refused")
    assert refusals == expected_refusals
    approvers = {r.actor for r in rows if r.event in {"approval_recorded", "approved"}}
    assert set(item.approvals) <= approvers
    if item.state == "executed":
        assert item.approved_action == item.executed_action
        assert RAISER not in item.approvals and OUTSIDER not in item.approvals
    assert not [t for u in USERS for t in ephemerals(server.slack, u) if "went wrong" in t]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    failures=st.integers(min_value=0, max_value=2),
    steps=st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from(USERS)), max_size=10),
)
def test_random_signed_clicks_execute_at_most_once_and_the_audit_explains_each_state(
    click_server: RunningServer, failures: int, steps: list[tuple[str, str]]
) -> None:
    scenario(click_server, failures, steps)


RETRIES = [
    ("approve", RAISER),
    ("approve", OUTSIDER),
    ("approve", REVIEWER),  # the sink refuses: failed
    ("retry", REVIEWER),
    ("retry", LEAD),  # refused once more: failed again
    ("retry", LEAD),  # executed
    ("retry", LEAD),
    ("reject", REVIEWER_2),
]


def test_a_refused_action_retried_by_a_lead_executes_once(click_server: RunningServer) -> None:
    """One sequence spelled out, so the property's key path runs every time."""
    scenario(click_server, 2, RETRIES)
    assert click_server.sink is not None
    assert [r.status for r in click_server.sink.requests] == [400, 400, 200]


def test_a_retry_clicked_while_the_failing_worker_finishes_executes_once(
    click_server: RunningServer,
) -> None:
    """Retry clicked the moment the item is *failed*, while the worker that failed it is still
    updating the card and its thread: ten times over, for a race (on SQLite it is usually lost
    within the first few)."""
    for _ in range(10):
        scenario(click_server, 2, RETRIES, worker_done=False)
