"""Settings: every problem reported at once, one line each; hosting-style URLs accepted."""

from __future__ import annotations

import pytest

from bot.errors import ConfigurationError
from bot.settings import Settings, load_settings
from bot.store.database import async_url, sync_url
from tests.support.server_harness import make_settings


def test_defaults_run_the_demo_on_sqlite() -> None:
    settings = make_settings()
    assert settings.database_url == "sqlite:///signoff.db"
    assert not settings.slack_configured
    assert settings.port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"


def test_lists_and_urls_are_normalised() -> None:
    settings = make_settings(reviewers=" U1, U2 ,,U3", slack_api_url="http://127.0.0.1:9/api")
    assert settings.reviewers == frozenset({"U1", "U2", "U3"})
    assert settings.slack_api_url.endswith("/api/")


@pytest.mark.parametrize(
    ("given", "asynchronous", "synchronous"),
    [
        (
            "postgres://u:p@db:5432/app",
            "postgresql+psycopg://u:p@db:5432/app",
            "postgresql+psycopg://u:p@db:5432/app",
        ),
        ("postgresql://u@db/app", "postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///signoff.db", "sqlite+aiosqlite:///signoff.db", "sqlite:///signoff.db"),
    ],
)
def test_database_url_forms(given: str, asynchronous: str, synchronous: str) -> None:
    assert make_settings(database_url=given).database_url == given
    assert async_url(given) == asynchronous
    assert sync_url(given) == synchronous


def test_every_problem_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("SIGNOFF_AUTO_MAX_RISK", "extreme")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("PORT:") for p in problems)
    assert any(p.startswith("DATABASE_URL:") and "postgres" in p for p in problems)
    assert any(p.startswith("SIGNOFF_AUTO_MAX_RISK:") for p in problems)


def test_serve_problems_name_the_missing_settings() -> None:
    problems = make_settings().serve_problems()
    assert [p.split()[0] for p in problems] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SIGNOFF_REVIEW_CHANNEL",
    ]
    socket_mode = make_settings(
        slack_bot_token="xoxb-1", slack_app_token="xapp-1", review_channel="C1"
    )
    assert socket_mode.serve_problems() == [] and socket_mode.socket_mode


def test_secrets_are_never_in_repr_and_are_known_to_the_scrubber() -> None:
    settings = make_settings(
        slack_bot_token="xoxb-very-secret", webhook_secret="whsec-1234567890abcdef"
    )
    assert "xoxb-very-secret" not in repr(settings)
    assert set(settings.secret_values()) == {"xoxb-very-secret", "whsec-1234567890abcdef"}


def test_env_file_is_read(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"  # type: ignore[operator]
    env.write_text("SIGNOFF_REVIEW_CHANNEL=C0FROMFILE\nSIGNOFF_LEADS=U9\n")
    monkeypatch.delenv("SIGNOFF_REVIEW_CHANNEL", raising=False)
    settings = Settings(_env_file=str(env))
    assert settings.review_channel == "C0FROMFILE"
    assert settings.leads == frozenset({"U9"})


def test_the_lease_must_outlast_the_slowest_llm_call() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(
            _env_file=None,
            OPENAI_API_KEY="sk-x",
            OPENAI_TIMEOUT="30",
            OPENAI_MAX_RETRIES="2",
            SIGNOFF_LEASE_SECONDS="90",
        )
    assert refused.value.problems == [
        "settings: Value error, SIGNOFF_LEASE_SECONDS (90) must be at least "
        "OPENAI_TIMEOUT * (OPENAI_MAX_RETRIES + 1) + 15 = 105"
    ]
    assert load_settings(_env_file=None, OPENAI_API_KEY="sk-x").lease_seconds == 90
    assert load_settings(_env_file=None, SIGNOFF_LEASE_SECONDS="2").lease_seconds == 2


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://", "needs a host and a database name"),
        ("postgresql:nothing", "must start with"),
        ("postgres+psycopg://u@db/app", "postgres+psycopg is not supported"),
        ("postgresql+mysqldb://u@db/app", "postgresql+mysqldb is not supported"),
        ("sqlite", "must start with"),
    ],
)
def test_a_database_url_the_engine_cannot_use_is_one_clear_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, DATABASE_URL=url)
    [line] = caught.value.problems
    assert line.startswith("DATABASE_URL:") and problem in line


def test_an_action_endpoint_without_a_secret_is_refused() -> None:
    unsigned = make_settings(action_url="http://127.0.0.1:9/act")
    [problem] = unsigned.action_problems()
    assert problem.startswith("SIGNOFF_ACTION_URL is set but SIGNOFF_ACTION_SECRET is not")
    assert problem in unsigned.serve_problems()
    # The webhook secret is no fallback: every ticket source holds it.
    borrowed = make_settings(action_url="http://x/act", webhook_secret="s" * 16)
    assert borrowed.action_problems() == [problem] and borrowed.action_signing_secret is None
    own = make_settings(action_url="http://x/act", action_secret="a" * 16)
    assert own.action_problems() == []


def test_the_database_password_is_a_secret_for_the_log_scrubber() -> None:
    settings = make_settings(database_url="postgres://signoff:hunter2-db@db:5432/app")
    assert "hunter2-db" in settings.secret_values()
