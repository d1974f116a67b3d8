"""``python -m bot audit verify|export|prompt``: for operators and compliance teams."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from bot.entrypoints.startup import settings_or_exit
from bot.store.audit import ChainReport, iter_events, verify_chain
from bot.store.database import create_engine, session_factory
from bot.store.models import PromptText
from bot.store.prompt_store import stored_prompt

audit_app = typer.Typer(help="Check and export the tamper-evident audit log.", no_args_is_help=True)


async def verify_database(url: str) -> ChainReport:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await verify_chain(session)
    finally:
        await engine.dispose()


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
    """Recompute the hash chain; exit 1 naming the first row that does not match."""
    report = asyncio.run(verify_database(settings_or_exit().database_url))
    if report.ok:
        typer.echo(f"audit log intact: {report.rows} rows, hash chain verified")
        return
    typer.echo(f"audit log TAMPERED at row {report.first_bad_id}: {report.problem}", err=True)
    raise typer.Exit(1)


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
