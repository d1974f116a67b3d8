"""``/livez``, ``/readyz`` (and ``/healthz``, its old name) and the optional ``/metrics`` token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import RunningServer, readiness
from tests.support.slack_review import sqlite_server

METRICS_TOKEN = "metrics-token-0123456789abcdef"


def test_readyz_reports_what_serving_needs_and_healthz_is_the_same(
    server: RunningServer,
) -> None:
    ready = server.http.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == readiness()
    health = server.http.get(f"{server.url}/healthz")
    assert (health.status_code, health.json()) == (200, ready.json())
    live = server.http.get(f"{server.url}/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})


def test_a_schema_behind_the_code_is_not_ready_but_still_live(server: RunningServer) -> None:
    with server.db.begin() as connection:
        [current] = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        ready = server.http.get(f"{server.url}/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unhealthy" and body["database"] == "ok"
        assert body["migrations"].startswith("behind: at ['0001'], code expects")
        assert server.http.get(f"{server.url}/healthz").status_code == 503
        # Restarting the process would not fix the schema: liveness stays green.
        assert server.http.get(f"{server.url}/livez").status_code == 200
    finally:
        with server.db.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    assert server.http.get(f"{server.url}/readyz").status_code == 200


@pytest.fixture
def guarded(tmp_path: Path, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    with sqlite_server(tmp_path, slack, sink, metrics_token=METRICS_TOKEN) as running:
        yield running


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-0123456789abcdef",
        f"Basic {METRICS_TOKEN}",
        "Bearer",
        "Bearer \xe9",
    ],
)
def test_metrics_with_a_token_refuse_scrapes_without_it(
    guarded: RunningServer, authorization: str | None
) -> None:
    # Latin-1 bytes on the wire, as a client that sends a non-ASCII header would.
    headers = {b"Authorization": authorization.encode("latin-1")} if authorization else {}
    response = guarded.http.get(f"{guarded.url}/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "signoff_" not in response.text


def test_metrics_with_the_token_are_served(guarded: RunningServer) -> None:
    response = guarded.http.get(
        f"{guarded.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200 and "signoff_" in response.text


def test_metrics_without_a_token_configured_stay_open(server: RunningServer) -> None:
    assert server.http.get(f"{server.url}/metrics").status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_no_interactive_docs_or_schema_are_published(server: RunningServer, path: str) -> None:
    """The webhook surface is not described to whoever reaches the port."""
    assert server.http.get(f"{server.url}{path}").status_code == 404
