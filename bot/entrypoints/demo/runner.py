"""The local demo: bundled tickets through the real pipeline, on SQLite, with no Slack.

It uses the same ``ingest`` the webhook uses and the same worker ``serve`` runs, so what the table
shows is what production would decide with the embedded heuristic classifier.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlmodel import col

from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.worker import Worker
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.store.database import migrate
from bot.store.ingest import ingest
from bot.store.item_states import ItemState
from bot.store.models import Item
from bot.tickets import TicketIn

_OUTCOME = {
    ItemState.EXECUTED: "[green]auto-executed[/green]",
    ItemState.PENDING_REVIEW: "[yellow]needs a human[/yellow]",
    ItemState.FAILED: "[red]failed[/red]",
}

NEXT_STEPS = """\
[bold]Connect a real Slack workspace[/bold] (put these in [cyan].env[/cyan] or the environment):
  1. Create the app from [cyan]manifest.yml[/cyan] (api.slack.com/apps → "From a manifest"),
     install it, and copy:
       SLACK_BOT_TOKEN=xoxb-…          (OAuth & Permissions → Bot User OAuth Token)
       SLACK_SIGNING_SECRET=…          (Basic Information → Signing Secret)
       SLACK_APP_TOKEN=xapp-…          (optional: Socket Mode instead of a public URL)
  2. SIGNOFF_REVIEW_CHANNEL=C…         channel ID where review cards are posted (invite the bot)
  3. SIGNOFF_REVIEWERS=U…,U…           Slack user IDs allowed to approve or reject
     SIGNOFF_LEADS=U…                  team leads (may also decide)
  4. SIGNOFF_WEBHOOK_SECRET=…          shared secret for signed tickets at POST /webhooks/generic
  5. SIGNOFF_ACTION_URL=https://…      where approved actions are POSTed (otherwise only logged)
  Optional: OPENAI_API_KEY (LLM drafts instead of the heuristic), DATABASE_URL (PostgreSQL).
Then run [bold]python -m bot serve[/bold] (or [bold]make run[/bold] again)."""


def load_sample_tickets() -> list[TicketIn]:
    raw = (
        resources.files("bot.entrypoints.demo")
        .joinpath("sample_tickets.json")
        .read_text(encoding="utf-8")
    )
    return [TicketIn.model_validate(entry) for entry in json.loads(raw)]


async def run_demo(
    settings: Settings, *, keep: bool = False, console: Console | None = None, as_json: bool = False
) -> list[Item]:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="signoff-demo-"))
    demo_settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{workdir / 'demo.db'}",
            "slack_bot_token": None,
            "slack_app_token": None,
            "review_channel": None,
            "action_url": None,
        }
    )
    try:
        migrate(demo_settings.database_url)
        async with open_runtime(demo_settings) as rt:
            await seed_thresholds(rt.sessions, demo_settings)
            for ticket in load_sample_tickets():
                await ingest(rt.sessions, "demo", ticket)
            await Worker(rt).drain()
            async with rt.sessions() as session:
                query = select(Item).order_by(col(Item.external_id))
                items = list((await session.execute(query)).scalars())
            classifier = rt.classifier.name
        if as_json:
            # out(): no wrapping, markup or colour, so the JSON parses whatever the terminal.
            console.out(json.dumps([_decision(i) for i in items], indent=2), highlight=False)
        else:
            _print_report(console, items, classifier)
        if keep:
            console.print(f"Demo database kept at [cyan]{workdir / 'demo.db'}[/cyan]")
        return items
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _decision(item: Item) -> dict[str, object]:
    """One ticket's outcome, in the words of the table, for scripts."""
    return {
        "ticket": item.external_id,
        "subject": item.subject,
        "category": item.category,
        "risk": item.risk_level,
        "decision": "auto-executed"
        if item.state == ItemState.EXECUTED
        else "needs a human"
        if item.state == ItemState.PENDING_REVIEW
        else item.state,
        "why": [*([item.route_why] if item.route_why else []), *item.reasons],
    }


def _print_report(console: Console, items: list[Item], classifier: str) -> None:
    label = "embedded heuristic, no LLM configured" if classifier == "heuristic" else "LLM"
    table = Table(
        title=f"Signoff demo — {len(items)} sample tickets, classifier: {classifier} ({label})"
    )
    for column in ("ticket", "subject", "category", "risk", "decision", "why"):
        table.add_column(column, overflow="fold")
    for item in items:
        why = item.route_why or ""
        if item.reasons:
            why = f"{why}; {item.reasons[-1]}" if why else item.reasons[-1]
        table.add_row(
            item.external_id,
            item.subject[:40],
            item.category or "?",
            item.risk_level or "?",
            _OUTCOME.get(ItemState(item.state), item.state),
            why,
        )
    console.print(table)
    auto = sum(1 for i in items if i.state == ItemState.EXECUTED)
    review = sum(1 for i in items if i.state == ItemState.PENDING_REVIEW)
    console.print(
        f"[bold]{auto}[/bold] auto-executed (action only logged: no SIGNOFF_ACTION_URL), "
        f"[bold]{review}[/bold] would be posted to Slack for review.\n"
    )
    console.print(NEXT_STEPS)
