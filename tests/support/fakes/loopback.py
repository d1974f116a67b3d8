"""What every local fake shares: bind a free loopback port, serve in a daemon thread (so a hung
test cannot block interpreter exit), stop idempotently, work as a context manager; and on the
request side, read a request whole, answer with JSON and print no access log. The fakes that
record what they were sent (:class:`RecordingServer`) also share how a test reads and waits for
those requests, and the delay a test sets to make every answer slow."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Generic, Self, TypeVar

F = TypeVar("F")
R = TypeVar("R")


class QuietServer(ThreadingHTTPServer):
    """A loopback ThreadingHTTPServer on a free port whose handler threads never block exit, and
    which does not print a client that gave up (a test's deliberate timeout) as an error."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeServer(QuietServer, Generic[F]):
    """A QuietServer that knows the fake it serves, so its handlers reach the fake's state."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], fake: F) -> None:
        super().__init__(handler)
        self.fake = fake


class JsonHandler(BaseHTTPRequestHandler):
    """Reads a request whole and answers with JSON through :meth:`respond`; a method not in
    ``methods`` gets the 501 ``BaseHTTPRequestHandler`` gives any method it has no ``do_`` for."""

    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST", "PUT", "PATCH"})

    def respond(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        if self.command in self.methods:
            self.respond()
        else:
            self.send_error(501, f"Unsupported method ({self.command!r})")

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: test output should show the tests, not an access log."""

    def read_request(self) -> tuple[dict[str, str], bytes]:
        """The request's headers (names lower-cased) and its body."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        return {key.lower(): value for key, value in self.headers.items()}, body

    def send_json(
        self,
        status: int,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class LoopbackServer:
    """Base for the fakes; a subclass says how to build its server in :meth:`_make_server`."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def _before_start(self) -> None:
        """Hook: reset per-run state (e.g. an event that ends slow answers)."""

    def _before_stop(self) -> None:
        """Hook: release anything a handler may be waiting on, so shutdown is prompt."""

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._before_start()
        server = self._make_server()
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Shut the server down; safe to call twice."""
        self._before_stop()
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
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
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])


class RecordingServer(LoopbackServer, Generic[R]):
    """A fake that records each request it answers (appended to ``_requests`` under ``_lock`` by
    its handler threads) and, where its handler calls :meth:`pause`, can be told to answer
    slowly (``delay`` seconds)."""

    def __init__(self) -> None:
        self.delay: float = 0.0
        self._lock = threading.Lock()
        self._requests: list[R] = []

    @property
    def requests(self) -> list[R]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[R]:
        """Poll until ``count`` requests arrived: the code under test calls from another thread
        (the server's loop or its worker)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected {count} request(s) within {timeout}s, got {len(found)}: {found}"
                )
            time.sleep(0.01)

    def pause(self) -> None:
        """Called by a handler before it answers: sleep ``delay`` seconds when a test set one."""
        if self.delay > 0:
            time.sleep(self.delay)
