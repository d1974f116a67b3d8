"""The built-in ``/signoff`` subcommands (see ``handlers.commands.registry`` for the registry)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from bot.assess.assessment import ProposedAction
from bot.assess.pii_masking import masked, masked_action
from bot.review.outcomes import outcome_of
from bot.review.queries import (
    FilterError,
    decided_by,
    item_with_decision,
    parse_filters,
    pending_page,
    waiting_for,
)
from bot.slack.text import safe
from bot.stats.review_stats import parse_period, review_stats
from bot.store.column_types import utcnow
from bot.store.models import Item
from handlers.commands.registry import (
    STATS_SECTIONS,
    CommandContext,
    CommandError,
    help_text,
    subcommand,
)


def describe(action: dict[str, Any]) -> str:
    """An action as the queue shows it: masked like the card."""
    try:
        return masked(ProposedAction.model_validate(action).describe())
    except ValidationError:
        return str(action.get("kind", "?"))


def item_line(item: Item) -> str:
    stale = " · :arrows_counterclockwise: stale" if item.stale_reason else ""
    votes = (
        f" · {len(item.approvals)}/{item.approvals_required} approvals" if item.approvals else ""
    )
    return (
        f"• `{item.id}` {(item.risk_level or '?').upper()} · "
        f"{safe(masked(item.subject), 80)} · {safe(masked_action(item), 80)}{votes}{stale}"
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
            who += f" — {safe(masked(decision.reason), 300)}"
    lines = [
        f"*`{item.id}`* {safe(masked(item.subject), 150)}",
        f"• Outcome: *{outcome.label}*{who}",
        f"• Risk: {(item.risk_level or '?').upper()} · category {safe(item.category or '?', 64)}"
        f" · action {safe(masked_action(item), 120)}",
        f"• Customer: {safe(item.customer_name, 100)} · {safe(masked(item.customer_email), 100)}",
    ]
    if item.assessment_error:
        lines.append(f"• AI assessment unavailable: {safe(item.assessment_error, 300)}")
    if item.edited_by:
        lines.append(f"• Edited by <@{item.edited_by}>: {safe(masked(item.edit_summary), 300)}")
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
        lines.append(f"• Stale: {safe(masked(item.stale_reason), 300)}")
    if item.last_error:
        lines.append(f"• Last error: {safe(masked(item.last_error), 300)}")
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
            lines.append(f"• `{item.id}` {outcome} · {safe(masked_action(item), 80)}")
    return "\n".join(lines)


@subcommand(
    "stats",
    usage="stats [today|week|30d]",
    summary="volume, auto rate, approve/edit/reject rates, time to decision",
)
async def stats(ctx: CommandContext) -> str:
    try:
        since, label = parse_period(ctx.args[0] if ctx.args else None, utcnow())
    except ValueError as exc:
        raise CommandError(
            f"{safe(str(exc), 120)}. Periods: `today`, `week`, or a span such as `24h` or `30d`."
        ) from None
    result = await review_stats(ctx.rt.sessions, since, label)
    lines = result.lines()
    for section in STATS_SECTIONS:
        lines.extend(await section(ctx, since))
    return "\n".join(lines)
