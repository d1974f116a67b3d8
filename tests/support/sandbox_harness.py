"""The sandbox (``python -m bot sandbox``) for tests: the real one-port app in a uvicorn thread on
127.0.0.1, on a test's own SQLite file, with a synchronous client for its page API."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.entrypoints.sandbox import SandboxRun, build_sandbox, post_samples
from bot.store.database import migrate
from bot.tickets import TicketIn
from tests.support.server_harness import free_port, make_settings, wait_until

ANA, BEN, LEE, VIC = "U0ANA", "U0BEN", "U0LEE", "U0VIC"


@dataclass
class RunningSandbox:
    run: SandboxRun
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.run.url

    def page(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A POST from the page (JSON), answered with JSON."""
        response = self.http.post(self.url + path.lstrip("/"), json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def state(self, user: str) -> dict[str, Any]:
        response = self.http.get(self.url + "sandbox/state", params={"user": user})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def cards(self) -> list[dict[str, Any]]:
        """The review channel's top-level messages with blocks, oldest first."""
        workspace = self.run.sandbox.workspace
        channel = self.run.sandbox.config.channel
        with workspace.lock:
            found = [
                m
                for (ch, _), m in workspace.messages.items()
                if ch == channel and m.get("blocks") and not m.get("thread_ts")
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def card_about(self, subject: str, *, timeout: float = 30.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for card in self.cards():
                header = card["blocks"][0].get("text", {}).get("text", "")
                if subject in header:
                    return card
            return None

        return wait_until(find, timeout=timeout, what=f"a card about {subject!r}")


@contextlib.contextmanager
def running_sandbox(
    tmp_path: Path, samples: list[TicketIn] | None = None
) -> Iterator[RunningSandbox]:
    database_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    migrate(database_url)
    port = free_port()
    settings = make_settings(log_level="WARNING", spot_check_share=0.0)
    run = build_sandbox(settings, port=port, database_url=database_url)
    server = uvicorn.Server(
        uvicorn.Config(
            run.app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="signoff-sandbox", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=60, what="sandbox start")
    if not server.started:
        raise RuntimeError("the sandbox failed to start (see the log above)")
    http = httpx.Client(timeout=30)
    try:
        if samples:
            accepted = asyncio.run(post_samples(run.sandbox, samples))
            assert accepted == len(samples)
        yield RunningSandbox(run, http)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        http.close()
