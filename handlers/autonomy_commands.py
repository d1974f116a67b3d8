"""``/signoff autonomy``, ``/signoff edits`` and ``/signoff threshold``: the leads' controls over
how much Signoff does on its own, and the evidence behind it.

The logic lives in ``bot.autonomy_report``, ``bot.autonomy_store``, ``bot.edit_stats`` and
``bot.threshold_dry_run``; this module only parses words and words back.
"""

from __future__ import annotations

from datetime import datetime

from bot import audit
from bot.autonomy_report import autonomy_overview, bucket_report
from bot.autonomy_routing import catch_up
from bot.autonomy_store import POLICY_KEYS, load_learning_settings, set_pin
from bot.channel_notices import notify_channel
from bot.database import transaction
from bot.edit_stats import (
    edit_report,
    edit_stats,
    edit_stats_lines,
    reject_reason_lines,
    reject_reasons,
)
from bot.lead_settings import PAUSED, SETTABLE, canonical_key
from bot.models import utcnow
from bot.setting_changes import (
    ThresholdChangeError,
    cancel_change,
    confirm_change,
    propose_change,
    recent_changes,
    revert_change,
)
from bot.slack_text import safe
from bot.stat_tally import Metric, summed
from handlers.signoff_command import CommandContext, CommandError, stats_section, subcommand
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
    from handlers.signoff_subcommands import change_from_slack

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


def _change_id(word: str) -> int:
    text = word.lstrip("#")
    if not text.isdigit():
        raise CommandError(f"`{safe(word, 20)}` is not a change number such as `#3`.")
    return int(text)


@subcommand(
    "threshold",
    usage="threshold <setting> <value> | confirm <#> | cancel <#> | revert [#]",
    summary="change a threshold after a 30-day dry run; revert in one command",
    lead_only=True,
)
async def threshold(ctx: CommandContext) -> str:
    rt, args = ctx.rt, ctx.args
    verb = args[0].lower() if args else ""
    try:
        if not args:
            changes = await recent_changes(rt.sessions)
            if not changes:
                return (
                    "No threshold changes yet. `/signoff threshold <setting> <value>` starts one."
                )
            return "\n".join(
                [
                    "*Recent threshold changes:*",
                    *(
                        f"• #{c.id} `{c.key}`: `{c.old_value}` → `{c.new_value}` — {c.status} "
                        f"(<@{c.proposed_by}>)"
                        for c in changes
                    ),
                ]
            )
        if verb == "confirm" and len(args) == 2:
            change_id = _change_id(args[1])
            setting = await confirm_change(
                rt.sessions, rt.settings, change_id=change_id, actor=ctx.user_id
            )
            await notify_channel(
                rt,
                f":gear: <@{ctx.user_id}> changed `{setting.key}`: `{setting.old}` → "
                f"`{setting.new}` after a dry run (change #{change_id}).",
            )
            return (
                f"Applied #{change_id}: `{setting.key}` `{setting.old}` → `{setting.new}` "
                f"(audited). `/signoff threshold revert {change_id}` undoes it."
            )
        if verb == "cancel" and len(args) == 2:
            change_id = _change_id(args[1])
            await cancel_change(rt.sessions, change_id=change_id, actor=ctx.user_id)
            return f"Cancelled #{change_id}; nothing changed."
        if verb == "revert" and len(args) <= 2:
            record, setting = await revert_change(
                rt.sessions,
                rt.settings,
                change_id=_change_id(args[1]) if len(args) == 2 else None,
                actor=ctx.user_id,
            )
            await notify_channel(
                rt,
                f":leftwards_arrow_with_hook: <@{ctx.user_id}> reverted `{setting.key}`: "
                f"`{setting.old}` → `{setting.new}` (change #{record.reverts_id}).",
            )
            return (
                f"Reverted #{record.reverts_id}: `{setting.key}` is `{setting.new}` again "
                "(audited)."
            )
        if len(args) != 2:
            raise CommandError(
                "Usage: `/signoff threshold <setting> <value>` (a dry run first), then "
                "`confirm <#>` or `cancel <#>`; `revert [#]` undoes an applied change."
            )
        key = canonical_key(args[0])
        if key is None or key == PAUSED:
            raise CommandError(
                f"`{safe(args[0], 40)}` is not a threshold. Settings: "
                + ", ".join(f"`{k}`" for k in SETTABLE)
                + "."
            )
        change, lines = await propose_change(
            rt.sessions, rt.settings, key=key, raw=args[1], actor=ctx.user_id, now=utcnow()
        )
    except ThresholdChangeError as exc:
        raise CommandError(f"Not changed: {safe(str(exc), 400)}") from None
    return "\n".join(
        [
            *lines,
            f"Nothing has changed yet. `/signoff threshold confirm {change.id}` applies it; "
            f"`/signoff threshold cancel {change.id}` drops it.",
        ]
    )
