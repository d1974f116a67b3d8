"""The sandbox's wiring without a browser: its page API turns a click, a modal submission, a
command and a ticket into signed requests to the bot's real endpoints, and shows the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack_requests import interaction_request
from tests.support.sandbox_harness import ANA, BEN, VIC, RunningSandbox, running_sandbox
from tests.support.server_harness import wait_until


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


def _ticket(sandbox: RunningSandbox, subject: str, body: str, refund: str = "") -> None:
    answer = sandbox.page(
        "/sandbox/ticket",
        {
            "subject": subject,
            "body": body,
            "name": "Pat Doe",
            "email": "pat@example.com",
            "refund": refund,
        },
    )
    assert answer["status"] == 202, answer


def _card(sandbox: RunningSandbox, subject: str, body: str, refund: str) -> dict[str, Any]:
    """A ticket sent from the page, once its card is in the channel."""
    _ticket(sandbox, subject, body, refund)
    return sandbox.card_about(subject)


def _buttons(card: dict[str, Any]) -> tuple[str, dict[str, str]]:
    actions = next(b for b in card["blocks"] if b["type"] == "actions")
    return actions["block_id"], {e["text"]["text"]: e["action_id"] for e in actions["elements"]}


def _click(sandbox: RunningSandbox, user: str, card: dict[str, Any], label: str) -> dict[str, Any]:
    block_id, by_label = _buttons(card)
    return sandbox.page(
        "/sandbox/click",
        {
            "user": user,
            "channel": sandbox.run.sandbox.config.channel,
            "ts": card["ts"],
            "block_id": block_id,
            "action_id": by_label[label],
        },
    )


def _submit(
    sandbox: RunningSandbox, user: str, modal: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    """What the page posts on Submit: every input's typed value by block id."""
    return sandbox.page("/sandbox/submit", {"user": user, "view_id": modal["id"], "values": values})


def _open_modal(
    sandbox: RunningSandbox, user: str, card: dict[str, Any], label: str
) -> dict[str, Any]:
    """``user`` presses ``label`` on ``card``; the modal it opens in their page."""
    assert _click(sandbox, user, card, label)["status"] == 200
    return wait_until(lambda: sandbox.state(user)["modal"], timeout=20, what="the modal to open")


def test_a_ticket_arrives_as_a_card_rendered_from_its_blocks(sandbox: RunningSandbox) -> None:
    _ticket(sandbox, "Refund please <!channel>", "Ping <!here> and refund me, *now*.", "120")
    card = sandbox.card_about("Refund please")
    html = sandbox.state(ANA)["channel"]
    assert card["ts"] in html
    # The bot escaped the ticket; the page shows it literally, never as a mention.
    assert "Refund please &lt;!channel&gt;" in html
    assert "&lt;!here&gt;" in html and "@here</span>" not in html
    assert '<button class="bk-button bk-primary"' in html and ">Approve</button>" in html


def test_reject_through_the_modal_shows_field_errors_then_rejects(sandbox: RunningSandbox) -> None:
    card = _card(sandbox, "Wrong charge on invoice", "I was charged twice, refund 75 please.", "75")
    modal = _open_modal(sandbox, ANA, card, "Reject")
    assert "Reject" in modal["title"] and 'name="reject_reason"' in modal["html"]

    empty = _submit(sandbox, ANA, modal, {})
    assert empty["errors"] == {"reject_reason": "Choose why you reject this."}
    other = _submit(sandbox, ANA, modal, {"reject_reason": "other"})
    assert set(other["errors"]) == {"reject_detail"}
    assert sandbox.state(ANA)["modal"]["id"] == modal["id"]  # errors keep the modal open

    done = _submit(
        sandbox, ANA, modal, {"reject_reason": "wrong_facts", "reject_detail": "It was one charge."}
    )
    assert done["status"] == 200 and "errors" not in done
    assert sandbox.state(ANA)["modal"] is None
    wait_until(
        lambda: "Rejected" in str(sandbox.card_about("Wrong charge on invoice")["blocks"]),
        timeout=20,
        what="the card to show the rejection",
    )


