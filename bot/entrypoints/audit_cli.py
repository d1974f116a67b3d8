"""``python -m bot audit verify|export|prompt|anchor``: for operators and compliance teams.

``verify`` checks every row against ``SIGNOFF_AUDIT_KEY`` (and ``SIGNOFF_AUDIT_PREVIOUS_KEYS``)
and against the newest anchors it can read outside the database: the anchor file, and the bot's
own anchor messages in Slack when a bot token is configured. It exits 1 naming the first bad row
or the missing tail, and says plainly when the chain is unkeyed or no anchor could be read.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.entrypoints.startup import settings_or_exit
from bot.pipeline.audit_anchoring import Published, publish_anchor
from bot.settings import Settings
from bot.slack.audit_anchor_posts import anchor_channel, anchor_client, read_slack_anchors
from bot.store.audit import iter_events
from bot.store.audit_anchors import Anchor, read_anchor_file
from bot.store.audit_keys import AuditKeys
from bot.store.audit_verify import ChainReport, verify_chain
from bot.store.column_types import utcnow
from bot.store.database import create_engine, session_factory
from bot.store.models import PromptText
from bot.store.prompt_store import stored_prompt

audit_app = typer.Typer(help="Check and export the tamper-evident audit log.", no_args_is_help=True)


async def read_anchors(settings: Settings, notes: list[str]) -> list[Anchor]:
    """Every anchor readable outside the database; what could not be read goes to ``notes``."""
    anchors: list[Anchor] = []
    path = settings.audit_anchor_file
    if path is not None:
        try:
            found = await asyncio.to_thread(read_anchor_file, path)
            anchors.extend(found)
            notes.append(f"anchor file {path}: {len(found)} anchor(s) read")
        except OSError as exc:
            notes.append(f"WARNING: anchor file {path} could not be read: {exc}")
    client, channel = anchor_client(settings), anchor_channel(settings)
    if client is not None and channel:
        try:
            found = await read_slack_anchors(client, channel)
            anchors.extend(found)
            notes.append(f"Slack channel {channel}: {len(found)} anchor(s) read")
        except (SlackApiError, SlackClientError) as exc:
            notes.append(f"WARNING: Slack anchors in {channel} could not be read: {exc}")
    if not anchors:
        notes.append(
            "WARNING: no anchor could be read: deleted tail rows cannot be detected (set "
            "SIGNOFF_AUDIT_ANCHOR_FILE or SIGNOFF_AUDIT_CHANNEL)"
        )
    return anchors


async def verify_database(settings: Settings, notes: list[str]) -> ChainReport:
    keys = AuditKeys.from_settings(settings)
    if keys.current is None:
        notes.append(
            "WARNING: SIGNOFF_AUDIT_KEY is not set: unkeyed rows can be rewritten and re-hashed "
            "by anyone with database access, and keyed rows cannot be checked"
        )
    anchors = await read_anchors(settings, notes)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await verify_chain(session, keys, anchors)
    finally:
        await engine.dispose()


def _key_line(report: ChainReport) -> str:
    if report.keyed_from is None:
        return "WARNING: the chain is unkeyed (no row is sealed with SIGNOFF_AUDIT_KEY)"
    if report.keyed_from == 1:
        return "every row is sealed with the audit key (HMAC-SHA256)"
    return (
        f"rows before {report.keyed_from} are unkeyed (written before the key was set); "
        f"rows from {report.keyed_from} are sealed with the audit key (HMAC-SHA256)"
    )


async def export_database(url: str, out: TextIO) -> int:
    engine = create_engine(url)
    count = 0
    try:
        async with session_factory(engine)() as session:
            async for row in iter_events(session):
                out.write(json.dumps(row.model_dump(mode="json"), sort_keys=True) + "\n")
                count += 1
    finally:
        await engine.dispose()
    return count


@audit_app.command("verify")
def verify_command() -> None:
    """Check every row's link and HMAC and the newest anchors; exit 1 naming the first bad row
    or the missing tail."""
    notes: list[str] = []
    report = asyncio.run(verify_database(settings_or_exit(), notes))
    for note in notes:
        typer.echo(note, err=note.startswith("WARNING"))
    if report.ok:
        typer.echo(_key_line(report), err=report.keyed_from is None)
        typer.echo(
            f"audit log intact: {report.rows} rows in {report.chains} chain(s), hash chain "
            f"verified, {report.anchors_checked} anchor(s) matched"
        )
        return
    where = f" at row {report.first_bad_id}" if report.first_bad_id is not None else ""
    typer.echo(f"audit log TAMPERED{where}: {report.problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_command() -> None:
    """Publish every chain's head now to SIGNOFF_AUDIT_CHANNEL and SIGNOFF_AUDIT_ANCHOR_FILE."""
    settings = settings_or_exit()
    if not (settings.audit_channel and settings.slack_bot_token) and not (
        settings.audit_anchor_file
    ):
        typer.echo(
            "Nowhere to publish: set SIGNOFF_AUDIT_ANCHOR_FILE, or SIGNOFF_AUDIT_CHANNEL with "
            "SLACK_BOT_TOKEN",
            err=True,
        )
        raise typer.Exit(2)
    published = asyncio.run(_anchor(settings))
    if published.anchor is None:
        typer.echo("the audit log is empty: nothing to anchor")
        return
    anchor = published.anchor
    for failure in published.failures:
        typer.echo(f"not published to {failure}", err=True)
    typer.echo(
        f"anchored {len(anchor.heads)} chain head(s) (newest row {anchor.row_id}, {anchor.count} "
        f"rows) to " + (", ".join(published.targets) or "nowhere")
    )
    if published.failures:
        raise typer.Exit(1)


async def _anchor(settings: Settings) -> Published:
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine, AuditKeys.from_settings(settings))
        published = await publish_anchor(sessions, settings, anchor_client(settings), now=utcnow())
        assert published is not None  # no claim asked for: always an answer
        return published
    finally:
        await engine.dispose()


@audit_app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write every audit row as JSON Lines, oldest first, hashes included."""
    url = settings_or_exit().database_url
    if output is None:
        count = asyncio.run(export_database(url, sys.stdout))
    else:
        with output.open("w", encoding="utf-8") as handle:
            count = asyncio.run(export_database(url, handle))
    typer.echo(f"exported {count} audit rows", err=True)


async def prompt_in_database(url: str, sha256: str) -> PromptText | None:
    engine = create_engine(url)
    try:
        return await stored_prompt(session_factory(engine), sha256)
    finally:
        await engine.dispose()


@audit_app.command("prompt")
def prompt_command(
    sha256: Annotated[str, typer.Argument(help="An item's or audit row's prompt_sha256.")],
) -> None:
    """Print the exact prompt (system prompt, user preamble, answer schema) behind a hash."""
    prompt = asyncio.run(
        prompt_in_database(settings_or_exit().database_url, sha256.strip().lower())
    )
    if prompt is None:
        typer.echo(f"no prompt with sha256 {sha256} is stored", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(prompt.model_dump(mode="json"), indent=2))
