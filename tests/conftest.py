"""Shared fixtures: a fresh database per test on SQLite and (when configured) PostgreSQL, the
fake Slack Web API and action sink, and the real Signoff server on a loopback port.

PostgreSQL comes from ``TEST_DATABASE_URL``. When it is set but unreachable the suite fails; when
CI is set it must be set. Each test gets its own database copied from a migrated template, so
tests are isolated without truncating the append-only audit log.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.store.database import migrate, sync_url
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import SIGNING_SECRET, WEBHOOK_SECRET, RunningServer, start_server
from tests.support.slack_review import carded, sqlite_server
from tests.support.ticket_factory import refund_ticket

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
if os.environ.get("CI") and not TEST_DATABASE_URL:
    raise pytest.UsageError("CI must set TEST_DATABASE_URL: PostgreSQL tests may not be skipped")

BACKENDS = ["sqlite", *(["postgres"] if TEST_DATABASE_URL else [])]


def _admin_url() -> str:
    assert TEST_DATABASE_URL is not None
    return sync_url(TEST_DATABASE_URL)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; each test copies it (fast) instead of migrating."""
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # fail, never skip: CI must not pass without PostgreSQL
        pytest.fail(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}")
    name = f"signoff_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    migrate(_with_database(_admin_url(), name))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's own backup API: a consistent copy whatever the journal mode."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test copies it (a millisecond) instead of migrating (0.1 s)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "signoff.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "signoff.db"
        _copy_sqlite(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"signoff_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _with_database(_admin_url(), name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as fake:
        yield fake


@pytest.fixture
def server(database_url: str, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    """The real Signoff app on a loopback port, wired to the fake Slack and the action sink."""
    with start_server(database_url=database_url, slack=slack, sink=sink) as running:
        yield running


@pytest.fixture
def one_db_server(tmp_path: Path, slack: FakeSlack, sink: HttpSink) -> Iterator[RunningServer]:
    """The real Signoff app on SQLite alone: tests of what Slack is sent (shapes, texts, modals)
    learn nothing more from a second backend, so they skip PostgreSQL's extra server start."""
    with sqlite_server(tmp_path, slack, sink) as running:
        yield running


@pytest.fixture
def carded_refund(one_db_server: RunningServer) -> str:
    """A 75.00 refund waiting for review with its card posted, on ``one_db_server``: what the
    modal and permission tests act on. Its item id."""
    return carded(one_db_server, refund_ticket("75.00"))


__all__ = ["SIGNING_SECRET", "WEBHOOK_SECRET"]