def test_quorum_needs_two_people_and_a_viewer_cannot_decide(sandbox: RunningSandbox) -> None:
    card = _card(sandbox, "Big refund for the annual plan", "Please refund the annual plan.", "900")
    assert _click(sandbox, VIC, card, "Approve")["status"] == 200
    wait_until(
        lambda: "Only visible to you" in sandbox.state(VIC)["channel"],
        timeout=20,
        what="an ephemeral answer to the viewer",
    )
    assert "Only visible to you" not in sandbox.state(BEN)["channel"]

    assert _click(sandbox, ANA, card, "Approve")["status"] == 200

    def half_approved() -> dict[str, Any] | None:
        card = sandbox.card_about("Big refund")
        return card if "1 of 2 approvals" in str(card["blocks"]) else None

    once = wait_until(half_approved, timeout=20, what="one of two approvals on the card")
    assert _click(sandbox, BEN, once, "Approve")["status"] == 200
    wait_until(
        lambda: "actions" not in {b["type"] for b in sandbox.card_about("Big refund")["blocks"]},
        timeout=30,
        what="the second approval to decide the item",
    )


def test_signoff_command_and_app_home(sandbox: RunningSandbox) -> None:
    assert (
        sandbox.page("/sandbox/command", {"user": BEN, "text": "/signoff pending"})["status"] == 200
    )
    wait_until(
        lambda: "Only visible to you" in sandbox.state(BEN)["channel"],
        timeout=20,
        what="the command's private answer",
    )
    assert sandbox.page("/sandbox/home", {"user": BEN})["status"] == 200
    home = wait_until(lambda: sandbox.state(BEN)["home"], timeout=20, what="App Home")
    assert "data-view-id" in home


def test_the_bot_refuses_what_the_sandbox_did_not_sign(sandbox: RunningSandbox) -> None:
    forged = interaction_request("not-the-sandbox-secret-0123456789", {"type": "block_actions"})
    response = httpx.post(sandbox.url + "slack/events", content=forged.body, headers=forged.headers)
    assert response.status_code == 401
    wrong_token = httpx.post(
        sandbox.url + "api/auth.test", headers={"Authorization": "Bearer xoxb-no"}
    )
    assert wrong_token.json() == {"ok": False, "error": "invalid_auth"}
    # The page's API takes JSON only: a form posted from another site cannot act as anyone.
    form = httpx.post(sandbox.url + "sandbox/command", data={"user": ANA, "text": "pause"})
    assert form.status_code == 400


def test_the_weekly_chart_upload_reaches_the_sandbox_dm(sandbox: RunningSandbox) -> None:
    # files_upload_v2 takes Slack's three steps; the middle one posts to the sandbox's own URL.
    client = WebClient(token=sandbox.run.sandbox.config.bot_token, base_url=sandbox.url + "api/")
    client.files_upload_v2(channel="D0BEN", content=b"PNG-bytes", filename="week.png", title="W")
    (upload,) = sandbox.run.sandbox.workspace.uploads.files.values()
    assert upload["content"] == b"PNG-bytes" and upload["shared"]["channel_id"] == "D0BEN"
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_completeUploadExternal(files=[{"id": "F-never-uploaded"}])


def test_real_slack_settings_make_the_sandbox_refuse(tmp_path: Path) -> None:
    from bot.entrypoints.sandbox import refusals
    from tests.support.server_harness import make_settings

    assert refusals(make_settings()) == []
    problems = refusals(make_settings(slack_bot_token="xoxb-real", slack_signing_secret="s" * 32))
    assert len(problems) == 1 and "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET are set" in problems[0]


def test_edit_saves_and_approves_with_what_the_page_typed(sandbox: RunningSandbox) -> None:
    card = _card(
        sandbox, "Where is my invoice", "Refund the 120 for the lost invoice month.", "120"
    )
    modal = _open_modal(sandbox, ANA, card, "Edit")
    assert 'name="edit_reply"' in modal["html"] and 'name="edit_amount"' in modal["html"]
    typed = {"edit_amount": "100.00", "edit_currency": "USD"}
    # The page sends every input's current value; an empty reply is refused under its field.
    empty = _submit(sandbox, ANA, modal, {**typed, "edit_reply": ""})
    assert set(empty.get("errors", {})) == {"edit_reply"}, empty
    reply = "Hi Pat, 100.00 USD is on its way. Best, Support"
    done = _submit(sandbox, ANA, modal, {**typed, "edit_reply": reply})
    assert done["status"] == 200 and "errors" not in done, done
    wait_until(
        lambda: "Approved after edit" in str(sandbox.card_about("Where is my invoice")["blocks"]),
        timeout=20,
        what="the card to show the edit and approval",
    )
