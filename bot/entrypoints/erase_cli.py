"""``python -m bot erase --customer <email> | --item <id>``: answer a data subject's erasure
request from the command line (docs/privacy.md).

It erases in the database (one transaction, one ``erased`` audit event naming who asked), purges
the database files (``--vacuum-full`` rewrites the touched tables: thorough, but PostgreSQL locks
them meanwhile), and rewrites the Slack cards when ``SLACK_BOT_TOKEN`` is set. It prints counts,
never the data. Exit 1 when an item was still executing and was left: run it again.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from bot.entrypoints.startup import settings_or_exit
from bot.erasure.request import ErasureReport, ErasureTools, erase
from bot.settings import Settings
from bot.slack.audit_anchor_posts import anchor_client
from bot.store.audit_keys import AuditKeys
from bot.store.database import create_engine, session_factory


async def _erase(
    settings: Settings, email: str | None, items: list[str], by: str, full: bool
) -> ErasureReport:
    engine = create_engine(settings.database_url)
    try:
        tools = ErasureTools(
            engine,
            session_factory(engine, AuditKeys.from_settings(settings)),
            client=anchor_client(settings),
        )
        return await erase(
            tools, requested_by=by, via="cli", email=email, item_ids=items, full_purge=full
        )
    finally:
        await engine.dispose()


def erase_command(
    customer: Annotated[
        str | None, typer.Option("--customer", help="The customer's e-mail address.")
    ] = None,
    item: Annotated[
        list[str] | None, typer.Option("--item", help="An item id (repeatable).")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who asked, for the audit log (default: you).")
    ] = None,
    vacuum_full: Annotated[
        bool,
        typer.Option(
            "--vacuum-full", help="Rewrite the touched tables (PostgreSQL locks them meanwhile)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer's personal data (or one item's) everywhere Signoff holds it."""
    items = [i.strip() for i in item or [] if i.strip()]
    email = customer.strip() if customer else None
    if not email and not items:
        typer.echo("Say whose data: --customer <email> and/or --item <id>.", err=True)
        raise typer.Exit(2)
    if email is not None and "@" not in email:
        typer.echo("--customer must be an e-mail address.", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    if not yes:
        typer.confirm("Erase this personal data for good? It cannot be undone", abort=True)
    requested_by = by or f"cli:{getpass.getuser()}"
    report = asyncio.run(_erase(settings, email, items, requested_by, vacuum_full))
    typer.echo(report.summary())
    typer.echo(report.storage)
    if report.busy:
        raise typer.Exit(1)
