"""``python -m bot sandbox``: Signoff with a local Slack workspace in the browser.

The real server (``create_app``: Bolt, inbox, worker, scheduler, webhooks) runs against a
throwaway SQLite database, with ``SLACK_API_URL`` pointed at the workspace on the same port and
a bot token, signing secret and webhook secret generated for this run. Nothing is stubbed: the
page's clicks are signed Slack requests to ``/slack/events`` and the bundled sample tickets come
in through the signed generic webhook. It listens on 127.0.0.1 only, since whoever reaches the
page can act as any of its people; and it refuses to start when a real Slack is configured, so a
sandbox can never be mistaken for (or post into) a real workspace.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from bot.entrypoints.server import create_app
from bot.sandbox.app import create_sandbox_app, one_port
from bot.sandbox.interactions import Persona, Sandbox, SandboxConfig
from bot.settings import Settings
from bot.store.database import migrate
from bot.tickets import TicketIn

PERSONAS = (
    Persona("U0ANA", "Ana (reviewer)", "reviewer"),
    Persona("U0BEN", "Ben (reviewer)", "reviewer"),
    Persona("U0LEE", "Lee (lead)", "lead"),
    Persona("U0VIC", "Vic (viewer)", "viewer"),
)
HOST = "127.0.0.1"


def refusals(settings: Settings) -> list[str]:
    """Why the sandbox will not start: a real Slack is (even partly) configured."""
    configured = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
            ("SLACK_APP_TOKEN", settings.slack_app_token),
        )
        if value is not None and value.get_secret_value()
    ]
    if not configured:
        return []
    return [
        f"{', '.join(configured)} {'is' if len(configured) == 1 else 'are'} set: the sandbox "
        "only runs without a real Slack (unset them, or run `python -m bot serve`)"
    ]


@dataclass
class SandboxRun:
    """A sandbox ready to serve: the one-port app, the workspace and the bot's settings."""

    app: ASGIApp
    sandbox: Sandbox
    settings: Settings
    url: str


def build_sandbox(settings: Settings, *, port: int, database_url: str) -> SandboxRun:
    """The bot's settings for the local workspace and the app serving both on ``port``."""
    base_url = f"http://{HOST}:{port}"
    config = SandboxConfig(
        bot_token="xoxb-sandbox-" + secrets.token_hex(12),
        signing_secret=secrets.token_hex(16),
        webhook_secret=secrets.token_hex(16),
        base_url=base_url,
        personas=PERSONAS,
    )
    bot_settings = settings.model_copy(
        update={
            "slack_bot_token": SecretStr(config.bot_token),
            "slack_signing_secret": SecretStr(config.signing_secret),
            "slack_app_token": None,
            "slack_api_url": f"{base_url}/api/",
            "review_channel": config.channel,
            "webhook_secret": SecretStr(config.webhook_secret),
            # Keyed like a real deployment, so the audit chain can be verified afterwards.
            "audit_key": SecretStr(secrets.token_urlsafe(48)),
            "reviewers": frozenset(p.id for p in PERSONAS if p.role == "reviewer"),
            "leads": frozenset(p.id for p in PERSONAS if p.role == "lead"),
            "reviewer_group": None,
            "database_url": database_url,
            "action_url": None,
            "audit_channel": None,
            "host": HOST,
            "port": port,
            # Slack allows ~1 post/s per channel; the local workspace has no such limit, and
            # the samples should not take half a minute to appear.
            "slack_posts_per_second": 20.0,
            "slack_post_burst": 5,
            "sweep_interval_seconds": 1.0,
        }
    )
    sandbox = Sandbox(config)
    app = one_port(create_app(bot_settings), create_sandbox_app(sandbox))
    return SandboxRun(app, sandbox, bot_settings, base_url + "/")


async def post_samples(sandbox: Sandbox, tickets: list[TicketIn]) -> int:
    """Send the bundled tickets through the signed webhook; returns how many were accepted.
    Stops quietly when the server goes away (Ctrl+C while they are still arriving)."""
    accepted = 0
    for ticket in tickets:
        try:
            result = await sandbox.post_ticket(ticket.model_dump(mode="json", exclude_none=True))
        except httpx.HTTPError:
            break
        accepted += 1 if result["status"] in (200, 201, 202) else 0
    return accepted


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A migrated SQLite database that is gone when the sandbox stops."""
    workdir = Path(tempfile.mkdtemp(prefix="signoff-sandbox-"))
    url = f"sqlite:///{workdir / 'sandbox.db'}"
    try:
        migrate(url)
        yield url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def serve_sandbox(run: SandboxRun, tickets: list[TicketIn], announce: str) -> None:
    """Serve until interrupted; once the bot is up, print ``announce`` and send the samples."""
    server = uvicorn.Server(
        uvicorn.Config(
            run.app, host=HOST, port=run.settings.port, log_config=None, access_log=False
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has only a flag
        await asyncio.sleep(0.05)
    samples: asyncio.Task[int] | None = None
    if server.started:
        print(announce, flush=True)
        samples = asyncio.create_task(post_samples(run.sandbox, tickets))
    try:
        await serving
    finally:
        if samples is not None:
            samples.cancel()
