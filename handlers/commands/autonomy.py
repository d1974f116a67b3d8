"""``/signoff autonomy`` and ``/signoff edits``: the evidence behind how much Signoff does on its
own, and the leads' pins on it (setting changes are ``handlers.commands.settings``).

The logic lives in ``bot.autonomy.report``, ``bot.autonomy.evidence``, ``bot.stats.edit_stats`` and
``bot.lead_settings.dry_run``; this module only parses words and words back.
"""

from __future__ import annotations

from datetime import datetime

from bot.autonomy.evidence import set_pin
from bot.autonomy.report import autonomy_overview, bucket_report
from bot.autonomy.routing import catch_up
from bot.lead_settings.autonomy_settings import POLICY_KEYS, load_learning_settings
from bot.lead_settings.registry import canonical_key
from bot.slack.channel_notices import notify_channel
from bot.slack.text import safe
from bot.stats.edit_stats import (
    edit_report,
    edit_stats,
    edit_stats_lines,
    reject_reason_lines,
    reject_reasons,
)
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.stat_tally import Metric, summed
from handlers.commands.registry import CommandContext, CommandError, stats_section, subcommand
from handlers.commands.settings import change_from_slack
from policies.autonomy import BucketKey, Pin

_PIN_WORDS = {"review": Pin.ALWAYS_REVIEW, "always-review": Pin.ALWAYS_REVIEW, "allow": Pin.ALLOW}
_LEAD_VERBS = frozenset({"pin", "unpin", "set"})
# Week columns shown per category in /signoff stats.
MAX_STATS_WEEKS = 6


def _bucket(word: str) -> str:
    try:
        return str(BucketKey.parse(word))
    except ValueError as exc:
        raise CommandError(
            f"{safe(str(exc), 200)}. Buckets look like `billing/refund/low/25-50`; "
            "`/signoff autonomy` lists them."
        ) from None


async def _refuse_non_lead(ctx: CommandContext, verb: str) -> str:
    async with transaction(ctx.rt.sessions) as session:
        await audit.record(
            session,
            "command_refused",
            actor=ctx.user_id,
            command=f"autonomy {verb}",
            why="not a lead",
        )
    return f"Only leads (SIGNOFF_LEADS) can `{verb}` buckets. Nothing was changed."


@subcommand(
    "autonomy",
    usage="autonomy [bucket|category] | pin <bucket> review|allow | unpin <bucket> | "
    "set <setting> <value>",
    summary="kinds of work, their evidence, and whether Signoff may act on them alone",
)
async def autonomy(ctx: CommandContext) -> str:
    rt = ctx.rt
    verb = ctx.args[0].lower() if ctx.args else ""
    if verb in _LEAD_VERBS and not ctx.roles.is_lead:
        return await _refuse_non_lead(ctx, verb)
    learning = await load_learning_settings(rt.sessions, rt.settings)
    if verb == "pin":
        if len(ctx.args) != 3 or ctx.args[2].lower() not in _PIN_WORDS:
            raise CommandError("Usage: `/signoff autonomy pin <bucket> review|allow`.")
        key, pin = _bucket(ctx.args[1]), _PIN_WORDS[ctx.args[2].lower()]
        old, new = await set_pin(rt.sessions, bucket=key, pin=pin, actor=ctx.user_id)
        if old == new:
            return f"`{key}` is already pinned to `{new.value}`; nothing changed."
        await notify_channel(
            rt, f":pushpin: <@{ctx.user_id}> pinned `{key}`: `{old.value}` → `{new.value}`."
        )
        return f"Pinned `{key}` to `{new.value}` (was `{old.value}`; audited)."
    if verb == "unpin":
        if len(ctx.args) != 2:
            raise CommandError("Usage: `/signoff autonomy unpin <bucket>`.")
        key = _bucket(ctx.args[1])
        old, _ = await set_pin(rt.sessions, bucket=key, pin=Pin.NONE, actor=ctx.user_id)
        if old == Pin.NONE:
            return f"`{key}` is not pinned; nothing changed."
        await notify_channel(rt, f":pushpin: <@{ctx.user_id}> unpinned `{key}` (was `{old}`).")
        return f"Unpinned `{key}`: its evidence decides again (audited)."
    if verb == "set":
        return await _set_policy_value(ctx)
    await catch_up(rt, learning)
    if ctx.args and ctx.args[0].count("/") >= 2:
        key = _bucket(ctx.args[0])
        report = await bucket_report(rt.sessions, key, learning.policy)
        return report.line(learning.policy)
    if ctx.args:
        prefix = ctx.args[0].strip().lower()
        return await autonomy_overview(rt.sessions, learning, only=safe(prefix, 80))
    return await autonomy_overview(rt.sessions, learning)


async def _set_policy_value(ctx: CommandContext) -> str:
    """``/signoff autonomy set``: the same change as ``/signoff set`` (a dry run first for what
    changes which work is trusted; recorded and revertible either way)."""
    key = canonical_key(ctx.args[1]) if len(ctx.args) == 3 else None
    if key not in POLICY_KEYS:
        raise CommandError(
            "Usage: `/signoff autonomy set <setting> <value>`. Settings: "
            + "; ".join(f"`{k}` — {meaning}" for k, meaning in POLICY_KEYS.items())
        )
    return await change_from_slack(ctx, key, ctx.args[2])


@subcommand(
    "edits",
    usage="edits [weeks]",
    summary="edit rate and edit size per category, week by week: are drafts improving?",
)
async def edits(ctx: CommandContext) -> str:
    weeks = 4
    if ctx.args:
        if not ctx.args[0].isdigit() or not 1 <= int(ctx.args[0]) <= 52:
            raise CommandError("Usage: `/signoff edits [weeks]`, weeks from 1 to 52.")
        weeks = int(ctx.args[0])
    return await edit_report(ctx.rt.sessions, now=utcnow(), weeks=weeks)


@stats_section
async def edit_rates(ctx: CommandContext, since: datetime) -> list[str]:
    """``/signoff stats``: are drafts improving (edit rate and size), and what runs on trust."""
    table = await edit_stats(ctx.rt.sessions, since=since)
    lines = ["*Edits per category* (share of human approvals that were edited, avg edit size):"]
    lines.extend(edit_stats_lines(table, weeks=MAX_STATS_WEEKS))
    reasons = await reject_reasons(ctx.rt.sessions, since=since)
    if reasons:
        lines.append("*Reject reasons per category:*")
        lines.extend(reject_reason_lines(reasons))
    async with ctx.rt.sessions() as session:
        trusted = await summed(session, since, metrics=[Metric.AUTO_TRUSTED])
    earned = sum(row.count for row in trusted)
    lines.append(
        f"*Earned autonomy:* {earned} items executed on a bucket's trust "
        "(`/signoff autonomy` shows the buckets)."
    )
    return lines
