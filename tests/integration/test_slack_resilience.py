"""Slack misbehaving: re-delivered events are answered without repeating work, and cards survive
429s and 5xx (slack_sdk's retry handlers first, then the sweep re-posts)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from slack_sdk.errors import SlackClientError

from bot.slack.client import build_slack_client
from bot.slack.pacing import ChannelPacer
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    BOT_TOKEN,
    REVIEWER,
    SIGNING_SECRET,
    RunningServer,
    make_settings,
    wait_until,
)
from tests.support.signatures import slack_headers
from tests.support.ticket_factory import refund_ticket


def _mention_event(event_id: str) -> dict[str, object]:
    return {
        "token": "legacy",
        "team_id": "T0FAKE",
        "api_app_id": "A0SIGNOFF",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
        "event": {
            "type": "app_mention",
            "user": REVIEWER,
            "text": "<@U0BOT> pending",
            "ts": "1700000000.000100",
            "channel": "C0REVIEW",
            "event_ts": "1700000000.000100",
        },
    }


def _post_event(server: RunningServer, payload: dict[str, object], retry: int | None) -> int:

    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **slack_headers(SIGNING_SECRET, body)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return server.http.post(f"{server.url}/slack/events", content=body, headers=headers).status_code


def test_redelivered_event_is_acknowledged_and_not_repeated(server: RunningServer) -> None:
    assert server.slack is not None
    statuses = [_post_event(server, _mention_event("Ev0001"), retry) for retry in (None, 1, 2, 3)]
    assert statuses == [200, 200, 200, 200]
    server.slack.wait_for("chat.postEphemeral")
    assert _post_event(server, _mention_event("Ev0002"), None) == 200
    answers = server.slack.wait_for("chat.postEphemeral", count=2)
    assert len(answers) == 2  # one per distinct event, none for the retries
    assert "Nothing is waiting" in answers[0].params["text"]


def test_rate_limited_card_is_posted_after_retry_after(server: RunningServer) -> None:
    assert server.slack is not None
    server.slack.fail_next("chat.postMessage", 429, count=2, retry_after=1)
    item_id = server.post_ticket(refund_ticket("300.00")).json()["item_id"]
    wait_until(lambda: server.item(item_id).slack_ts, timeout=20, what="card posted after 429s")
    calls = server.slack.calls("chat.postMessage")
    assert [c.failed for c in calls] == [True, True, False]
    assert calls[2].at - calls[1].at >= 0.9  # Retry-After was honoured


def test_slack_outage_leaves_cards_for_the_sweep_and_nothing_is_lost(server: RunningServer) -> None:
    assert server.slack is not None
    server.slack.fail_next("chat.postMessage", 503, count=12)
    ids = [server.post_ticket(refund_ticket(f"{100 + n}.00")).json()["item_id"] for n in range(3)]

    def all_posted() -> bool:
        return all(server.item(item_id).slack_ts for item_id in ids)

    wait_until(all_posted, timeout=30, what="every card posted after the outage")
    posted = [c for c in server.slack.calls("chat.postMessage") if not c.failed]
    assert sorted(
        item_id for c in posted for item_id in ids if item_id in json.dumps(c.params)
    ) == sorted(ids)
    assert len(posted) == 3
    for item_id in ids:
        assert server.audit_events(item_id).count("card_posted") == 1


async def test_a_429_holds_back_the_next_posts_of_this_process(slack: FakeSlack) -> None:
    """Another instance spent the rate: the Retry-After one post receives also delays
    the posts queued behind it in this process, instead of each earning its own 429."""
    pacer = ChannelPacer()
    client = build_slack_client(
        make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=slack.api_url), pacer=pacer
    )
    slack.fail_next("chat.postMessage", 429, retry_after=2)
    first = asyncio.create_task(client.chat_postMessage(channel="C0BUSY", text="first"))
    await asyncio.to_thread(slack.wait_for, "chat.postMessage")
    await asyncio.sleep(0.05)  # let the retry handler see the 429 before the next post is paced
    await pacer.wait("C0BUSY")
    await client.chat_postMessage(channel="C0BUSY", text="second")
    await first
    calls = slack.calls("chat.postMessage")
    rejected, later = calls[0], [c for c in calls if c.params["text"] == "second"]
    assert rejected.failed and len(later) == 1 and not later[0].failed
    assert later[0].at - rejected.at >= 1.5  # waited for Retry-After, not just its own slot


async def test_slack_out_of_reach_fails_as_a_slack_client_error() -> None:
    """Nothing listens on the API address (the sandbox's local Slack stopped first at Ctrl-C):
    after slack_sdk's connection retries the call fails with ``SlackClientError``, the error
    every caller handles as "try later", not with aiohttp's own exception."""
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = build_slack_client(
        make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=f"http://127.0.0.1:{port}/api/")
    )
    with pytest.raises(SlackClientError, match=r"chat\.postMessage: Slack could not be reached"):
        await client.chat_postMessage(channel="C0GONE", text="card")
