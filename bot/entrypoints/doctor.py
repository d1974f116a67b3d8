"""``python -m bot doctor``: check a real configuration end to end and say what to fix.

Why: most failed deployments are configuration, and each mistake shows up late and far from its
cause (a missing scope as an error on the first escalation, a bot outside the review channel as
``not_in_channel`` on the first card). The doctor makes the calls Signoff will make, once, and
prints one line per check with the fix next to each failure:

* Slack: ``auth.test`` with the bot token; the scopes it was granted (Slack's
  ``x-oauth-scopes`` response header) against the manifest's (:mod:`bot.slack.manifest`); the
  bot is a member of the review channel (``conversations.info``, ``is_member``);
* the database is reachable and at the code's migration head;
* the action endpoint (``SIGNOFF_ACTION_URL``) answers HTTP;
* with ``OPENAI_API_KEY``: the configured model answers the classifier's own structured-output
  request, for a made-up ticket with no customer data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import Settings
from bot.slack.manifest import BOT_SCOPES

_TIMEOUT_SECONDS = 10.0
_MANIFEST_HINT = "`python -m bot manifest --url https://your.host` prints the app manifest"
# Slack's errors for a token that is wrong, revoked or from an uninstalled app.
_BAD_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


@dataclass(frozen=True)
class Check:
    """One check's outcome: what was found, and for a failure what to do about it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def run_checks(settings: Settings) -> list[Check]:
    """Every check that applies to ``settings``, in the order a person would fix them."""
    checks = [_configuration(settings)]
    checks += _slack(settings)
    checks.append(_database(settings.database_url))
    if settings.action_url:
        checks.append(_action_url(settings.action_url))
    if settings.openai_api_key is not None:
        checks.append(asyncio.run(_openai(settings)))
    return checks


def report(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)


def _configuration(settings: Settings) -> Check:
    problems = settings.serve_problems()
    if problems:
        return Check("configuration", False, "; ".join(problems), "set them in .env or the env")
    return Check("configuration", True, "everything `serve` needs is set")


def _slack(settings: Settings) -> list[Check]:
    if settings.slack_bot_token is None:
        return [Check("Slack", False, "no bot token", f"set SLACK_BOT_TOKEN; {_MANIFEST_HINT}")]
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(_TIMEOUT_SECONDS),
    )
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        fix = (
            "copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions"
            if error in _BAD_TOKEN
            else "see https://api.slack.com/methods/auth.test for this error"
        )
        return [Check("Slack token", False, f"auth.test failed: {error}", fix)]
    except (SlackClientError, OSError) as exc:
        return [
            Check(
                "Slack token",
                False,
                f"cannot reach {settings.slack_api_url}: {exc.__class__.__name__}",
                "check the network and SLACK_API_URL (normally unset)",
            )
        ]
    checks = [
        Check("Slack token", True, f"bot {auth.get('user_id')} in workspace {auth.get('team')}")
    ]
    checks.append(_scopes({k.lower(): v for k, v in auth.headers.items()}))
    if settings.review_channel:
        checks.append(_review_channel(client, settings.review_channel))
    return checks


def _scopes(headers: dict[str, object]) -> Check:
    header = headers.get("x-oauth-scopes")
    if header is None:
        return Check(
            "Slack scopes",
            False,
            "Slack did not say which scopes the token has",
            "reinstall the app from the manifest",
        )
    text = ",".join(header) if isinstance(header, list) else str(header)
    granted = {scope.strip() for scope in text.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return Check(
            "Slack scopes",
            False,
            f"missing {', '.join(missing)}",
            "add them under OAuth & Permissions → Bot Token Scopes (or recreate the app from "
            f"the manifest: {_MANIFEST_HINT}), then reinstall the app to the workspace",
        )
    return Check("Slack scopes", True, f"all {len(BOT_SCOPES)} scopes of the manifest granted")


def _review_channel(client: WebClient, channel: str) -> Check:
    name = "review channel"
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        if error == "channel_not_found":
            fix = (
                "SIGNOFF_REVIEW_CHANNEL must be a channel ID (C…, from the channel's details), "
                "and a private channel must have the bot invited before it can be seen"
            )
        elif error == "missing_scope":
            fix = "grant channels:read and groups:read, then reinstall the app"
        else:
            fix = "see https://api.slack.com/methods/conversations.info for this error"
        return Check(name, False, f"conversations.info {channel}: {error}", fix)
    except (SlackClientError, OSError) as exc:
        return Check(name, False, f"conversations.info failed: {exc.__class__.__name__}")
    found = info.get("channel") or {}
    label = f"#{found['name']}" if found.get("name") else channel
    if not found.get("is_member"):
        return Check(
            name,
            False,
            f"the bot is not a member of {label}",
            f"invite it: type `/invite @Signoff` in {label}",
        )
    return Check(name, True, f"the bot is a member of {label}")


def _database(url: str) -> Check:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.errors import SchemaOutOfDateError
    from bot.store.database import is_sqlite
    from bot.store.schema_check import require_current_schema

    try:
        require_current_schema(url)
    except SchemaOutOfDateError as exc:
        if is_sqlite(url):  # `serve` and `work` migrate a SQLite file themselves at start
            return Check("database", True, "SQLite, migrated when Signoff starts")
        return Check("database", False, str(exc).split(":", 1)[0], "run `python -m bot migrate`")
    except ModuleNotFoundError as exc:
        return Check(
            "database",
            False,
            f"driver missing ({exc.name})",
            "install PostgreSQL's driver: pip install 'signoff[postgres]'",
        )
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return Check("database", False, f"cannot connect: {reason}", "check DATABASE_URL")
    return Check("database", True, "reachable and at the latest migration")


def _action_url(url: str) -> Check:
    """Any HTTP answer proves the endpoint is reachable (a GET is often refused with 405, which
    is fine: Signoff POSTs); a 5xx or no answer is not."""
    try:
        response = httpx.get(url, timeout=_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Check(
            "action endpoint",
            False,
            f"{url} cannot be reached ({exc.__class__.__name__})",
            "check SIGNOFF_ACTION_URL and that the service is up and reachable from here",
        )
    if response.status_code >= 500:
        return Check(
            "action endpoint",
            False,
            f"{url} answered {response.status_code}",
            "the action service is failing: check its logs",
        )
    return Check("action endpoint", True, f"{url} answers (HTTP {response.status_code})")


async def _openai(settings: Settings) -> Check:
    from bot.errors import AssessmentUnavailableError
    from bot.runtime import build_classifier
    from bot.tickets import Customer, TicketIn

    name = f"OpenAI model {settings.openai_model}"
    # One attempt: the doctor reports a failure rather than waiting out the retries.
    classifier = build_classifier(settings.model_copy(update={"openai_max_retries": 0}))
    ticket = TicketIn(
        id="doctor-check",
        kind="ticket",
        subject="Where is the help centre?",
        body="Hello, could you send me the link to your help centre? Thanks.",
        customer=Customer(name="Doctor Check", email="doctor@example.com"),
    )
    try:
        assessment = await classifier.assess(ticket)
    except AssessmentUnavailableError as exc:
        return Check(
            name,
            False,
            exc.reason,
            "check OPENAI_API_KEY, OPENAI_BASE_URL and that the model supports structured outputs",
        )
    finally:
        await classifier.aclose()
    return Check(name, True, f"answered (category {assessment.category})")
