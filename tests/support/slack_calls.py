"""The Slack Web API calls the bot made since a point in a test, for asserting them exactly.

Bolt calls ``auth.test`` once, on the first request an app handles, to learn its own bot id; that
is Bolt's business, not a consequence of the click under test, so it is left out.
"""

from __future__ import annotations

from tests.support.fakes.slack_api import FakeSlack, SlackCall


def calls_since(slack: FakeSlack, mark: int) -> list[SlackCall]:
    """Calls after the first ``mark`` recorded ones (``mark = len(slack.calls())`` earlier)."""
    return [call for call in slack.calls()[mark:] if call.method != "auth.test"]


def methods_since(slack: FakeSlack, mark: int) -> list[str]:
    return [call.method for call in calls_since(slack, mark)]
