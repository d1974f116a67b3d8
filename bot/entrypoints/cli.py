"""``python -m bot``: serve, work, sandbox, demo, migrate, audit, erase, eval.

With no command it does the helpful thing: serve when Slack is configured, otherwise open the
local workspace in the browser (the sandbox) so the product can be tried at once. Configuration
problems print one line each and exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from bot.entrypoints.startup import (
    EXIT_CONFIG,
    refuse,
    settings_or_exit,
    vendor_settings_or_exit,
)
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.vendors.settings import VendorSettings

app = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__)


def _register_subcommands() -> None:
    from bot.entrypoints.audit_cli import audit_app
    from bot.entrypoints.erase_cli import erase_command

    app.add_typer(audit_app, name="audit")
    app.command("erase")(erase_command)


def _configure_logging(settings: Settings, vendors: VendorSettings | None = None) -> None:
    """Every secret Signoff knows, core and vendor, goes to the scrubber before the first log."""
    from bot.logging_setup import configure_logging

    secrets = settings.secret_values() + (vendors.secret_values() if vendors else [])
    configure_logging(settings.log_level, secrets, json=settings.log_format == "json")


@app.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """Serve when Slack is configured; otherwise start the local workspace (the sandbox)."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.entrypoints.sandbox import refusals

    settings = settings_or_exit()
    if settings.slack_configured or refusals(settings):
        serve()  # a half-configured Slack gets serve's list of what is missing
    else:
        sandbox(port=None)


# The cyclic collector's first threshold (CPython's default is 700 allocations): see below.
GC_YOUNG_THRESHOLD = 50_000


def _freeze_startup_heap() -> None:
    """Build the PII analyzer, then exempt everything loaded so far from the cyclic garbage
    collector: those objects (60,000 in a plain `serve`: pydantic, SQLAlchemy…) live as long as the
    process, and every full collection scanned them again, 120-180 ms with the event loop
    stopped: the slowest acks under load.

    Then collect less often. With CPython's defaults, `serve` under 50 clients clicking ran 21
    full collections in 80 s, up to 73 ms each with the loop stopped (measured with
    ``gc.callbacks``): the tail of the ack latencies. Nearly everything a request allocates is
    freed by reference counting; only cycles wait for the collector, so a young generation of
    50,000 objects costs a few megabytes at most and makes full collections rare."""
    import gc

    from bot.assess.pii_redaction import warm_up

    warm_up()  # cached: the lifespan's own warm-up then returns at once
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


@app.command()
def serve() -> None:
    """Start the HTTP server (Slack events, webhooks, health) with its worker and scheduler."""
    import uvicorn

    from bot.entrypoints.server import create_app
    from bot.errors import SchemaOutOfDateError

    settings = settings_or_exit()
    problems = settings.serve_problems()
    if problems:
        refuse(
            "Signoff cannot serve yet:",
            problems,
            "Run `python -m bot demo` to try it locally without Slack.",
        )
    vendors = vendor_settings_or_exit()
    _configure_logging(settings, vendors)
    _freeze_startup_heap()
    try:
        uvicorn.run(
            create_app(settings, vendors=vendors),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    except SchemaOutOfDateError as exc:
        typer.echo(f"Signoff cannot serve: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def work(
    port: Annotated[
        int | None,
        typer.Option(
            envvar="PORT",
            min=1,
            max=65535,
            help="Also serve /healthz and /metrics on this port (on HOST); default: $PORT if set.",
        ),
    ] = None,
) -> None:
    """Run only the worker and its sweeps: scale these separately from `serve`. Without a port
    there is no HTTP at all; with one, health and metrics only (no Slack, no webhooks)."""
    from bot.errors import HttpStartError, SchemaOutOfDateError

    settings = settings_or_exit()
    problems = settings.action_problems()
    if problems:
        refuse("Signoff cannot work yet:", problems)
    vendors = vendor_settings_or_exit()
    _configure_logging(settings, vendors)
    try:
        asyncio.run(_work(settings, vendors, port))
    except (SchemaOutOfDateError, HttpStartError) as exc:
        typer.echo(f"Signoff cannot work: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


async def _work(settings: Settings, vendors: VendorSettings, port: int | None) -> None:
    import signal

    from bot.assess.pii_redaction import warm_up
    from bot.entrypoints.background import run_worker_process
    from bot.lead_settings.seed import seed_thresholds
    from bot.runtime import open_runtime
    from bot.store.schema_check import ensure_schema

    await asyncio.to_thread(ensure_schema, settings.database_url)
    await asyncio.to_thread(warm_up)  # the PII analyzer, before the first card or LLM call
    _freeze_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_runtime(settings, vendors=vendors) as rt:
        await seed_thresholds(rt.sessions, settings)
        await run_worker_process(rt, stop, http_port=port)


@app.command()
def sandbox(
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port on 127.0.0.1 (default: $PORT, else 3000)."),
    ] = None,
) -> None:
    """A local Slack workspace in the browser: the real bot, its cards, buttons, modals,
    /signoff and App Home, with no Slack app. Refused when a real Slack is configured."""
    from bot.entrypoints.demo.runner import load_sample_tickets
    from bot.entrypoints.sandbox import build_sandbox, refusals, serve_sandbox, throwaway_database

    settings = settings_or_exit()
    problems = refusals(settings)
    if problems:
        typer.echo("The sandbox will not start:", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_CONFIG)
    settings = settings.model_copy(update={"log_level": "WARNING"})
    _configure_logging(settings)
    tickets = load_sample_tickets()
    with throwaway_database() as database_url:
        run = build_sandbox(settings, port=port or settings.port, database_url=database_url)
        _configure_logging(run.settings)  # scrub the secrets generated for this run too
        announce = (
            f"Signoff sandbox: open {run.url} (a local Slack workspace; no Slack app needed)\n"
            f"  {len(tickets)} sample tickets are arriving in #{run.sandbox.config.channel_name}."
            " Act as a reviewer, a lead or a viewer. Ctrl+C stops it and deletes its data.\n"
            "  To connect a real Slack workspace, see README.md (the table of what the samples"
            " decide: python -m bot demo)."
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_sandbox(run, tickets, announce))


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Keep the demo database and print its path.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the decisions as JSON (for scripts).")
    ] = False,
) -> None:
    """Run the bundled sample tickets through the real pipeline on a throwaway SQLite database
    and print what was decided for each."""
    from bot.entrypoints.demo.runner import run_demo

    settings = settings_or_exit()
    _configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    asyncio.run(run_demo(settings, keep=keep, as_json=as_json))


