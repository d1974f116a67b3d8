"""Shared steps for the Slack review tests: submit a ticket, wait for its card, open modals,
reject with a reason, and run the server on SQLite alone."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlmodel import col

from bot.slack.card import REJECT_ACTION
from bot.slack.reject_modal import DETAIL_BLOCK, REASON_BLOCK
from bot.store.database import migrate
from bot.store.models import AuditEvent
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack, SlackCall
from tests.support.server_harness import RunningServer, start_server, wait_until
from tests.support.slack_payloads import card_click, input_values, select_value, submit_view


def submit(server: RunningServer, ticket: dict[str, Any]) -> str:
    response = server.post_ticket(ticket)
    assert response.status_code == 202, response.text
    return str(response.json()["item_id"])


def carded(server: RunningServer, ticket: dict[str, Any]) -> str:
    """Submit ``ticket`` and wait until its review card is posted."""
    item_id = submit(server, ticket)
    server.wait_for_state(item_id, "pending_review")
    wait_until(lambda: server.item(item_id).slack_ts, what="card posted")
    return item_id


def opened_view(slack: FakeSlack, callback_id: str, count: int = 1) -> dict[str, Any]:
    calls = wait_until(
        lambda: [
            c for c in slack.calls("views.open") if c.params["view"]["callback_id"] == callback_id
        ][count - 1 :],
        what=f"views.open of {callback_id}",
    )
    return {**calls[0].params["view"], "id": f"V{count:07d}"}


def ephemerals(slack: FakeSlack, user: str) -> list[str]:
    return [
        str(c.params["text"])
        for c in slack.calls("chat.postEphemeral") + slack.calls("chat.postMessage")
        if c.params.get("user") == user or c.params.get("channel") == user
    ]


def wait_ephemeral(slack: FakeSlack, user: str, fragment: str) -> str:
    return wait_until(
        lambda: next((t for t in ephemerals(slack, user) if fragment in t), None),
        what=f"a private answer to {user} containing {fragment!r}",
    )


def card_updates(slack: FakeSlack, ts: str) -> list[SlackCall]:
    return [c for c in slack.calls("chat.update") if c.params.get("ts") == ts]


def latest_card(slack: FakeSlack, ts: str, fragment: str) -> str:
    """The newest rendering of the card at ``ts`` once it contains ``fragment``."""

    def found() -> str | None:
        updates = card_updates(slack, ts)
        rendered = json.dumps(updates[-1].params["blocks"], ensure_ascii=False) if updates else ""
        return rendered if fragment in rendered else None

    return wait_until(found, what=f"card {ts} showing {fragment!r}")


def thread_texts(slack: FakeSlack, ts: str) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in slack.calls("chat.postMessage")
        if c.params.get("thread_ts") == ts
    ]


def audit_rows(server: RunningServer, item_id: str) -> list[AuditEvent]:
    return server.rows(AuditEvent, col(AuditEvent.item_id) == item_id)


@contextlib.contextmanager
def sqlite_server(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink, **overrides: Any
) -> Iterator[RunningServer]:
    """One backend is enough for tests of what Slack is sent (shapes, texts, modals)."""
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    migrate(url)
    with start_server(database_url=url, slack=slack, sink=sink, **overrides) as running:
        yield running


def reject_with_reason(
    server: RunningServer,
    item_id: str,
    *,
    user: str,
    detail: str = "That is not the customer's address",
) -> None:
    """Reject through the card's modal with a reason ("wrong facts") and a detail, and wait until
    the item is rejected."""
    assert server.slack is not None
    opened = len(server.slack.calls("views.open"))
    card_click(server, REJECT_ACTION, item_id, user=user)
    modal = server.slack.wait_for("views.open", count=opened + 1)[-1]
    submit_view(
        server,
        {**modal.params["view"], "id": f"V{opened}"},
        user=user,
        values={
            **select_value(REASON_BLOCK, "wrong_facts"),
            **input_values(**{DETAIL_BLOCK: detail}),
        },
    )
    server.wait_for_state(item_id, "rejected")
