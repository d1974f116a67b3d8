"""*Show full text* posts the whole (masked) ticket and draft in the card's thread once per card:
later and simultaneous clicks are pointed to the thread instead of posting it again, and a post
Slack refused entirely can be asked for again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest

from bot.slack.card import SHOW_MORE_ACTION
from bot.slack.card_updates import full_text_messages
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    LEAD,
    OUTSIDER,
    REVIEWER,
    REVIEWER_2,
    RunningServer,
    wait_until,
)
from tests.support.slack_calls import calls_since
from tests.support.slack_payloads import card_click
from tests.support.slack_review import carded, thread_texts, wait_ephemeral
from tests.support.ticket_factory import refund_ticket

POINTER = "is already in this card's thread"


class LongItem(NamedTuple):
    server: RunningServer
    slack: FakeSlack
    item_id: str
    ts: str  # the card's
    pieces: int  # the thread messages its full text takes


@pytest.fixture
def long_item(one_db_server: RunningServer) -> LongItem:
    """A ticket too long for its card, carded on the server."""
    server = one_db_server
    assert server.slack is not None
    story = " ".join(f"Sentence {n} of a very long complaint." for n in range(200))
    item_id = carded(server, refund_ticket("300.00", body=story + " The end."))
    item = server.item(item_id)
    assert item.slack_ts is not None
    pieces = len(full_text_messages(item))
    assert pieces >= 2
    return LongItem(server, server.slack, item_id, item.slack_ts, pieces)


def test_the_full_text_is_posted_once_and_later_clicks_point_to_it(long_item: LongItem) -> None:
    server, slack, item_id, ts, pieces = long_item
    mark = len(slack.calls())
    card_click(server, SHOW_MORE_ACTION, item_id, user=OUTSIDER)  # looking is for everyone
    wait_until(lambda: len(thread_texts(slack, ts)) == pieces, what="the full text in the thread")
    calls = calls_since(slack, mark)
    assert [c.method for c in calls] == ["chat.postMessage"] * pieces
    assert all(c.params["thread_ts"] == ts for c in calls)
    assert "The end." in thread_texts(slack, ts)[-1]

    mark = len(slack.calls())
    card_click(server, SHOW_MORE_ACTION, item_id, user=REVIEWER)
    pointer = wait_ephemeral(slack, REVIEWER, POINTER)
    assert item_id in pointer and "open the replies under the card" in pointer
    assert [c.method for c in calls_since(slack, mark)] == ["chat.postEphemeral"]
    assert len(thread_texts(slack, ts)) == pieces


def test_simultaneous_clicks_post_the_full_text_once(long_item: LongItem) -> None:
    server, slack, item_id, ts, pieces = long_item
    users = [REVIEWER, REVIEWER_2, LEAD, OUTSIDER] * 3
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        statuses = list(
            pool.map(
                lambda u: card_click(server, SHOW_MORE_ACTION, item_id, user=u).status_code, users
            )
        )
    assert statuses == [200] * len(users)
    slack.wait_for("chat.postEphemeral", count=len(users) - 1)
    wait_until(lambda: len(thread_texts(slack, ts)) == pieces, what="the full text in the thread")
    pointed = [c for c in slack.calls("chat.postEphemeral") if POINTER in c.params["text"]]
    assert len(pointed) == len(users) - 1
    assert len(thread_texts(slack, ts)) == pieces


def test_when_slack_takes_none_of_it_the_next_click_posts_it(long_item: LongItem) -> None:
    server, slack, item_id, ts, pieces = long_item
    slack.fail_next("chat.postMessage", 200, count=pieces, error="internal_error")
    card_click(server, SHOW_MORE_ACTION, item_id, user=REVIEWER)
    wait_ephemeral(slack, REVIEWER, "Slack did not take the full text just now")
    assert _thread_posts(slack, ts) == (pieces, 0)  # all tried, none taken
    card_click(server, SHOW_MORE_ACTION, item_id, user=REVIEWER)
    wait_until(lambda: _thread_posts(slack, ts)[1] == pieces, what="the second click's post")
    assert POINTER not in " ".join(str(c.params["text"]) for c in slack.calls("chat.postEphemeral"))


def _thread_posts(slack: FakeSlack, ts: str) -> tuple[int, int]:
    """Posts in the card's thread: (refused by Slack, taken)."""
    posts = [c for c in slack.calls("chat.postMessage") if c.params.get("thread_ts") == ts]
    return sum(c.failed for c in posts), sum(not c.failed for c in posts)
