"""The built-in ``/signoff`` subcommands (see ``handlers.signoff_command`` for the registry)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from bot.approval_card import describe_action, masked
from bot.assessment import ProposedAction
from bot.channel_notices import notify_channel
from bot.lead_settings import (
    PAUSED,
    SETTABLE,
    ChangeKind,
    canonical_key,
    change_kind,
    load_lead_settings,
)
from bot.models import Item, utcnow
from bot.outcomes import outcome_of
from bot.review_queries import (
    FilterError,
    decided_by,
    item_with_decision,
    parse_filters,
    pending_page,
    waiting_for,
)
from bot.review_stats import parse_period, review_stats
from bot.setting_changes import ThresholdChangeError, apply_now
from bot.slack_text import safe
from handlers.signoff_command import (
    STATS_SECTIONS,
    CommandContext,
    CommandError,
    help_text,
    subcommand,
)


def describe(action: dict[str, Any]) -> str:
    try:
        return ProposedAction.model_validate(action).describe()
    except ValidationError:
        return str(action.get("kind", "?"))


def item_line(item: Item) -> str:
    stale = " · :arrows_counterclockwise: stale" if item.stale_reason else ""
    votes = (
        f" · {len(item.approvals)}/{item.approvals_required} approvals" if item.approvals else ""
    )
    return (
        f"• `{item.id}` {(item.risk_level or '?').upper()} · "
        f"{safe(masked(item.subject), 80)} · {safe(describe_action(item), 80)}{votes}{stale}"
    )


@subcommand("help", usage="help", summary="this list")
async def help_command(ctx: CommandContext) -> str:
    return help_text(ctx.roles)


@subcommand(
    "pending",
    usage="pending [low|medium|high|critical] [category:X] [older:2h] [page:N]",
    summary="items waiting for review, oldest first",
)
async def pending(ctx: CommandContext) -> str:
    try:
        filters = parse_filters(ctx.args)
    except FilterError as exc:
        raise CommandError(str(exc)) from None
    page = await pending_page(ctx.rt.sessions, filters)
    scope = f" ({filters.describe()})" if filters.describe() else ""
    if page.total == 0:
        return f"Nothing is waiting for review{scope}. :tada:"
    if not page.items:
        return f"Page {page.page} is empty: there are {page.pages} page(s){scope}."
    lines = [
        f"*{page.total} item(s) waiting for review*{scope} — page {page.page} of {page.pages}:"
    ]
    # Masking takes about a millisecond a line when not cached: not on the event loop.
    lines.extend(await asyncio.to_thread(lambda: [item_line(item) for item in page.items]))
    if page.page < page.pages:
        more = " ".join([*ctx.args, f"page:{page.page + 1}"])
        lines.append(f"Next page: `/signoff pending {safe(more, 200)}`")
    return "\n".join(lines)


@subcommand("show", usage="show <item id>", summary="one item: state, outcome and who decided")
async def show(ctx: CommandContext) -> str:
    if not ctx.args:
        raise CommandError(
            "Say which item, e.g. `/signoff show itm_0123…` (see `/signoff pending`)."
        )
    item, decision = await item_with_decision(ctx.rt.sessions, ctx.args[0])
    if item is None:
        raise CommandError(f"There is no item `{safe(ctx.args[0], 40)}`.")
    outcome = outcome_of(item, decision)
    who = ""
    if decision is not None:
        who = " by policy" if decision.actor == "auto" else f" by <@{decision.actor}>"
        if decision.policy:
            who += f" (`{safe(decision.policy, 64)}`)"
        if decision.reason:
            who += f" — {safe(decision.reason, 300)}"
    lines = [
        f"*`{item.id}`* {safe(masked(item.subject), 150)}",
        f"• Outcome: *{outcome.label}*{who}",
        f"• Risk: {(item.risk_level or '?').upper()} · category {safe(item.category or '?', 64)}"
        f" · action {safe(describe_action(item), 120)}",
        f"• Customer: {safe(item.customer_name, 100)} · {safe(masked(item.customer_email), 100)}",
    ]
    if item.assessment_error:
        lines.append(f"• AI assessment unavailable: {safe(item.assessment_error, 300)}")
    if item.edited_by:
        lines.append(f"• Edited by <@{item.edited_by}>: {safe(item.edit_summary or '', 300)}")
    records = [
        ("AI proposed", item.ai_action if item.ai_action is not None else item.proposed_action),
        ("approved", item.approved_action),
        ("executed", item.executed_action),
    ]
    shown = [f"{label}: {safe(describe(action), 120)}" for label, action in records if action]
    if shown:
        lines.append("• " + " → ".join(shown))
    if item.approvals and item.state == "pending_review":
        who_approved = ", ".join(f"<@{u}>" for u in item.approvals)
        lines.append(
            f"• Approvals: {len(item.approvals)} of {item.approvals_required} ({who_approved})"
        )
    if item.stale_reason:
        lines.append(f"• Stale: {safe(item.stale_reason, 300)}")
    if item.last_error:
        lines.append(f"• Last error: {safe(item.last_error, 300)}")
    return "\n".join(lines)


@subcommand("mine", usage="mine", summary="items waiting for you, and your recent decisions")
async def mine(ctx: CommandContext) -> str:
    lines: list[str] = []
    if ctx.roles.may_decide:
        waiting = await waiting_for(ctx.rt.sessions, ctx.user_id, limit=10)
        lines.append(
            f"*Waiting for you ({len(waiting)}):*" if waiting else "Nothing waits for you."
        )
        lines.extend(item_line(item) for item in waiting)
    else:
        lines.append("You can look but not decide (you are not a reviewer or lead).")
    recent = await decided_by(ctx.rt.sessions, ctx.user_id, limit=10)
    if recent:
        lines.append("*Your recent decisions:*")
        for item in recent:
            item_, decision = await item_with_decision(ctx.rt.sessions, item.id)
            assert item_ is not None
            outcome = outcome_of(item_, decision).label
            lines.append(f"• `{item.id}` {outcome} · {safe(describe_action(item), 80)}")
    return "\n".join(lines)


@subcommand(
    "stats",
    usage="stats [today|week|30d]",
    summary="volume, auto rate, approve/edit/reject rates, time to decision",
)
async def stats(ctx: CommandContext) -> str:
    try:
        since, label = parse_period(ctx.args[0] if ctx.args else None, utcnow())
    except ValueError:
        raise CommandError("Periods: `today`, `week`, or a span such as `24h` or `30d`.") from None
    result = await review_stats(ctx.rt.sessions, since, label)
    lines = result.lines()
    for section in STATS_SECTIONS:
        lines.extend(await section(ctx, since))
    return "\n".join(lines)


@subcommand("thresholds", usage="thresholds", summary="current thresholds and pause state")
async def thresholds(ctx: CommandContext) -> str:
    current = await load_lead_settings(ctx.rt.sessions, ctx.rt.settings)
    lines = ["*Current settings:*", *(f"• `{line}`" for line in current.as_lines())]
    if current.thresholds.paused:
        lines.append(":double_vertical_bar: Auto-execution is *paused*: everything goes to review.")
    lines.append("Leads change them with `/signoff set <setting> <value>`:")
    lines.extend(f"  `{key}` — {meaning}" for key, meaning in SETTABLE.items())
    return "\n".join(lines)


@subcommand("set", usage="set <setting> <value>", summary="change a setting", lead_only=True)
async def set_setting(ctx: CommandContext) -> str:
    if len(ctx.args) != 2:
        raise CommandError(
            "Usage: `/signoff set <setting> <value>`, e.g. `/signoff set refund_auto_limit 75`. "
            "Settings: " + ", ".join(f"`{k}`" for k in SETTABLE)
        )
    key = canonical_key(ctx.args[0])
    if key is None or key == PAUSED:
        raise CommandError(
            f"`{safe(ctx.args[0], 40)}` is not a setting. Settings: "
            + ", ".join(f"`{k}`" for k in SETTABLE)
            + " (use `pause`/`resume` for the kill switch)."
        )
    return await change_from_slack(ctx, key, ctx.args[1])


async def change_from_slack(ctx: CommandContext, key: str, raw: str) -> str:
    """The one way a lead's command changes a setting: what runs without a human changes only
    after the lead has seen the dry run; anything else applies at once, recorded so that
    ``/signoff threshold revert`` can undo it."""
    if change_kind(key) != ChangeKind.DIRECT:
        from handlers.autonomy_commands import threshold

        return await threshold(replace(ctx, args=(key, raw)))
    try:
        change = await apply_now(
            ctx.rt.sessions, ctx.rt.settings, key=key, raw=raw, actor=ctx.user_id
        )
    except ThresholdChangeError as exc:
        raise CommandError(f"Not changed: {safe(str(exc), 300)}") from None
    if not change.changed:
        return f"`{key}` is already `{change.new}`; nothing changed."
    await notify_channel(
        ctx.rt, f":gear: <@{ctx.user_id}> changed `{key}`: `{change.old}` → `{change.new}`."
    )
    return (
        f"Changed `{key}`: `{change.old}` → `{change.new}` (audited and announced in the review "
        "channel; `/signoff threshold revert` undoes it)."
    )


async def _switch(ctx: CommandContext, paused: bool) -> str:
    change = await apply_now(
        ctx.rt.sessions,
        ctx.rt.settings,
        key=PAUSED,
        raw="true" if paused else "false",
        actor=ctx.user_id,
    )
    word = "paused" if paused else "resumed"
    if not change.changed:
        return f"Auto-execution is already {word}; nothing changed."
    icon = ":double_vertical_bar:" if paused else ":arrow_forward:"
    effect = (
        "everything goes to human review until someone resumes."
        if paused
        else "low-risk items may be executed automatically again."
    )
    await notify_channel(ctx.rt, f"{icon} <@{ctx.user_id}> {word} auto-execution: {effect}")
    return f"Auto-execution {word}: {effect}"


@subcommand("pause", usage="pause", summary="kill switch: stop all auto-execution", lead_only=True)
async def pause(ctx: CommandContext) -> str:
    return await _switch(ctx, paused=True)


@subcommand("resume", usage="resume", summary="allow auto-execution again", lead_only=True)
async def resume(ctx: CommandContext) -> str:
    return await _switch(ctx, paused=False)
