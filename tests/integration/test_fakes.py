"""Proves the fakes speak well enough for the real slack_sdk clients and for plain urllib."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack

BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Approve the refund?"}}
]


def _client(slack: FakeSlack, token: str | None = "xoxb-test") -> WebClient:
    """A WebClient with no retry handlers, so injected failures surface at once."""
    return WebClient(base_url=slack.api_url, token=token, retry_handlers=[], timeout=5)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST with urllib and return (status, body), including error statuses."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def test_api_url_has_trailing_slash(slack: FakeSlack) -> None:
    assert slack.api_url == f"http://127.0.0.1:{slack.port}/api/"


def test_auth_test_records_bearer_token(slack: FakeSlack) -> None:
    response = _client(slack).auth_test()
    assert response["ok"] is True
    assert response["user_id"] == "U0BOT"
    assert response["bot_id"] == "B0BOT"
    [call] = slack.calls("auth.test")
    assert call.token == "xoxb-test"
    assert call.failed is False


def test_post_message_with_blocks_then_update(slack: FakeSlack) -> None:
    client = _client(slack)
    posted = client.chat_postMessage(channel="C1", text="fallback", blocks=BLOCKS)
    ts = posted["ts"]
    assert posted["channel"] == "C1"
    assert posted["message"]["blocks"] == BLOCKS
    second = client.chat_postMessage(channel="C1", text="again")
    assert float(second["ts"]) > float(ts)

    updated = client.chat_update(channel="C1", ts=ts, text="done", blocks=[])
    assert updated["ts"] == ts
    assert updated["text"] == "done"
    assert slack.messages[("C1", ts)]["text"] == "done"
    assert slack.messages[("C1", ts)]["blocks"] == []
    [call] = slack.calls("chat.update")
    assert call.params["ts"] == ts
    assert slack.calls("chat.postMessage")[0].params["blocks"] == BLOCKS


def test_form_encoded_blocks_are_decoded(slack: FakeSlack) -> None:
    _client(slack).api_call(
        "chat.postMessage", params={"channel": "C2", "blocks": json.dumps(BLOCKS)}
    )
    [call] = slack.calls("chat.postMessage")
    assert call.params["blocks"] == BLOCKS
    assert next(iter(slack.messages.values()))["blocks"] == BLOCKS


def test_update_of_unknown_ts_fails(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as caught:
        _client(slack).chat_update(channel="C1", ts="1.000000", text="x")
    assert caught.value.response["error"] == "message_not_found"
    assert slack.calls("chat.update")[0].failed is True


def test_missing_token_is_not_authed(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as caught:
        _client(slack, token=None).auth_test()
    assert caught.value.response["error"] == "not_authed"


def test_fail_next_429_with_retry_after(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", 429, retry_after=1)
    client = _client(slack)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="hi")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers.get("Retry-After") == "1"
    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True
    assert [c.failed for c in slack.calls("chat.postMessage")] == [True, False]


def test_fail_next_200_with_error(slack: FakeSlack) -> None:
    slack.fail_next("views.open", 200, error="expired_trigger_id")
    with pytest.raises(SlackApiError) as caught:
        _client(slack).views_open(trigger_id="t", view={"type": "modal"})
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "expired_trigger_id"


def test_canned_answers(slack: FakeSlack) -> None:
    client = _client(slack)
    slack.usergroup_members["S1"] = ["U1", "U2"]
    assert client.users_info(user="U7")["user"]["name"] == "u7"
    assert client.conversations_open(users="U7")["channel"]["id"] == "DU7"
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    assert client.usergroups_users_list(usergroup="S9")["users"] == []
    view = client.views_open(trigger_id="t", view={"type": "modal", "callback_id": "cb"})["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "cb"
    assert client.chat_postEphemeral(channel="C1", user="U1", text="x")["message_ts"]
    assert client.api_call("reactions.add")["ok"] is True


def test_async_client(slack: FakeSlack) -> None:
    pytest.importorskip("aiohttp")
    from slack_sdk.web.async_client import AsyncWebClient

    async def run() -> str:
        client = AsyncWebClient(base_url=slack.api_url, token="xoxb-async", retry_handlers=[])
        await client.auth_test()
        posted = await client.chat_postMessage(channel="C3", text="t", blocks=BLOCKS)
        await client.chat_update(channel="C3", ts=posted["ts"], text="u")
        return str(posted["ts"])

    ts = asyncio.run(run())
    assert slack.messages[("C3", ts)]["text"] == "u"
    assert slack.calls("auth.test")[0].token == "xoxb-async"


def test_wait_for_times_out_with_seen_methods(slack: FakeSlack) -> None:
    _client(slack).auth_test()
    with pytest.raises(AssertionError, match=r"auth\.test"):
        slack.wait_for("chat.postMessage", timeout=0.05)
    assert len(slack.wait_for("auth.test")) == 1
    slack.reset()
    assert slack.calls() == []


def test_rate_limit_per_channel(slack: FakeSlack) -> None:
    slack.rate_limit_per_channel = 1.0
    client = _client(slack)
    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="C1", text="2")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="3")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers.get("Retry-After") == "1"
    assert client.chat_postMessage(channel="C2", text="other channel")["ok"] is True


def test_response_url_records_json(slack: FakeSlack) -> None:
    url = slack.response_url("cmd1")
    status, body = _post(
        url,
        json.dumps({"text": "ok", "replace_original": True}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200
    assert json.loads(body) == {"ok": True}
    [call] = slack.wait_for("response_url:cmd1")
    assert call.params == {"text": "ok", "replace_original": True}
    assert call.token is None


def test_sink_records_headers_and_body(sink: HttpSink) -> None:
    payload = json.dumps({"action": "refund", "amount": 5}).encode()
    status, body = _post(
        sink.url, payload, {"Content-Type": "application/json", "X-Signature": "abc"}
    )
    assert status == 200
    assert json.loads(body) == {"ok": True}
    [request] = sink.wait_for(1)
    assert request.path == "/actions"
    assert request.headers["x-signature"] == "abc"
    assert request.body == payload
    assert request.json() == {"action": "refund", "amount": 5}


def test_sink_respond_with_then_default(sink: HttpSink) -> None:
    sink.respond_with(503, count=2)
    statuses = [_post(sink.url, b"{}", {"Content-Type": "application/json"})[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert len(sink.requests) == 3


def test_sink_delay(sink: HttpSink) -> None:
    sink.delay = 0.2
    started = time.monotonic()
    _post(sink.url, b"{}", {})
    assert time.monotonic() - started >= 0.2
