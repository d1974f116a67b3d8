"""``python -m bot doctor`` against the fake Slack and OpenAI servers and real databases: a good
configuration passes every check, and each kind of mistake fails its own check with a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.entrypoints.doctor import run_checks
from bot.settings import Settings
from bot.slack.manifest import BOT_SCOPES
from bot.store.database import sync_url
from tests.support.bot_cli import run_bot
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.openai_api import FakeOpenAI
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    BOT_TOKEN,
    REVIEW_CHANNEL,
    SIGNING_SECRET,
    free_port,
    make_settings,
)

ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "sk-doctor-test-key"


def _settings(database_url: str, slack: FakeSlack, **extra: Any) -> Settings:
    return make_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        SIGNOFF_REVIEW_CHANNEL=REVIEW_CHANNEL,
        DATABASE_URL=database_url,
        **extra,
    )


def test_a_good_configuration_passes_every_check(database_url: str, slack: FakeSlack) -> None:
    slack.channels[REVIEW_CHANNEL] = True
    with HttpSink() as sink, FakeOpenAI(api_key=OPENAI_KEY) as llm:
        settings = _settings(
            database_url,
            slack,
            SIGNOFF_ACTION_URL=sink.url,
            SIGNOFF_ACTION_SECRET="action-secret-0123456789",
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=llm.base_url,
        )
        checks = run_checks(settings)
        assert [c for c in checks if not c.ok] == []
        assert len(llm.requests) == 1  # the classifier's own structured request, once
        assert "doctor@example.com" not in llm.requests[0].message_text("user")  # redacted
    names = [c.name for c in checks]
    assert names[:5] == [
        "configuration",
        "Slack token",
        "Slack scopes",
        "review channel",
        "database",
    ]
    assert [m.method for m in slack.calls()] == ["auth.test", "conversations.info"]


def test_each_mistake_fails_its_own_check_with_a_fix(database_url: str, slack: FakeSlack) -> None:
    slack.granted_scopes = ["chat:write", "commands", "app_mentions:read", "im:write"]
    slack.channels[REVIEW_CHANNEL] = False
    closed_port = free_port()
    with FakeOpenAI(api_key="sk-the-right-key") as llm:
        settings = _settings(
            database_url,
            slack,
            SIGNOFF_ACTION_URL=f"http://127.0.0.1:{closed_port}/actions",
            SIGNOFF_ACTION_SECRET="action-secret-0123456789",
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=llm.base_url,
        )
        checks = {c.name: c for c in run_checks(settings)}
    scopes = checks["Slack scopes"]
    assert not scopes.ok
    granted = set(slack.granted_scopes or ())
    assert scopes.detail == "missing " + ", ".join(s for s in BOT_SCOPES if s not in granted)
    assert "usergroups:read" in scopes.detail
    assert scopes.fix is not None and "reinstall" in scopes.fix
    channel = checks["review channel"]
    assert not channel.ok and channel.fix == "invite it: type `/invite @Signoff` in #c0review"
    action = checks["action endpoint"]
    assert not action.ok and "cannot be reached" in action.detail
    model = checks["OpenAI model gpt-4o-mini"]
    assert not model.ok and model.fix is not None and "OPENAI_API_KEY" in model.fix


def test_a_bad_token_and_an_unknown_channel_are_named(database_url: str, slack: FakeSlack) -> None:
    slack.fail_next("auth.test", 200, error="invalid_auth")
    checks = {c.name: c for c in run_checks(_settings(database_url, slack))}
    assert checks["Slack token"].detail == "auth.test failed: invalid_auth"
    assert "Bot User OAuth Token" in (checks["Slack token"].fix or "")
    checks = {c.name: c for c in run_checks(_settings(database_url, slack))}
    unknown = checks["review channel"]
    assert unknown.detail == f"conversations.info {REVIEW_CHANNEL}: channel_not_found"


def test_a_schema_behind_the_code_says_to_migrate(database_url: str, slack: FakeSlack) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    engine.dispose()
    slack.channels[REVIEW_CHANNEL] = True
    database = {c.name: c for c in run_checks(_settings(database_url, slack))}["database"]
    if database_url.startswith("sqlite"):  # serve and work migrate SQLite themselves
        assert database.ok and "migrated when Signoff starts" in database.detail
    else:
        assert not database.ok and database.fix == "run `python -m bot migrate`"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_command_prints_each_check_and_fails_when_one_does(
    backend: str, tmp_path: Path, slack: FakeSlack
) -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SIGNOFF_REVIEW_CHANNEL": REVIEW_CHANNEL,
    }
    result = run_bot(
        "doctor", database_url=f"{backend}:///{tmp_path / 'doctor.db'}", cwd=tmp_path, env=env
    )
    assert result.returncode == 1, result.stderr
    assert "ok    Slack token: bot " in result.stdout
    assert "FAIL  review channel:" in result.stdout
    assert "1 check(s) failed" in result.stdout
