"""A local HTTP server that answers like Slack's Web API, for tests that use the real slack_sdk.

Talking to a real socket (rather than mocking the client) exercises slack_sdk's own request
encoding, URL joining, error mapping and retry handlers exactly as production does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.slack.manifest import BOT_SCOPES
from tests.support.fakes.loopback import FakeServer, JsonHandler, LoopbackServer

__all__ = ["FakeSlack", "SlackCall"]

# Params that slack_sdk (or a form-encoding caller) may send as JSON text.
_JSON_STRING_PARAMS = ("blocks", "attachments", "view", "metadata")

_BOT_USER_ID = "U0BOT"
_BOT_ID = "B0BOT"


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
        params.update(_parse_body(raw, self.headers.get("Content-Type", "")))
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


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a JSON or form body the way Slack would; unknown bodies are kept under `_raw`."""
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return {"_raw": text}
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    if "multipart/" in content_type.lower():
        return {"_raw": text}
    params: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
    for key in _JSON_STRING_PARAMS:
        value = params.get(key)
        if isinstance(value, str):
            params[key] = _maybe_json(value)
    return params


def _maybe_json(value: str) -> object:
    """Return the parsed list/dict when `value` is JSON text for one, else the string itself."""
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, (list, dict)) else value


class FakeSlack(LoopbackServer):
    """Slack Web API stand-in on 127.0.0.1; point slack_sdk clients at `api_url`."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self._peers: set[tuple[str, int]] = set()
        self.usergroup_members: dict[str, list[str]] = {}
        # Scopes the token was granted, sent as Slack's `x-oauth-scopes` header on every answer
        # (None: no header). Starts as the manifest's, as for an app installed from it.
        self.granted_scopes: list[str] | None = list(BOT_SCOPES)
        # conversations.info: channel id → is the bot a member (unknown ids: channel_not_found).
        self.channels: dict[str, bool] = {}
        # users.profile.get and dnd.info answers by user (absent users: no status, no DND).
        self.profiles: dict[str, dict[str, Any]] = {}
        self.dnd: dict[str, dict[str, Any]] = {}
        self.rate_limit_per_channel: float | None = None
        self._lock = threading.Lock()
        self._calls: list[SlackCall] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._ts_counter = 100
        self._view_counter = 0
        # files.getUploadURLExternal → POST /upload/<id> → files.completeUploadExternal
        self._file_counter = 0
        self._uploads: dict[str, dict[str, Any]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def _make_server(self) -> FakeServer[Self]:
        return FakeServer(_Handler, self)

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

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Posted messages by (channel, ts), latest version after chat.update."""
        with self._lock:
            return {key: dict(msg) for key, msg in self._messages.items()}

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Uploaded files by id: ``filename``, ``length`` (announced), ``content`` (the bytes
        posted to the upload URL, None until then), and ``shared`` (the complete call's params)."""
        with self._lock:
            return {key: dict(value) for key, value in self._uploads.items()}

    def reset(self) -> None:
        """Forget calls, messages, queued failures and rate-limit state between tests."""
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._failures.clear()
            self._buckets.clear()
            self.granted_scopes = list(BOT_SCOPES)
            self.channels = {}

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
        with self._lock:
            body = self._answer(method, params)
            failed = body.get("ok") is not True
            self._calls.append(SlackCall(method, params, token, time.time(), failed))
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

    def _next_ts(self) -> str:
        """Unique, increasing Slack-style ts; caller holds the lock."""
        self._ts_counter += 100
        seconds, micros = divmod(self._ts_counter, 1_000_000)
        return f"{1_700_000_000 + seconds}.{micros:06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Build Slack's answer for a successful call; caller holds the lock."""
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "signoff",
                "team_id": "T0FAKE",
                "user_id": _BOT_USER_ID,
                "bot_id": _BOT_ID,
            }
        if method == "chat.postMessage":
            return self._post_message(params)
        if method == "chat.update":
            return self._update_message(params)
        if method == "chat.delete":
            return self._delete_message(params)
        if method == "conversations.history":
            return self._history(params)
        if method == "files.getUploadURLExternal":
            return self._upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        if method == "conversations.replies":
            return self._replies(params)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            return self._view(params)
        if method == "users.info":
            user = str(params.get("user", ""))
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "name": user.lower(),
                    "real_name": f"User {user}",
                    "tz": "UTC",
                    "is_bot": False,
                },
            }
        if method == "conversations.open":
            users = params.get("users", "")
            if isinstance(users, list):
                users = ",".join(str(u) for u in users)
            return {"ok": True, "channel": {"id": "D" + str(users).replace(",", "")}}
        if method == "conversations.info":
            channel = str(params.get("channel", ""))
            if channel not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": channel.lower(),
                    "is_member": self.channels[channel],
                    "is_archived": False,
                },
            }
        if method == "users.profile.get":
            user = str(params.get("user", ""))
            profile = {"status_text": "", "status_emoji": "", "status_expiration": 0}
            return {"ok": True, "profile": {**profile, **self.profiles.get(user, {})}}
        if method == "dnd.info":
            user = str(params.get("user", ""))
            quiet = {"dnd_enabled": False, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1}
            return {"ok": True, "snooze_enabled": False, **quiet, **self.dnd.get(user, {})}
        if method == "usergroups.users.list":
            group = str(params.get("usergroup", ""))
            return {"ok": True, "users": list(self.usergroup_members.get(group, []))}
        return {"ok": True}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        """Slack's step 1: an upload URL (pointing back at this fake) and a file id."""
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        self._file_counter += 1
        file_id = f"F{self._file_counter:08d}"
        self._uploads[file_id] = {
            "filename": str(filename),
            "length": int(str(length)),
            "content": None,
            "shared": None,
        }
        upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    def _receive_upload(self, file_id: str, raw: bytes) -> _Reply:
        """Step 2: the bytes, posted to the upload URL (answered in plain text like Slack's)."""
        with self._lock:
            self._calls.append(SlackCall(f"upload:{file_id}", {}, None, time.time()))
            upload = self._uploads.get(file_id)
            if upload is None:
                return _Reply(404, {"ok": False, "error": "unknown_upload"})
            upload["content"] = raw
        return _Reply(200, {"ok": True})

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share the uploaded files in a channel; refuses files never uploaded or whose
        bytes do not match the announced length."""
        files = params.get("files")
        if isinstance(files, str):
            files = _maybe_json(files)
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for entry in files:
            upload = self._uploads.get(str(entry.get("id")))
            if upload is None or upload["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["content"]) != upload["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            upload["shared"] = {k: v for k, v in params.items() if k != "files"}
            upload["title"] = entry.get("title")
            shared.append({"id": entry["id"], "title": entry.get("title")})
        return {"ok": True, "files": shared}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": _BOT_USER_ID,
            "bot_id": _BOT_ID,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
            "ts": ts,
        }
        for key in ("attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _update_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        ts = str(params.get("ts", ""))
        current = self._messages.get((channel, ts))
        if current is None:
            return {"ok": False, "error": "message_not_found"}
        updated = dict(current)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                updated[key] = params[key]
        updated["edited"] = {"user": _BOT_USER_ID, "ts": self._next_ts()}
        self._messages[(channel, ts)] = updated
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": updated.get("text", ""),
            "message": dict(updated),
        }

    def _delete_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        ts = str(params.get("ts", ""))
        if self._messages.pop((channel, ts), None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages, newest first; metadata only when asked, as Slack does."""
        channel = str(params.get("channel", ""))
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        found = sorted(
            ((ts, msg) for (ch, ts), msg in self._messages.items() if ch == channel),
            key=lambda pair: float(pair[0]),
            reverse=True,
        )
        messages = []
        for _, msg in found[:limit]:
            shown = {k: v for k, v in msg.items() if k != "metadata" or with_metadata}
            messages.append(shown)
        return {"ok": True, "messages": messages, "has_more": len(found) > limit}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first (one page)."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        if (channel, ts) not in self._messages:
            return {"ok": False, "error": "thread_not_found"}
        found = sorted(
            (
                (t, msg)
                for (ch, t), msg in self._messages.items()
                if ch == channel and (t == ts or msg.get("thread_ts") == ts)
            ),
            key=lambda pair: float(pair[0]),
        )
        return {"ok": True, "messages": [dict(msg) for _, msg in found], "has_more": False}

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        given = dict(view) if isinstance(view, dict) else {}
        view_id = params.get("view_id")
        if not isinstance(view_id, str) or not view_id:
            self._view_counter += 1
            view_id = f"V{self._view_counter:08d}"
        return {"ok": True, "view": {**given, "id": view_id}}