@app.command()
def migrate() -> None:
    """Apply database migrations (the release step on PostgreSQL)."""
    from bot.store.database import migrate as run_migrations

    settings = settings_or_exit()
    _configure_logging(settings)
    run_migrations(settings.database_url)
    typer.echo("database is up to date")


@app.command("rebuild-stats")
def rebuild_stats() -> None:
    """Recompute the hourly tallies `/signoff stats` reads from the items and decisions (after
    restoring a database from a copy, or rows written around Signoff)."""
    from sqlalchemy import create_engine

    from bot.store.database import sync_url
    from bot.store.stat_tally import rebuild

    settings = settings_or_exit()
    _configure_logging(settings)
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.begin() as connection:
            rows = rebuild(connection)
    finally:
        engine.dispose()
    typer.echo(f"stats rebuilt: {rows} hourly tallies")


@app.command()
def doctor() -> None:
    """Check a real configuration (Slack token, scopes and channel, database, action endpoint,
    OpenAI model) and print what to fix; exit status 1 when a check fails."""
    from bot.entrypoints.doctor import report, run_checks

    settings = settings_or_exit()
    _configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    checks = run_checks(settings)
    typer.echo(report(checks))
    raise typer.Exit(0 if all(check.ok for check in checks) else 1)


@app.command()
def manifest(
    url: Annotated[
        str | None, typer.Option(help="Public HTTPS URL Slack will call (…/slack/events).")
    ] = None,
    socket_mode: Annotated[
        bool, typer.Option(help="No public URL: events arrive over Socket Mode.")
    ] = False,
) -> None:
    """Print the Slack app manifest (JSON, which Slack's "From an app manifest" accepts)."""
    import json

    from bot.slack.manifest import SOCKET_MODE_APP_TOKEN_SCOPE, build_manifest

    if not socket_mode and not (url and url.startswith("https://")):
        typer.echo(
            "give --url https://your.host (Slack calls HTTPS only), or --socket-mode",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG)
    typer.echo(json.dumps(build_manifest(url, socket_mode=socket_mode), indent=2))
    if socket_mode:
        typer.echo(
            f"Socket Mode: under Basic Information → App-Level Tokens, create a token with the "
            f"{SOCKET_MODE_APP_TOKEN_SCOPE} scope and set it as SLACK_APP_TOKEN (xapp-…).",
            err=True,
        )


@app.command("env-example")
def env_example() -> None:
    """Print .env.example: every setting with its default, generated from the settings models."""
    from bot.entrypoints.env_example import render

    typer.echo(render(), nl=False)


@app.command("eval")
def evaluate_routing(
    dataset: Annotated[
        Path | None,
        typer.Option(help="BANKING77 train.csv (default: ../shared/datasets/banking77/train.csv)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N messages.")] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    rows: Annotated[
        str,
        typer.Option(help="all, or even (the rows the rules were tuned on) / odd (held out)."),
    ] = "all",
) -> None:
    """Route real customer messages (BANKING77) with the embedded classifier and report how many
    high-risk ones would run without a human (goal: none) and how many informational ones
    would be answered automatically."""
    from bot.entrypoints.routing_eval import ROW_SELECTIONS, RowSelection, run

    if rows not in ROW_SELECTIONS:
        typer.echo("--rows must be all, even or odd", err=True)
        raise typer.Exit(EXIT_CONFIG)
    raise typer.Exit(run(dataset, limit=limit, output=output, rows=cast(RowSelection, rows)))


def _load_dotenv() -> None:
    """Put ``.env`` (in the working directory) into the process environment before anything
    reads it. pydantic-settings reads ``.env`` for the settings models by itself, but options
    read from the environment (``work``'s port from ``PORT``) and child processes see only the
    process environment. Variables already set win, as they do in pydantic-settings."""
    from dotenv import load_dotenv

    load_dotenv(Path(".env"), override=False)


def main() -> None:
    _load_dotenv()
    _register_subcommands()
    app(prog_name="python -m bot")


if __name__ == "__main__":
    main()
