"""Masked everywhere: one item whose proposed action and texts carry an email, a phone number and
a card number is walked through every surface that shows an item (card, thread lines, commands,
App Home, Edit and Reject modals, Show full text, spot check, daily digest, confirm dialogs,
logs). Nothing shows them in clear except the Reveal answer, and a reviewer who edits the
masked draft still saves the real values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.autonomy.spot_checks import spot_check_blocks
from bot.review.edit_validation import REPLY_BLOCK, VALUE_BLOCK
from bot.slack.card import (
    EDIT_ACTION,
    REJECT_ACTION,
    REVEAL_ACTION,
    SHOW_MORE_ACTION,
    auto_line,
    render_card,
)
from bot.slack.daily_digest import DigestFacts, render
from bot.slack.edit_modal import EDIT_CALLBACK
from bot.slack.reject_modal import REJECT_CALLBACK
from bot.store.models import Item
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import REVIEWER, slash_command, wait_until
from tests.support.slack_payloads import card_click, input_values, post_event, submit_view
from tests.support.slack_review import carded, opened_view, sqlite_server, wait_ephemeral

EMAIL = "jane.doe@example.com"
NEW_EMAIL = "jane.new@example.net"
PHONE = "(415) 555-2671"
CARD = "4111 1111 1111 1111"
CLEAR = (EMAIL, NEW_EMAIL, PHONE, CARD, "4111111111111111", "415-555-2671")


def _ticket() -> dict[str, object]:
    return {
        "id": "T-masked-1",
        "kind": "ticket",
        "subject": f"Change my contact, call {PHONE}",
        "body": f"Please change my email from {EMAIL} to {NEW_EMAIL}. My card is {CARD}, "
        f"call me on {PHONE}.",
        "customer": {"name": "Jane Doe", "email": EMAIL},
        "requested_action": {
            "kind": "update_field",
            "field": "contact",
            "value": f"{NEW_EMAIL} / {PHONE} / {CARD}",
        },
    }


def _in_clear(text: str) -> list[str]:
    return [value for value in CLEAR if value in text]


def test_every_surface_masks_the_item_except_reveal(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink, capfd: pytest.CaptureFixture[str]
) -> None:
    with sqlite_server(tmp_path, slack, sink, log_level="INFO") as server:
        item_id = carded(server, _ticket())
        draft = f"Hi Jane, we changed {EMAIL} to {NEW_EMAIL}; card {CARD}; we call {PHONE}."
        with server.db.begin() as connection:
            mark = update(Item).where(col(Item.id) == item_id)
            connection.execute(mark.values(draft_reply=draft))

        for number, text in enumerate(["pending", f"show {item_id}", "mine"]):
            form = slash_command(text, user=REVIEWER, response_url=slack.response_url(f"c{number}"))
            assert server.post_slack(form).status_code == 200
            slack.wait_for(f"response_url:c{number}")
        home = {"type": "app_home_opened", "user": REVIEWER, "channel": "D0HOME", "tab": "home"}
        assert post_event(server, home).status_code == 200
        slack.wait_for("views.publish")
        card_click(server, SHOW_MORE_ACTION, item_id, user=REVIEWER)
        card_click(server, REJECT_ACTION, item_id, user=REVIEWER)
        opened_view(slack, REJECT_CALLBACK)
        card_click(server, REVEAL_ACTION, item_id, user=REVIEWER)
        reveal = wait_ephemeral(slack, REVIEWER, "Unmasked details")

        card_click(server, EDIT_ACTION, item_id, user=REVIEWER)
        view = opened_view(slack, EDIT_CALLBACK)
        inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
        shown_reply = inputs[REPLY_BLOCK]["initial_value"]
        shown_value = inputs[VALUE_BLOCK]["initial_value"]
        assert not _in_clear(shown_reply + shown_value) and "@example.net" in shown_value
        values = input_values(**{REPLY_BLOCK: shown_reply + " Thanks!", VALUE_BLOCK: shown_value})
        assert submit_view(server, view, user=REVIEWER, values=values).status_code == 200
        saved = server.wait_for_state(item_id, "executed")
        # The masks left in came back as the real values: the customer gets a true reply.
        assert saved.draft_reply == draft + " Thanks!"
        assert saved.proposed_action == _ticket()["requested_action"]
        wait_until(
            lambda: any("edited the draft" in str(c.params) for c in slack.calls()),
            what="the edit's thread line",
        )

    # Surfaces rendered from the same item without a Slack round trip of their own.
    item = saved.model_copy(update={"state": "failed", "last_error": f"CRM refused {NEW_EMAIL}"})
    offline = [
        render_card(item),  # the Retry confirm dialog and the failure line
        render_card(saved.model_copy(update={"state": "pending_review"})),
        spot_check_blocks(saved.model_copy(update={"autonomy_bucket": "b"})),
        auto_line(saved),
        render(
            DigestFacts(
                day=datetime(2026, 11, 24, tzinfo=UTC),
                pending=1,
                oldest_id=item_id,
                oldest_subject=saved.subject,
                oldest_since=datetime(2026, 11, 24, tzinfo=UTC) - timedelta(hours=1),
            ),
            datetime(2026, 11, 25, 9, tzinfo=UTC),
        ),
    ]
    assert not _in_clear(json.dumps(offline, ensure_ascii=False))

    assert _in_clear(reveal)  # the one place clear text is shown (and it is audited)
    surfaces = {
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "views.open",
        "views.publish",
    }
    seen = {c.method for c in slack.calls()}
    assert surfaces <= seen and {"response_url:c0", "response_url:c1", "response_url:c2"} <= seen
    for call in slack.calls():
        rendered = json.dumps(call.params, ensure_ascii=False)
        if call.params.get("text") == reveal:
            continue
        assert not _in_clear(rendered), (call.method, _in_clear(rendered), rendered[:500])
    logs = capfd.readouterr()
    assert not _in_clear(logs.out + logs.err)
    assert "pii_revealed" in server.audit_events(item_id)
