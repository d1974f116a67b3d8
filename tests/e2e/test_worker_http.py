"""A ``python -m bot work`` process given a port serves ``/healthz`` and ``/metrics``: the
executions it performed are scraped from it by the test process. The same health app
in-process (a stalled loop, a port already taken) is specified in
``tests/integration/test_worker_health.py``."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from bot.store.database import sync_url
from tests.support.approved_items import seed_approved
from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import (
    free_port,
    readiness,
    wait_until,
)
from tests.support.worker_processes import logs, start_worker, stop, worker_env


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def test_a_work_process_with_a_port_serves_health_and_its_own_counters(
    database_url: str, tmp_path: Path
) -> None:
    db = create_engine(sync_url(database_url))
    try:
        ids = seed_approved(db, 3)
    finally:
        db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with HttpSink() as sink:
        env = worker_env(
            database_url,
            PORT=str(port),
            HOST="127.0.0.1",
            sink=sink,
        )
        process = start_worker(env, tmp_path, "worker")
        try:
            health = wait_until(
                lambda: ((r := _get(f"{base}/healthz")) is not None and r) or process.poll(),
                timeout=60,
                what="the worker's /healthz",
            )
            assert isinstance(health, httpx.Response), logs(tmp_path)
            assert health.status_code == 200
            assert health.json() == readiness()
            assert httpx.get(f"{base}/readyz", timeout=2).json() == health.json()
            assert httpx.get(f"{base}/livez", timeout=2).json() == {"status": "ok"}
            wait_until(lambda: len(sink.requests) >= len(ids), timeout=30, what="3 executions")

            def executed() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
                samples = _samples(httpx.get(f"{base}/metrics", timeout=2).text)
                done = samples.get(("signoff_executions_total", (("result", "executed"),)))
                return samples if done == len(ids) else None

            # Counted where they happened, in this process: `serve` never saw these executions.
            samples = wait_until(executed, timeout=15, what="executions in the worker's metrics")
            assert samples[("signoff_items", (("state", "executed"),))] == len(ids)
            # Health and metrics only: Slack and webhooks belong to `serve`.
            assert httpx.post(f"{base}/webhooks/generic", content=b"{}").status_code == 404
            assert httpx.post(f"{base}/slack/events", content=b"{}").status_code == 404
            assert httpx.get(f"{base}/openapi.json", timeout=2).status_code == 404
        finally:
            assert stop(process) == 0, logs(tmp_path)
    assert _get(f"{base}/healthz") is None  # the port closed with the worker
