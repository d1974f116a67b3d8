"""A local HTTP server standing in for a customer's action endpoint.

Tests need to see exactly what the executor sent (headers, raw bytes for signatures) and to make
the endpoint fail or stall on demand, which a real socket shows more faithfully than a mock.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["HttpSink", "SinkRequest"]


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


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its HttpSink, so handlers can reach the shared state."""

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a test's deliberate timeout) is not an error worth printing."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    daemon_threads = True
    block_on_close = False

    def __init__(self, sink: HttpSink) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sink = sink


class _Handler(BaseHTTPRequestHandler):
    """Records the request, then answers with the sink's queued or default response."""

    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: test output should show the tests, not an access log."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload = self.server.sink._record(self.command, self.path, headers, body)
        if self.server.sink.delay > 0:
            time.sleep(self.server.sink.delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class HttpSink:
    """Records requests on 127.0.0.1; answers 200 `{"ok": true}` unless told otherwise."""

    def __init__(self) -> None:
        self.delay: float = 0.0
        self._lock = threading.Lock()
        self._requests: list[SinkRequest] = []
        self._statuses: list[int] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> HttpSink:
        """Bind a free port and serve in a daemon thread so a hung test cannot block exit."""
        if self._server is not None:
            raise RuntimeError("HttpSink is already started")
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Shut the server down; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port; only known once started."""
        if self._server is None:
            raise RuntimeError("HttpSink is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The action endpoint URL to configure in the bot (any path is accepted, though)."""
        return f"http://127.0.0.1:{self.port}/actions"

    @property
    def requests(self) -> list[SinkRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def respond_with(self, status: int, count: int = 1) -> None:
        """Answer the next `count` requests with `status`, to test retries and failure paths."""
        with self._lock:
            self._statuses.extend([status] * count)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SinkRequest]:
        """Poll until `count` requests arrived, since the executor posts from another thread."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected {count} request(s) within {timeout}s, got {len(found)}: "
                    f"{[r.path for r in found]}"
                )
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget requests and queued statuses between tests."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Store the request and pick its answer; called from server threads."""
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 200
            self._requests.append(SinkRequest(path, headers, body, time.time(), method, status))
        payload = json.dumps({"ok": 200 <= status < 300}).encode("utf-8")
        return status, payload
