"""Running the real Signoff app for tests, and talking to it the way Slack and senders do.

The server is uvicorn in a background thread on 127.0.0.1, so every request crosses a real socket
and goes through the same middleware, signature checks and Bolt dispatch as production.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import uvicorn
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.assess.assessment import Classifier
from bot.entrypoints.server import create_app
from bot.settings import Settings
from bot.store.database import sync_url
from bot.store.models import AuditEvent, Item
from bot.vendors.settings import VendorSettings
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.signatures import generic_headers, slack_headers

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
WEBHOOK_SECRET = "test-webhook-secret-fedcba9876543210"
ACTION_SECRET = "test-action-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token-1234"
REVIEW_CHANNEL = "C0REVIEW"
REVIEWER = "U0REVIEWER"
REVIEWER_2 = "U0REVIEWER2"
LEAD = "U0LEAD"
OUTSIDER = "U0OUTSIDER"

T = TypeVar("T")
R = TypeVar("R", bound=SQLModel)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_settings(**fields: Any) -> Settings:
    """Settings built only from arguments: a developer's ``.env`` never leaks into a test."""
    return Settings(_env_file=None, **fields)


def slack_settings(database_url: str, slack: FakeSlack, **fields: Any) -> Settings:
    """Settings for an in-process runtime that posts its cards to the review channel on the fake
    Slack; a test adds the roster, schedule and limits it is about."""
    return make_settings(
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=slack.api_url,
        review_channel=REVIEW_CHANNEL,
        **fields,
    )


def readiness(**changes: str) -> dict[str, str]:
    """What ``/readyz`` answers for a process that serves, schedules and works on a current
    schema, with ``changes`` for one that leaves part of that to other processes."""
    return {
        "status": "ok",
        "database": "ok",
        "migrations": "current",
        "scheduler": "running",
        "worker": "running",
        **changes,
    }


@dataclass
class RunningServer:
    url: str
    settings: Settings
    slack: FakeSlack | None
    sink: HttpSink | None
    http: httpx.Client
    db: Engine

    def post_ticket(
        self, ticket: dict[str, Any], *, secret: str = WEBHOOK_SECRET
    ) -> httpx.Response:
        body = json.dumps(ticket).encode()
        headers = {"Content-Type": "application/json", **generic_headers(secret, body)}
        return self.http.post(f"{self.url}/webhooks/generic", content=body, headers=headers)

    def post_slack(
        self, form: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = urlencode(form).encode()
        signed = {
            "Content-Type": "application/x-www-form-urlencoded",
            **slack_headers(SIGNING_SECRET, body),
        }
        signed.update(headers or {})
        return self.http.post(f"{self.url}/slack/events", content=body, headers=signed)

    def click(
        self, action_id: str, item_id: str, *, user: str = REVIEWER, value: str | None = None
    ) -> httpx.Response:
        item = self.item(item_id)
        assert item.slack_ts, "the card must be posted before anyone can click it"
        assert self.slack is not None
        return self.post_slack(
            {
                "payload": json.dumps(
                    block_actions(
                        action_id=action_id,
                        item_id=item_id,
                        user=user,
                        channel=item.slack_channel or "",
                        message_ts=item.slack_ts,
                        response_url=self.slack.response_url(f"click-{user}"),
                        value=value,
                    )
                )
            }
        )

    def item(self, item_id: str) -> Item:
        return read_item(self.db, item_id)

    def rows(self, model: type[R], *where: Any) -> list[R]:
        """The stored ``model`` rows that match ``where`` (SQLAlchemy conditions), in primary key
        order (insertion order for the audit trail), detached so a test can read them at
        leisure."""
        key = model.__table__.primary_key.columns  # type: ignore[attr-defined]
        with Session(self.db) as session:
            found = list(session.execute(select(model).where(*where).order_by(*key)).scalars())
            for row in found:
                session.expunge(row)
            return found

    def audit_events(self, item_id: str) -> list[str]:
        """The names of ``item_id``'s audit events, oldest first."""
        return [row.event for row in self.rows(AuditEvent, col(AuditEvent.item_id) == item_id)]

    def wait_for_state(self, item_id: str, *states: str, timeout: float = 15.0) -> Item:
        def reached() -> Item | None:
            item = self.item(item_id)
            return item if item.state in states else None

        return wait_until(reached, timeout=timeout, what=f"{item_id} to reach {states}")


def read_item(db: Engine, item_id: str) -> Item:
    """The item as stored now, detached from its session so a test can read it at leisure."""
    with Session(db) as session:
        item = session.get(Item, item_id)
        assert item is not None, f"no item {item_id}"
        session.expunge(item)
        return item


def wait_until(
    check: Callable[[], T | None], *, timeout: float = 15.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy: tests wait for outcomes, never sleep a
    fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def new_trigger_id() -> str:
    """Slack gives every interaction its own ``trigger_id`` (a retry of it keeps it)."""
    return f"{uuid.uuid4().int % 10**10}.2222222222.abcdef"


def block_actions(
    *,
    action_id: str,
    item_id: str,
    user: str,
    channel: str,
    message_ts: str,
    response_url: str,
    value: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload in the shape Slack sends for a button click; the button's
    ``value`` is the item id unless given (the card's buttons carry ``item:version``)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
        "api_app_id": "A0SIGNOFF",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": new_trigger_id(),
        "team": {"id": "T0FAKE", "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "signoff-review"},
        "message": {"type": "message", "ts": message_ts, "bot_id": "B0BOT", "text": "card"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"review:{item_id}",
                "value": item_id if value is None else value,
                "type": "button",
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def slash_command(text: str, *, user: str = REVIEWER, response_url: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "team_domain": "fake",
        "channel_id": REVIEW_CHANNEL,
        "channel_name": "signoff-review",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/signoff",
        "text": text,
        "api_app_id": "A0SIGNOFF",
        "response_url": response_url,
        "trigger_id": new_trigger_id(),
    }


@contextlib.contextmanager
def start_server(
    *,
    database_url: str,
    slack: FakeSlack | None,
    sink: HttpSink | None,
    classifier: Classifier | None = None,
    vendors: VendorSettings | None = None,
    **overrides: Any,
) -> Iterator[RunningServer]:
    port = free_port()
    fields: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url if slack else "http://127.0.0.1:9/api/",
        "review_channel": REVIEW_CHANNEL,
        "database_url": database_url,
        "webhook_secret": WEBHOOK_SECRET,
        "action_url": sink.url if sink else None,
        "action_secret": ACTION_SECRET,
        "reviewers": frozenset({REVIEWER, REVIEWER_2}),
        "leads": frozenset({LEAD}),
        "port": port,
        "sweep_interval_seconds": 0.5,
        "log_level": "WARNING",
        # Spot checks draw a share of auto-executed items by id; tests that want them say so.
        "spot_check_share": 0.0,
    }
    fields.update(overrides)
    settings = make_settings(**fields)
    app = create_app(settings, classifier=classifier, vendors=vendors)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="signoff-test-server", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=30, what="server start")
    if not server.started:
        raise RuntimeError("the Signoff server failed to start (see the log above)")
    db = create_engine(sync_url(database_url))
    http = httpx.Client(timeout=10)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", settings, slack, sink, http, db)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        http.close()
        db.dispose()
