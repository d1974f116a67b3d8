"""The card as reviewers see it: masked personal data with an audited Reveal, "show more" in the
thread, the failed-assessment banner, stale drafts and Re-draft, Reject's reason, lead Retry."""

from __future__ import annotations

import json
from pathlib import Path

from slack_sdk.models.blocks import Block

from bot.assess.assessment import Assessment, Classifier
from bot.errors import AssessmentUnavailableError
from bot.slack.card import (
    APPROVE_ACTION,
    REDRAFT_ACTION,
    REJECT_ACTION,
    RETRY_ACTION,
    REVEAL_ACTION,
    SHOW_MORE_ACTION,
)
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK, REJECT_CALLBACK
from bot.store.database import migrate
from bot.store.models import Item
from bot.tickets import TicketIn
from tests.support.fakes.http_sink import HttpSink
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
from tests.support.slack_review import (
    audit_rows,
    carded,
    ephemerals,
    latest_card,
    opened_view,
    thread_texts,
    wait_ephemeral,
)
from tests.support.ticket_factory import refund_ticket

PHONE = "+1 415 555 0100"
CARD = "4242 4242 4242 4242"


def _posted_card(slack: FakeSlack, item_id: str) -> str:
    posts = [c for c in slack.calls("chat.postMessage") if item_id in json.dumps(c.params)]
    return json.dumps(posts[0].params["blocks"], ensure_ascii=False)


def test_cards_mask_contact_details_and_reveal_is_private_and_audited(
    one_db_server: RunningServer,
) -> None:
    server = one_db_server
    assert server.slack is not None
    body = f"Refund the 300.00 USD to card {CARD}, or call me on {PHONE}."
    item_id = carded(server, refund_ticket("300.00", body=body))
    card = _posted_card(server.slack, item_id)
    assert "maria@example.com" not in card and "m***@example.com" in card
    assert CARD not in card and "**** **** **** 4242" in card
    assert PHONE not in card

    card_click(server, REVEAL_ACTION, item_id, user=OUTSIDER)
    wait_ephemeral(server.slack, OUTSIDER, "You can't reveal this")
    card_click(server, REVEAL_ACTION, item_id, user=REVIEWER)
    revealed = wait_ephemeral(server.slack, REVIEWER, "Unmasked details")
    assert "maria@example.com" in revealed and CARD in revealed and PHONE in revealed
    rows = audit_rows(server, item_id)
    assert [
        (r.event, r.actor) for r in rows if r.event in {"pii_revealed", "decision_refused"}
    ] == [
        ("decision_refused", OUTSIDER),
        ("pii_revealed", REVIEWER),
    ]
    assert all("maria@example.com" not in json.dumps(r.detail) for r in rows)


def test_the_proposed_action_and_its_reasons_are_masked_too(one_db_server: RunningServer) -> None:
    """A new email address in an update is personal data like the customer's own."""
    server = one_db_server
    assert server.slack is not None
    ticket = {
        "id": "T-update-email",
        "kind": "ticket",
        "subject": "New email address",
        "body": "Please use my new address from now on.",
        "customer": {"name": "Maria Lopez", "email": "maria@example.com"},
        "requested_action": {
            "kind": "update_field",
            "field": "email",
            "value": "new.me@example.net",
        },
    }
    item_id = carded(server, ticket)
    card = _posted_card(server.slack, item_id)
    assert "new.me@example.net" not in card
    assert "n***@example.net" in card


def test_long_tickets_are_cut_on_the_card_and_shown_in_full_in_the_thread(
    one_db_server: RunningServer,
) -> None:
    server = one_db_server
    assert server.slack is not None
    story = " ".join(f"Sentence {n} of a very long complaint." for n in range(150))
    item_id = carded(server, refund_ticket("300.00", body=story + " The end."))
    posted = [c for c in server.slack.calls("chat.postMessage") if item_id in json.dumps(c.params)]
    blocks = posted[0].params["blocks"]
    Block.parse_all(blocks)
    assert len(blocks) <= 50
    assert all(len(json.dumps(b)) < 3200 for b in blocks)
    assert "The end." not in json.dumps(blocks)
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert SHOW_MORE_ACTION in buttons
    card_click(server, SHOW_MORE_ACTION, item_id, user=OUTSIDER)  # looking is for everyone
    ts = server.item(item_id).slack_ts or ""
    slack_api = server.slack
    texts = wait_until(lambda: thread_texts(slack_api, ts), what="full text in the thread")
    wait_until(lambda: "The end." in "".join(thread_texts(slack_api, ts)), what="the end")
    assert all(len(t) <= 3500 for t in texts)
    assert "Sentence 149" in "".join(thread_texts(slack_api, ts))


def test_failed_assessment_is_said_prominently_on_the_card(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> None:
    class Broken(Classifier):
        name = "broken"

        async def assess(self, ticket: TicketIn) -> Assessment:
            raise AssessmentUnavailableError("model timed out after 20 s")

    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url)
    with start_server(database_url=url, slack=slack, sink=sink, classifier=Broken()) as server:
        item_id = carded(server, refund_ticket("20.00"))
        posted = [c for c in slack.calls("chat.postMessage") if item_id in json.dumps(c.params)]
        blocks = posted[0].params["blocks"]
        assert blocks[0]["type"] == "header"
        assert "*AI assessment unavailable:* model timed out after 20 s" in json.dumps(blocks[1])


