"""Issue 14: configuration fails closed. A blank secret is an unset one, a short shared secret
stops start-up naming it, an action endpoint needs its own secret, durations must be finite and
sane, and no request signed with an empty key is ever accepted.

Start-up is checked the way an operator meets it (``python -m bot serve`` in a subprocess with
only the environment given: exit 2 and one line naming the setting); requests are real signed
HTTP requests to the running server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bot_cli import run_bot
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.slack_api import FakeSlack
from tests.support.server_harness import (
    LEAD,
    REVIEWER,
    RunningServer,
    slash_command,
)
from tests.support.signatures import generic_headers, slack_headers
from tests.support.slack_review import sqlite_server
from tests.support.ticket_factory import password_ticket

GOOD = "0123456789abcdef0123456789abcdef"
SERVE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": GOOD,
    "SIGNOFF_REVIEW_CHANNEL": "C0REVIEW",
    "SIGNOFF_WEBHOOK_SECRET": GOOD,
}


def _serve(tmp_path: Path, **env: str) -> tuple[int, str]:
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    done = run_bot("serve", database_url=url, env={**SERVE_ENV, **env})
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_SIGNING_SECRET",
        "SIGNOFF_WEBHOOK_SECRET",
        "SIGNOFF_ACTION_SECRET",
        "SIGNOFF_METRICS_TOKEN",
        "ZENDESK_WEBHOOK_SECRET",
        "INTERCOM_CLIENT_SECRET",
        "HUBSPOT_CLIENT_SECRET",
        "STRIPE_WEBHOOK_SECRET",
    ],
)
def test_a_short_shared_secret_stops_start_up_naming_it(tmp_path: Path, name: str) -> None:
    code, output = _serve(tmp_path, **{name: "fifteen-bytes!!"})
    assert code == 2, output
    assert f"{name}: " in output and "shorter than 16 bytes" in output
    assert "fifteen-bytes!!" not in output  # the message names the setting, never the value
    assert "Traceback" not in output


def test_a_blank_signing_secret_is_unset_and_start_up_says_so(tmp_path: Path) -> None:
    code, output = _serve(tmp_path, SLACK_SIGNING_SECRET="   ")
    assert code == 2, output
    assert "SLACK_SIGNING_SECRET is not set" in output


def test_an_action_url_without_its_own_secret_stops_start_up(tmp_path: Path) -> None:
    code, output = _serve(tmp_path, SIGNOFF_ACTION_URL="http://127.0.0.1:9/act")
    assert code == 2, output
    assert "SIGNOFF_ACTION_URL is set but SIGNOFF_ACTION_SECRET is not" in output
    assert "never SIGNOFF_WEBHOOK_SECRET" in output
    # `work` (the worker process) refuses the same way.
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    worker = run_bot(
        "work",
        database_url=url,
        env={"SIGNOFF_ACTION_URL": "http://127.0.0.1:9/act", "SIGNOFF_WEBHOOK_SECRET": GOOD},
    )
    assert (
        worker.returncode == 2 and "SIGNOFF_ACTION_SECRET is not" in worker.stdout + worker.stderr
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SIGNOFF_ESCALATE_AFTER", "inf", "not a finite duration"),
        ("SIGNOFF_ESCALATE_AFTER", "1e400", "not a finite duration"),
        ("SIGNOFF_EXPIRE_AFTER", "99999999999d", "longer than 3650d"),
        ("SIGNOFF_EXPIRE_AFTER", "nan", "not a finite duration"),
        ("SIGNOFF_SWEEP_INTERVAL", "inf", "finite number"),
        ("SIGNOFF_LEASE_SECONDS", "1e300", "less than or equal to"),
    ],
)
def test_a_duration_that_is_not_finite_or_too_long_stops_start_up(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    code, output = _serve(tmp_path, **{name: value})
    assert code == 2, output
    assert f"{name}: " in output and says in output
    assert "Traceback" not in output


# --- real signed requests -------------------------------------------------------------------


@pytest.fixture
def blank_secrets_server(
    tmp_path: Path, slack: FakeSlack, sink: HttpSink
) -> Iterator[RunningServer]:
    """A server whose .env left both secrets blank (a Socket Mode app token is what lets it
    start without a signing secret)."""
    with sqlite_server(
        tmp_path,
        slack,
        sink,
        slack_signing_secret="  ",
        webhook_secret="",
        slack_app_token=None,
    ) as running:
        yield running


def test_requests_signed_with_an_empty_key_are_never_accepted(
    blank_secrets_server: RunningServer,
) -> None:
    server = blank_secrets_server
    assert server.settings.slack_signing_secret is None and server.settings.webhook_secret is None
    body = json.dumps(password_ticket()).encode()
    forged_ticket = server.http.post(
        f"{server.url}/webhooks/generic",
        content=body,
        headers={"Content-Type": "application/json", **generic_headers("", body)},
    )
    assert forged_ticket.status_code in (401, 503)
    assert server.slack is not None
    form = slash_command("pause", user=LEAD, response_url=server.slack.response_url("forged"))
    encoded = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    forged_pause = server.http.post(
        f"{server.url}/slack/events",
        content=encoded,
        headers={"Content-Type": "application/x-www-form-urlencoded", **slack_headers("", encoded)},
    )
    assert forged_pause.status_code == 401
    time.sleep(0.3)
    assert server.slack.calls("response_url:forged") == []


# --- durations people type in Slack ------------------------------------------------------------


def _ask(server: RunningServer, text: str, name: str, *, user: str = REVIEWER) -> str:
    assert server.slack is not None
    response = server.post_slack(
        slash_command(text, user=user, response_url=server.slack.response_url(name))
    )
    assert response.status_code == 200
    return str(server.slack.wait_for(f"response_url:{name}")[0].params["text"])


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("stats 9999999d", "longer than 3650d"),
        ("stats inf", "not a finite duration"),
        ("pending older:1e400", "not a finite duration"),
        ("pending older:99999999999d", "longer than 3650d"),
    ],
)
def test_an_absurd_duration_in_a_command_gets_a_clear_answer(
    one_db_server: RunningServer, command: str, says: str
) -> None:
    answer = _ask(one_db_server, command, command.replace(" ", "_").replace(":", "_"))
    assert says in answer
    assert "something went wrong" not in answer.lower()


@pytest.mark.parametrize("value", ["inf", "1e400", "99999999999d", "nan"])
def test_a_lead_setting_an_absurd_duration_is_refused_clearly(
    one_db_server: RunningServer, value: str
) -> None:
    answer = _ask(one_db_server, f"set escalate_after {value}", f"set_{value}", user=LEAD)
    assert "escalate_after must be a duration" in answer
    assert "something went wrong" not in answer.lower()
