"""A local HTTP server standing in for a customer's action endpoint.

Tests need to see exactly what the executor sent (headers, raw bytes for signatures) and to make
the endpoint fail or stall on demand, which a real socket shows more faithfully than a mock.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Self

from tests.support.fakes.loopback import FakeServer, JsonHandler, RecordingServer

__all__ = ["HeldRequest", "HttpSink", "SinkRequest"]


@dataclass
class SinkRequest:
    """One request the sink received; `body` is the raw bytes so signatures can be checked."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    method: str = "POST"
    status: int = 200

    def json(self) -> Any:
        """The body decoded as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)


@dataclass
class HeldRequest:
    """A request the sink keeps open until released: the window in which a test kills the
    worker that is waiting for the answer."""

    key: str
    arrived: threading.Event
    release: threading.Event


class _Handler(JsonHandler):
    """Records the request, then answers with the sink's queued or default response."""

    server: FakeServer[HttpSink]

    def respond(self) -> None:
        headers, body = self.read_request()
        sink = self.server.fake
        status, payload, replayed = sink._record(self.command, self.path, headers, body)
        sink._hold_if_asked(headers.get("idempotency-key"), replayed)
        sink.pause()
        self.send_json(status, payload, {"Idempotent-Replayed": "true"} if replayed else None)


class HttpSink(RecordingServer[SinkRequest]):
    """Records requests on 127.0.0.1; answers 200 `{"ok": true}` unless told otherwise.

    With `idempotent=True` it behaves like a vendor that honours `Idempotency-Key`: the first
    request with a key takes effect (counted in `effects`) and any repeat gets the stored answer
    again, marked `Idempotent-Replayed: true`, without a second effect.
    """

    def __init__(self, *, idempotent: bool = False) -> None:
        super().__init__()
        self.idempotent = idempotent
        self._statuses: list[int] = []
        self._answers: dict[str, tuple[int, bytes]] = {}
        self._effects: dict[str, int] = {}
        self._holds: dict[str, HeldRequest] = {}

    def _make_server(self) -> FakeServer[Self]:
        return FakeServer(_Handler, self)

    @property
    def url(self) -> str:
        """The action endpoint URL to configure in the bot (any path is accepted, though)."""
        return f"http://127.0.0.1:{self.port}/actions"

    @property
    def effects(self) -> dict[str, int]:
        """Idempotency-Key → how many times a request with it took effect (idempotent mode)."""
        with self._lock:
            return dict(self._effects)

    def hold(self, key: str) -> HeldRequest:
        """Keep the first request carrying `key` open (after it took effect, like a vendor whose
        answer is lost) until `release` is set; repeats of the key are answered at once."""
        held = HeldRequest(key, threading.Event(), threading.Event())
        with self._lock:
            self._holds[key] = held
        return held

    def release_all(self) -> None:
        """Let every held request answer (their clients may be long gone)."""
        with self._lock:
            holds = list(self._holds.values())
        for held in holds:
            held.release.set()

    def respond_with(self, status: int, count: int = 1) -> None:
        """Answer the next `count` requests with `status`, to test retries and failure paths."""
        with self._lock:
            self._statuses.extend([status] * count)

    def reset(self) -> None:
        """Forget requests and queued statuses between tests."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._answers.clear()
            self._effects.clear()
        self.release_all()
        with self._lock:
            self._holds.clear()

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, bool]:
        """Store the request and pick its answer (and whether it is a replay); called from
        server threads."""
        key = headers.get("idempotency-key")
        with self._lock:
            stored = self._answers.get(key) if self.idempotent and key else None
            if stored is not None:
                status, payload = stored
            else:
                status = self._statuses.pop(0) if self._statuses else 200
                payload = json.dumps({"ok": 200 <= status < 300}).encode("utf-8")
                if self.idempotent and key and 200 <= status < 300:
                    self._answers[key] = (status, payload)
                    self._effects[key] = self._effects.get(key, 0) + 1
            self._requests.append(SinkRequest(path, headers, body, time.time(), method, status))
        return status, payload, stored is not None

    def _hold_if_asked(self, key: str | None, replayed: bool) -> None:
        """Block this server thread while a test holds the request (first delivery only)."""
        if key is None or replayed:
            return
        with self._lock:
            held = self._holds.get(key)
        if held is None or held.arrived.is_set():
            return
        held.arrived.set()
        held.release.wait(timeout=60)
