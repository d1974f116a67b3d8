"""A local HTTP server that answers like Slack's Web API, for tests that use the real slack_sdk.

Talking to a real socket (rather than mocking the client) exercises slack_sdk's own request
encoding, URL joining, error mapping and retry handlers exactly as production does. What a call
does to the workspace is the sandbox's :class:`~bot.sandbox.workspace.Workspace` (so the suite
and the local workspace cannot drift apart); this fake adds what only tests want: recorded
calls, tokens, injected failures, a per-channel rate limit and granted-scope headers.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.sandbox.params import decode_params
from bot.sandbox.workspace import KNOWN_METHODS, Workspace
from bot.slack.manifest import BOT_SCOPES
from tests.support.fakes.loopback import FakeServer, JsonHandler, LoopbackServer

__all__ = ["FakeSlack", "SlackCall"]


@dataclass
class SlackCall:
    """One request the fake received, kept so tests can assert on what the bot sent."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    failed: bool = False


@dataclass
class _Failure:
    """A queued injected failure for one call of a method."""

    status: int
    retry_after: int | None
    error: str | None


@dataclass
class _Bucket:
    """Token bucket state for one channel's chat.postMessage rate limit."""

    tokens: float
    updated: float


@dataclass
class _Reply:
    """What the handler should send back."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(JsonHandler):
    """Parses a request and hands it to FakeSlack; HTTP/1.0 so no idle keep-alive sockets linger,
    unless the fake was made with ``keep_alive=True`` (as slack.com keeps connections open)."""

    methods = frozenset({"GET", "POST"})
    server: FakeServer[FakeSlack]

    def setup(self) -> None:
        super().setup()
        if self.server.fake.keep_alive:
            self.protocol_version = "HTTP/1.1"

    def respond(self) -> None:
        split = urlsplit(self.path)
        _, raw = self.read_request()
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        params.update(decode_params(raw, self.headers.get("Content-Type", "")))
        fake = self.server.fake
        with fake._lock:
            fake._peers.add(self.client_address)
        path = split.path
        if path.startswith("/api/"):
            method = unquote(path[len("/api/") :]).strip("/")
            reply = fake._dispatch(method, params, _bearer(self.headers.get("Authorization")))
        elif path.startswith("/upload/"):
            reply = fake._receive_upload(unquote(path[len("/upload/") :]).strip("/"), raw)
        elif path.startswith("/response/"):
            name = unquote(path[len("/response/") :]).strip("/")
            reply = fake._dispatch_response_url(name, params)
        else:
            reply = _Reply(404, {"ok": False, "error": "unknown_path"})
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_json(
            reply.status, payload, reply.headers, content_type="application/json; charset=utf-8"
        )


def _bearer(header: str | None) -> str | None:
    """Extract the token from an Authorization header; None when absent or empty."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class FakeSlack(LoopbackServer):
    """Slack Web API stand-in on 127.0.0.1; point slack_sdk clients at `api_url`."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self._peers: set[tuple[str, int]] = set()
        # Triggers are not checked: tests make up their own trigger_ids.
        self.workspace = Workspace(trigger_ttl=None)
        # Scopes the token was granted, sent as Slack's `x-oauth-scopes` header on every answer
        # (None: no header). Starts as the manifest's, as for an app installed from it.
        self.granted_scopes: list[str] | None = list(BOT_SCOPES)
        self.rate_limit_per_channel: float | None = None
        self._lock = threading.Lock()
        self._calls: list[SlackCall] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._buckets: dict[str, _Bucket] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def _make_server(self) -> FakeServer[Self]:
        server = FakeServer(_Handler, self)
        self.workspace.upload_url = f"http://127.0.0.1:{server.server_address[1]}/upload/"
        return server

    @property
    def api_url(self) -> str:
        """Base URL for slack_sdk; the trailing slash matters because slack_sdk urljoins."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r") -> str:
        """A response_url to put in payloads; POSTs to it are recorded as `response_url:<name>`."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -- inspection ------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many TCP connections the calls so far came over."""
        with self._lock:
            return len(self._peers)

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Recorded calls (including failed ones), optionally only those of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[SlackCall]:
        """Poll until `count` calls of `method` arrived, since bots often call Slack off-thread."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = Counter(c.method for c in self.calls())
                raise AssertionError(
                    f"expected {count} call(s) of {method!r} within {timeout}s, "
                    f"got {len(found)}; calls seen: {dict(seen) or 'none'}"
                )
            time.sleep(0.01)

    # The workspace's state, under the names tests have always used.

    @property
    def usergroup_members(self) -> dict[str, list[str]]:
        """usergroups.users.list answers by group id."""
        return self.workspace.usergroup_members

    @property
    def channels(self) -> dict[str, bool]:
        """conversations.info: channel id → is the bot a member (unknown: channel_not_found)."""
        return self.workspace.channels

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        """users.profile.get answers by user (absent users: no status)."""
        return self.workspace.profiles

    @property
    def dnd(self) -> dict[str, dict[str, Any]]:
        """dnd.info answers by user (absent users: no DND)."""
        return self.workspace.dnd

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Posted messages by (channel, ts), latest version after chat.update."""
        with self.workspace.lock:
            return {key: dict(msg) for key, msg in self.workspace.messages.items()}

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Uploaded files by id (see :class:`bot.sandbox.files.Uploads`)."""
        with self.workspace.lock:
            return {key: dict(value) for key, value in self.workspace.uploads.files.items()}

    def reset(self) -> None:
        """Forget calls, the workspace's messages, channels and views, queued failures and
        rate-limit state between tests."""
        self.workspace.reset()
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self._buckets.clear()
            self.granted_scopes = list(BOT_SCOPES)

    # -- failure injection -----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` fail, to test retries and error handling.

        A 200 status needs an `error` (answered as `{"ok": false, "error": error}`); any other
        status answers `{"ok": false, "error": error or "ratelimited"/"fatal_error"}`, with
        `Retry-After` when `retry_after` is given.
        """
        if status == 200 and error is None:
            raise ValueError("fail_next with status 200 needs an error code")
        with self._lock:
            queue = self._failures.setdefault(method, [])
            queue.extend(_Failure(status, retry_after, error) for _ in range(count))

    # -- request handling (called from server threads) -------------------------------------

    def _record(self, method: str, params: dict[str, Any], token: str | None, failed: bool) -> None:
        with self._lock:
            self._calls.append(SlackCall(method, params, token, time.time(), failed))

    def _dispatch_response_url(self, name: str, params: dict[str, Any]) -> _Reply:
        self._record(f"response_url:{name}", params, None, failed=False)
        return _Reply(200, {"ok": True})

    def _dispatch(self, method: str, params: dict[str, Any], token: str | None) -> _Reply:
        if token is None:
            body_token = params.get("token")
            token = body_token if isinstance(body_token, str) and body_token else None
        injected = self._pop_failure(method)
        if injected is not None:
            self._record(method, params, token, failed=True)
            return injected
        if token is None:
            self._record(method, params, token, failed=True)
            return _Reply(200, {"ok": False, "error": "not_authed"})
        if method == "chat.postMessage" and not self._take_rate_token(str(params.get("channel"))):
            self._record(method, params, token, failed=True)
            return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        # Methods the workspace does not model (reactions, pins, …) simply succeed.
        body = self.workspace.answer(method, params) if method in KNOWN_METHODS else {"ok": True}
        self._record(method, params, token, failed=body.get("ok") is not True)
        scopes = self.granted_scopes
        headers = {"x-oauth-scopes": ",".join(scopes)} if scopes is not None else {}
        return _Reply(200, body, headers)

    def _pop_failure(self, method: str) -> _Reply | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue.pop(0)
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        default_error = "ratelimited" if failure.status == 429 else "fatal_error"
        return _Reply(
            failure.status, {"ok": False, "error": failure.error or default_error}, headers
        )

    def _take_rate_token(self, channel: str) -> bool:
        """Token bucket per channel (burst 2), mimicking Slack's ~1 message/s/channel limit."""
        rate = self.rate_limit_per_channel
        if rate is None:
            return True
        burst = 2.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(channel, _Bucket(burst, now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def _receive_upload(self, file_id: str, raw: bytes) -> _Reply:
        """Step 2: the bytes, posted to the upload URL (answered in plain text like Slack's)."""
        with self._lock:
            self._calls.append(SlackCall(f"upload:{file_id}", {}, None, time.time()))
        if not self.workspace.receive_upload(file_id, raw):
            return _Reply(404, {"ok": False, "error": "unknown_upload"})
        return _Reply(200, {"ok": True})
