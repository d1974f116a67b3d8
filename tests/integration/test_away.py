"""Away and delegation under a controllable clock: an away reviewer gets no reminder and their
delegate does, an escalation skips leads who are away (and still reaches someone when all are),
cards say who is away, and Slack's own status counts when SIGNOFF_RESPECT_SLACK_STATUS is on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.lead_settings.seed import seed_thresholds
from bot.review.reminders import run_follow_ups
from bot.runtime import Runtime, open_runtime
from bot.store.column_types import utcnow
from handlers.commands.registry import run_signoff_command
from tests.support.fakes.slack_api import FakeSlack
from tests.support.pending_items import carded_item
from tests.support.server_harness import LEAD, REVIEW_CHANNEL, REVIEWER, slack_settings

LEAD_2 = "U0LEAD2"
OTHER = "U0NOBODY"


@pytest.fixture
async def rt(
    database_url: str, slack: FakeSlack, request: pytest.FixtureRequest
) -> AsyncIterator[Runtime]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = slack_settings(
        database_url,
        slack,
        reviewers=REVIEWER,
        leads=f"{LEAD},{LEAD_2}",
        escalate_after="2h",
        reminder_fractions="0.5",
        **overrides,
    )
    async with open_runtime(settings) as runtime:
        await seed_thresholds(runtime.sessions, settings)
        yield runtime


async def _say(rt: Runtime, user: str, text: str) -> str:
    """``/signoff text`` as ``user``, through the same registry the signed requests reach."""
    return await run_signoff_command(rt, await rt.roster.roles(user), text)


async def _pending_item(rt: Runtime) -> tuple[str, str, datetime]:
    item = await carded_item(rt)
    assert item.slack_ts is not None and item.review_started_at is not None
    return item.id, item.slack_ts, item.review_started_at


def _thread(slack: FakeSlack, ts: str) -> list[str]:
    return [
        str(c.params["text"])
        for c in slack.calls("chat.postMessage")
        if c.params.get("thread_ts") == ts
    ]


def _dms(slack: FakeSlack) -> list[str]:
    return [
        str(c.params["channel"])
        for c in slack.calls("chat.postMessage")
        if str(c.params["channel"]).startswith("D")
    ]


async def test_an_away_reviewer_gets_no_reminder_and_their_delegate_does(
    rt: Runtime, slack: FakeSlack
) -> None:
    answer = await _say(rt, REVIEWER, f"away 3d to <@{LEAD}|lead>")
    assert "You're away until" in answer and f"<@{LEAD}> gets your reminders" in answer
    assert "is not a reviewer or lead" in await _say(rt, LEAD_2, f"away 2h to <@{OTHER}>")
    _, ts, started = await _pending_item(rt)
    card = slack.messages[(REVIEW_CHANNEL, ts)]
    assert f":palm_tree: Away: <@{REVIEWER}>" in str(card["blocks"])
    assert f"<@{LEAD}> stands in" in str(card["blocks"])

    counts = await run_follow_ups(rt, started + timedelta(minutes=61))
    assert counts.reminders == 1
    [reminder] = _thread(slack, ts)
    assert f"<@{LEAD}>" in reminder and f"<@{REVIEWER}>" not in reminder


async def test_back_ends_it_and_reminders_come_again(rt: Runtime, slack: FakeSlack) -> None:
    await _say(rt, REVIEWER, "away 4h")
    assert "Welcome back" in await _say(rt, REVIEWER, "back")
    assert "were not away" in await _say(rt, REVIEWER, "back")
    _, ts, started = await _pending_item(rt)
    await run_follow_ups(rt, started + timedelta(minutes=61))
    assert f"<@{REVIEWER}>" in _thread(slack, ts)[0]


async def test_escalation_skips_leads_who_are_away(rt: Runtime, slack: FakeSlack) -> None:
    await _say(rt, LEAD, "away 1d")
    _, ts, started = await _pending_item(rt)
    counts = await run_follow_ups(rt, started + timedelta(hours=2, minutes=1))
    assert counts.escalations == 1
    assert _dms(slack) == [f"D{LEAD_2}"]
    escalated = [t for t in _thread(slack, ts) if "Escalated" in t]
    assert f"Away, not notified: <@{LEAD}>" in escalated[0]


async def test_an_escalation_never_reaches_nobody(rt: Runtime, slack: FakeSlack) -> None:
    await _say(rt, LEAD, "away 1d")
    await _say(rt, LEAD_2, "away 1d")
    _, ts, started = await _pending_item(rt)
    await run_follow_ups(rt, started + timedelta(hours=2, minutes=1))
    assert sorted(_dms(slack)) == sorted([f"D{LEAD}", f"D{LEAD_2}"])
    assert any("Every lead is away" in t for t in _thread(slack, ts))


@pytest.mark.parametrize("rt", [{"respect_slack_status": True}], indirect=True)
async def test_slack_status_and_do_not_disturb_count_as_away(rt: Runtime, slack: FakeSlack) -> None:
    now = utcnow().timestamp()
    slack.profiles[LEAD] = {"status_text": "On leave", "status_expiration": int(now + 86_400)}
    slack.dnd[REVIEWER] = {"dnd_enabled": True, "next_dnd_start_ts": int(now - 60)}
    slack.dnd[REVIEWER]["next_dnd_end_ts"] = int(now + 86_400)
    _, ts, started = await _pending_item(rt)
    await run_follow_ups(rt, started + timedelta(hours=2, minutes=1))
    assert _dms(slack) == [f"D{LEAD_2}"]
    reminder = next(t for t in _thread(slack, ts) if "waiting" in t and "Escalated" not in t)
    assert f"<@{REVIEWER}>" not in reminder
    assert {c.params["user"] for c in slack.calls("users.profile.get")} >= {LEAD, REVIEWER}
