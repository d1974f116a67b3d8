"""The ``/signoff`` subcommand registry: a name maps to one async handler.

Adding a subcommand is one decorated function in any module listed in ``SUBCOMMAND_MODULES``::

    from handlers.commands.registry import CommandContext, CommandError, subcommand

    @subcommand("autonomy", usage="autonomy [bucket]", summary="buckets and their evidence")
    async def autonomy(ctx: CommandContext) -> str:
        if not ctx.args:
            raise CommandError("Say which bucket, e.g. `/signoff autonomy refund`.")
        return "…mrkdwn answer…"

A subcommand that got a clearer name lists its old ones in ``renamed``: they keep working for a
while, and each answer to an old name ends with a one-line hint of the new one.

``/signoff stats`` takes extra sections the same way: ``@stats_section`` on an async function
``(ctx, since) -> list[str]`` appends its lines (mrkdwn) to the answer for the chosen period.

The handler gets the runtime, the caller's resolved roles and the words after the subcommand, and
returns the mrkdwn text of the (ephemeral) answer. ``lead_only=True`` makes the registry refuse
non-leads before the handler runs (and audit the refusal); ``CommandError`` becomes the answer as
is; any other exception becomes a plain "something went wrong" line, never a stack trace. The same
handlers serve the slash command, mentions (``@Signoff pending``) and nothing else needs wiring.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.errors import UserInputError
from bot.logging_setup import get_logger
from bot.review.roster import Roles
from bot.runtime import Runtime
from bot.slack.text import safe
from bot.store import audit
from bot.store.database import transaction

log = get_logger(__name__)

# Modules whose import registers subcommands. Another module adds itself here (one line).
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "handlers.commands.queue",
    "handlers.commands.autonomy",
    "handlers.commands.settings",
    "handlers.commands.routes",
    "handlers.commands.away",
    "handlers.commands.erasure",
)


@dataclass(frozen=True)
class CommandContext:
    rt: Runtime
    roles: Roles
    args: tuple[str, ...]
    # Where the command was typed (None for App Home or a DM-less mention); notices go elsewhere.
    channel_id: str | None = None

    @property
    def user_id(self) -> str:
        return self.roles.user_id


class CommandError(UserInputError):
    """A message for the user: bad arguments, nothing found. Shown as is; nothing changed."""


CommandHandler = Callable[[CommandContext], Awaitable[str]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    handler: CommandHandler
    usage: str
    summary: str
    lead_only: bool = False
    # Hidden subcommands work but are not listed in help.
    hidden: bool = False


StatsSection = Callable[[CommandContext, datetime], Awaitable[list[str]]]
STATS_SECTIONS: list[StatsSection] = []


def stats_section(section: StatsSection) -> StatsSection:
    """Add lines to ``/signoff stats`` (e.g. edit rates per category); see the module docstring."""
    STATS_SECTIONS.append(section)
    return section


_REGISTRY: dict[str, Subcommand] = {}
_ALIASES: dict[str, str] = {}
# Old name → current name, for subcommands that were renamed (answered with a hint).
_RENAMED: dict[str, str] = {}
_loaded = False


def subcommand(
    name: str,
    *,
    usage: str,
    summary: str,
    lead_only: bool = False,
    aliases: tuple[str, ...] = (),
    renamed: tuple[str, ...] = (),
    hidden: bool = False,
) -> Callable[[CommandHandler], CommandHandler]:
    """Register ``name``; registering a name twice is a programming error and raises."""

    def register(handler: CommandHandler) -> CommandHandler:
        taken = _REGISTRY.keys() | _ALIASES.keys() | _RENAMED.keys()
        if name in taken or taken & {*aliases, *renamed}:
            raise ValueError(f"/signoff {name} is registered twice")
        _REGISTRY[name] = Subcommand(name, handler, usage, summary, lead_only, hidden)
        for alias in aliases:
            _ALIASES[alias] = name
        for old in renamed:
            _RENAMED[old] = name
        return handler

    return register


def registry() -> Mapping[str, Subcommand]:
    global _loaded
    if not _loaded:
        for module in SUBCOMMAND_MODULES:
            importlib.import_module(module)
        _loaded = True
    return dict(_REGISTRY)


def find(name: str) -> Subcommand | None:
    known = registry()
    return known.get(_ALIASES.get(name) or _RENAMED.get(name, name))


def help_text(roles: Roles | None = None) -> str:
    lines = ["*Signoff commands* (answers are only visible to you)"]
    for entry in sorted(registry().values(), key=lambda s: s.name):
        if entry.hidden:
            continue
        lead = " _(leads)_" if entry.lead_only else ""
        lines.append(f"• `/signoff {entry.usage}` — {entry.summary}{lead}")
    lines.append("Also works by mentioning the bot: `@Signoff pending`.")
    if roles is not None:
        lines.append(f"You are a *{roles.title}* here.")
    return "\n".join(lines)


async def run_signoff_command(
    rt: Runtime, roles: Roles, text: str, *, channel_id: str | None = None
) -> str:
    """Answer one ``/signoff …`` line; never raises."""
    words = text.strip().split()
    name = words[0].lower() if words else "help"
    entry = find(name)
    if entry is None:
        return f"I don't know `{safe(name, 40)}`.\n\n{help_text(roles)}"
    answer = await _run(rt, roles, entry, tuple(words[1:]), channel_id)
    if name in _RENAMED:
        answer += f"\n_`/signoff {name}` is now `/signoff {entry.name}`; the old name will go._"
    return answer


async def _run(
    rt: Runtime,
    roles: Roles,
    entry: Subcommand,
    args: tuple[str, ...],
    channel_id: str | None,
) -> str:
    if entry.lead_only and not roles.is_lead:
        async with transaction(rt.sessions) as session:
            await audit.record(
                session,
                "command_refused",
                actor=roles.user_id,
                command=entry.name,
                why="not a lead",
            )
        return f"Only leads (SIGNOFF_LEADS) can use `/signoff {entry.name}`. Nothing was changed."
    context = CommandContext(rt=rt, roles=roles, args=args, channel_id=channel_id)
    try:
        return await entry.handler(context)
    except CommandError as exc:
        return str(exc)
    except Exception:
        log.exception("slash command failed", subcommand=entry.name, user=roles.user_id)
        return (
            f"Something went wrong running `/signoff {entry.name}`; it has been logged. "
            "Nothing was changed."
        )
