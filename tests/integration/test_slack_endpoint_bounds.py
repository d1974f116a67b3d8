"""Issue 14: ``/slack/events`` refuses before it buffers, verifies before it parses, and answers
malformed signed bodies 400, never 500 and never with a stack trace in the log."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.server_harness import SIGNING_SECRET, RunningServer
from tests.support.signatures import slack_headers

BIG = 64 * 1024 * 1024
RSS_GROWTH_LIMIT = 100 * 1024 * 1024


def _rss_bytes() -> int:
    """This process's resident memory now (the test server runs in this process)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRss:
    """Samples the resident memory every few milliseconds while a request runs."""

    def __init__(self) -> None:
        self.baseline = _rss_bytes()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.005)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def _chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    piece = b"a" * size
    for _ in range(total // size):
        yield piece


def _post_big(server: RunningServer, headers: dict[str, str]) -> int | None:
    """POST 64 MB unsigned; the status, or None if the server closed the connection after
    answering before the upload ended (what a server that stops reading does)."""
    try:
        response = server.http.post(
            f"{server.url}/slack/events",
            content=_chunks(BIG),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None
    return response.status_code


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_unsigned_64_mb_body_is_refused_without_buffering_it(
    server: RunningServer, declared: bool
) -> None:
    headers = {"Content-Length": str(BIG)} if declared else {}
    with _PeakRss() as rss:
        status = _post_big(server, headers)
    assert status in (413, None)
    assert rss.growth < RSS_GROWTH_LIMIT, f"RSS grew {rss.growth / 2**20:.0f} MB"
    # The server is fine afterwards.
    assert server.http.get(f"{server.url}/healthz").status_code == 200


def _signed_post(server: RunningServer, body: bytes, content_type: str) -> httpx.Response:
    return server.http.post(
        f"{server.url}/slack/events",
        content=body,
        headers={"Content-Type": content_type, **slack_headers(SIGNING_SECRET, body)},
    )


FORM = "application/x-www-form-urlencoded"
MALFORMED = {
    "non-UTF-8 form": (b"payload=%7B%7D&x=\xff\xfe\xfd", FORM),
    "100,000-deep JSON": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "100,000-deep payload": (
        urlencode({"payload": "[" * 100_000 + "]" * 100_000}).encode(),
        FORM,
    ),
    "payload that is not JSON": (urlencode({"payload": "not json {"}).encode(), FORM),
    "payload that is a list": (urlencode({"payload": "[1, 2]"}).encode(), FORM),
    "JSON body that is a string": (json.dumps("hello").encode(), "application/json"),
    "JSON list with a charset": (b"[1, 2]", "application/json; charset=utf-8"),
    "payload that is a number": (urlencode({"payload": "7"}).encode(), FORM),
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_malformed_signed_bodies_are_a_400_without_a_stack_trace(
    server: RunningServer, shape: str, capfd: pytest.CaptureFixture[str]
) -> None:
    body, content_type = MALFORMED[shape]
    response = _signed_post(server, body, content_type)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_a_signed_well_formed_request_still_reaches_bolt(server: RunningServer) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    response = _signed_post(server, body, "application/json")
    assert response.status_code == 200 and "abc123" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"},
    ],
)
def test_an_unsigned_small_body_is_a_401(server: RunningServer, headers: dict[str, str]) -> None:
    body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    response = server.http.post(
        f"{server.url}/slack/events",
        content=body,
        headers={"Content-Type": FORM, **headers},
    )
    assert response.status_code == 401
