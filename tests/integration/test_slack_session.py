"""Every Web API call of a runtime goes over one keep-alive session (a new TCP and TLS
connection per call is what slack_sdk does without one), and the session closes with it."""

from __future__ import annotations

from bot.runtime import open_runtime
from bot.slack.client import build_slack_client
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    BOT_TOKEN,
    REVIEW_CHANNEL,
    make_settings,
    slack_settings,
)


async def test_a_runtime_sends_its_calls_over_one_connection_and_closes_it(
    database_url: str,
) -> None:
    with FakeSlack(keep_alive=True) as slack:
        settings = slack_settings(database_url, slack)
        async with open_runtime(settings) as rt:
            assert rt.publisher is not None
            client = rt.publisher.client
            for n in range(5):
                await client.chat_postMessage(channel=REVIEW_CHANNEL, text=f"line {n}")
            await client.chat_postEphemeral(channel=REVIEW_CHANNEL, user="U1", text="only you")
            session = client.session
            assert session is not None and not session.closed
        assert len(slack.calls()) == 6
        assert slack.connections == 1
        assert session.closed


async def test_without_a_shared_session_each_call_is_a_new_connection() -> None:
    """The fake can tell the difference: the check above is not true by construction."""
    with FakeSlack(keep_alive=True) as slack:
        client = build_slack_client(
            make_settings(slack_bot_token=BOT_TOKEN, slack_api_url=slack.api_url)
        )
        for n in range(3):
            await client.chat_postMessage(channel=REVIEW_CHANNEL, text=f"line {n}")
        assert slack.connections == 3