def test_reject_needs_a_reason_from_the_list_and_shows_it(one_db_server: RunningServer) -> None:
    server = one_db_server
    assert server.slack is not None and server.sink is not None
    item_id = carded(server, refund_ticket("300.00"))
    server.click(REJECT_ACTION, item_id, user=REVIEWER)
    view = opened_view(server.slack, REJECT_CALLBACK)
    options = next(b for b in view["blocks"] if b.get("block_id") == REASON_BLOCK)["element"]
    assert [o["value"] for o in options["options"]] == [
        "wrong_facts",
        "wrong_tone",
        "policy_violation",
        "should_not_act",
        "other",
    ]
    missing = submit_view(server, view, user=REVIEWER, values={})
    assert missing.json() == {
        "response_action": "errors",
        "errors": {REASON_BLOCK: "Choose why you reject this."},
    }
    bare_other = submit_view(
        server, view, user=REVIEWER, values=select_value(REASON_BLOCK, "other")
    )
    assert list(bare_other.json()["errors"]) == [DETAIL_BLOCK]
    assert server.item(item_id).state == "pending_review"
    submit_view(
        server,
        view,
        user=REVIEWER,
        values={
            **select_value(REASON_BLOCK, "other"),
            **input_values(**{DETAIL_BLOCK: "Customer already got a voucher"}),
        },
    )
    server.wait_for_state(item_id, "rejected")
    ts = server.item(item_id).slack_ts or ""
    card = latest_card(server.slack, ts, "Rejected")
    assert f"Rejected* by <@{REVIEWER}>" in card and "Other: Customer already got a voucher" in card
    rejected = audit_rows(server, item_id)[-1]
    assert rejected.event == "rejected" and rejected.detail["reason_code"] == "other"
    # A second reviewer's late Reject changes nothing and is told who decided.
    submit_view(server, view, user=REVIEWER_2, values=select_value(REASON_BLOCK, "wrong_facts"))
    wait_ephemeral(server.slack, REVIEWER_2, f"Already rejected by <@{REVIEWER}>")


def test_a_newer_event_makes_the_draft_stale_until_it_is_redrafted(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    first = carded(server, refund_ticket("300.00", metadata={"thread_id": "conv-77"}))
    second = carded(
        server,
        refund_ticket(
            "300.00",
            body="Actually I found the charge was for my colleague, please cancel.",
            metadata={"thread_id": "conv-77"},
        ),
    )
    old_ts = server.item(first).slack_ts or ""
    card_click(server, APPROVE_ACTION, first, user=REVIEWER)
    text = wait_ephemeral(server.slack, REVIEWER, "Approve is refused")
    assert second in text and "Re-draft" in text
    card = latest_card(server.slack, old_ts, "Stale draft")
    assert REDRAFT_ACTION in card and APPROVE_ACTION not in card
    assert server.item(first).state == "pending_review" and server.sink.requests == []
    assert server.audit_events(first)[-2:] == ["marked_stale", "approve_refused_stale"]

    card_click(server, REDRAFT_ACTION, first, user=REVIEWER)
    latest_card(server.slack, old_ts, "Re-drafted* by")

    def fresh_card() -> Item | None:
        item = server.item(first)
        return item if item.slack_ts not in (None, old_ts) else None

    redrafted = wait_until(fresh_card, what="a fresh card for the re-drafted item")
    assert "please cancel" in redrafted.body and redrafted.stale_reason is None
    # The newer event's text is in the re-draft now: its own card must not be approved too.
    merged_ts = server.item(second).slack_ts or ""
    merged_card = latest_card(server.slack, merged_ts, f"Merged into `{first}`")
    assert APPROVE_ACTION not in merged_card and REDRAFT_ACTION not in merged_card
    card_click(server, APPROVE_ACTION, second, user=REVIEWER_2)
    wait_ephemeral(server.slack, REVIEWER_2, "so reject this one")
    card_click(server, REDRAFT_ACTION, second, user=REVIEWER_2)
    fake = server.slack
    wait_until(
        lambda: len([t for t in ephemerals(fake, REVIEWER_2) if "Merged into" in t]) == 2,
        what="re-draft of a merged event refused",
    )
    assert server.item(second).state == "pending_review"
    card_click(server, APPROVE_ACTION, first, user=REVIEWER)
    server.wait_for_state(first, "executed")
    assert "redrafted" in server.audit_events(first)
    assert "merged_into" in server.audit_events(second)
    assert len(server.sink.requests) == 1


def test_leads_retry_a_failed_execution_once_with_the_same_key(server: RunningServer) -> None:
    assert server.slack is not None and server.sink is not None
    server.sink.respond_with(400)  # a permanent failure: the item is marked failed at once
    item_id = carded(server, refund_ticket("300.00"))
    server.click(APPROVE_ACTION, item_id, user=REVIEWER)
    failed = server.wait_for_state(item_id, "failed")
    ts = failed.slack_ts or ""
    card = latest_card(server.slack, ts, "execution failed")
    assert RETRY_ACTION in card
    card_click(server, RETRY_ACTION, item_id, user=REVIEWER)
    wait_ephemeral(server.slack, REVIEWER, "only leads can retry")
    assert server.item(item_id).state == "failed"
    card_click(server, RETRY_ACTION, item_id, user=LEAD)
    card_click(server, RETRY_ACTION, item_id, user=LEAD)
    server.wait_for_state(item_id, "executed")
    wait_ephemeral(server.slack, LEAD, "already retried or finished")
    keys = [r.headers["idempotency-key"] for r in server.sink.requests]
    assert len(keys) == 2 and keys[0] == keys[1] == failed.idempotency_key
    assert server.audit_events(item_id).count("retry_requested") == 1
