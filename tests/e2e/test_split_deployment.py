"""A split deployment: ``serve`` with ``SIGNOFF_INPROCESS_WORKER=false`` only stores tickets, real
``python -m bot work`` processes work them, and the web process's ``/healthz`` reports the workers
it can see through their heartbeats (unhealthy when there are none)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    RunningServer,
    readiness,
    start_server,
    wait_until,
)
from tests.support.ticket_factory import password_ticket
from tests.support.worker_processes import logs, worker_env, workers


def _health(web: RunningServer) -> httpx.Response:
    return web.http.get(f"{web.url}/healthz")


def test_only_work_processes_work_and_the_web_health_counts_them(
    database_url: str, slack: FakeSlack, sink: HttpSink, tmp_path: Path
) -> None:
    with start_server(
        database_url=database_url, slack=slack, sink=sink, inprocess_worker=False
    ) as web:
        alone = _health(web)
        # The web process serves (it stores and acks); only the work behind it is missing.
        assert alone.status_code == 200
        assert alone.json() == readiness(
            status="degraded",
            scheduler="external",
            worker="external",
            workers="none seen in the last 60 s",
        )
        response = web.post_ticket(password_ticket())
        assert response.status_code == 202
        item_id = response.json()["item_id"]
        # An in-process worker is notified by the webhook and takes the ticket within
        # milliseconds (and the harness sweeps every 0.5 s); this web process must not.
        time.sleep(1.5)
        assert web.item(item_id).state == "received"
        assert sink.requests == []

        env = worker_env(
            database_url,
            sink=sink,
        )
        with workers(2, env, tmp_path) as running:
            item = web.wait_for_state(item_id, "executed", "failed", timeout=60)
            assert item.state == "executed", (item.last_error, logs(tmp_path))

            def both_seen() -> httpx.Response | None:
                health = _health(web)
                return health if health.json()["workers"] == "2 seen in the last 60 s" else None

            seen = wait_until(both_seen, timeout=30, what="the web to see both workers")
            assert seen.status_code == 200
            assert seen.json()["status"] == "ok"
            assert all(process.poll() is None for process in running), logs(tmp_path)
        # Stopped cleanly, the workers stop counting at once rather than a minute later.
        gone = _health(web)
        assert (gone.status_code, gone.json()["status"]) == (200, "degraded")
        assert gone.json()["workers"] == "none seen in the last 60 s"
        assert len(sink.requests) == 1
