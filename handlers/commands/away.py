"""``/signoff away`` and ``/signoff back``: a reviewer's absence, and who stands in meanwhile.

While someone is away they get no reminders, are not escalated to, and the cards waiting for
them say so; their delegate receives what would have gone to them (``policies.away``). Dates and
times are read in the person's Slack time zone (``users.info``; UTC when Slack does not say).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.lead_settings.card_routes import active_routes
from bot.review.away import end_away, recorded_absences, set_away
from bot.slack.card import slack_date
from bot.store.column_types import utcnow
from handlers.commands.mentions import unescaped, user_id
from handlers.commands.registry import CommandContext, CommandError, subcommand
from policies.away import InvalidUntilError, parse_until

USAGE = (
    "Usage: `/signoff away <until> [to @person]`, where until is a date (`2026-12-24`), a time "
    "(`17:00`) or a duration (`4h`, `3d`, `2w`); `/signoff back` ends it."
)


async def _decides(ctx: CommandContext, person: str) -> bool:
    """Whether ``person`` may decide anywhere: a reviewer, a lead, or in a route's group."""
    groups = [r.reviewer_group for r in await active_routes(ctx.rt.sessions) if r.reviewer_group]
    roles = await ctx.rt.roster.roles(person, groups)
    return roles.may_decide or bool(roles.groups)


async def _time_zone(ctx: CommandContext) -> tzinfo:
    publisher = ctx.rt.publisher
    if publisher is None:
        return UTC
    try:
        name = ((await publisher.client.users_info(user=ctx.user_id)).get("user") or {}).get("tz")
        return ZoneInfo(str(name)) if name else UTC
    except (SlackApiError, SlackClientError, ZoneInfoNotFoundError, ValueError):
        return UTC


@subcommand("away", usage="away <until> [to @person]", summary="hand your reviews over while away")
async def away(ctx: CommandContext) -> str:
    args = [unescaped(word) for word in ctx.args]
    if not args:
        now = utcnow()
        gone = await recorded_absences(ctx.rt.sessions)
        if not gone:
            return "Nobody is away. " + USAGE
        return "\n".join(
            ["*Away:*"]
            + [
                f"• <@{a.user_id}> until {slack_date(a.until)}"
                + (f", <@{a.delegate}> stands in" if a.delegate else "")
                for a in sorted(gone.values(), key=lambda a: a.until)
                if a.until > now
            ]
        )
    if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "to"):
        raise CommandError(USAGE)
    if not await _decides(ctx, ctx.user_id):
        raise CommandError("Only reviewers and leads get reminders to hand over. Nothing changed.")
    try:
        until = parse_until(args[0], utcnow(), await _time_zone(ctx))
    except InvalidUntilError as exc:
        raise CommandError(f"Not changed: {exc}.") from None
    delegate = user_id(args[2]) if len(args) == 3 else None
    if delegate == ctx.user_id:
        raise CommandError("Hand over to someone else (or leave out `to @person`).")
    if delegate is not None and not await _decides(ctx, delegate):
        raise CommandError(
            f"<@{delegate}> is not a reviewer or lead, so they could not act on what you hand "
            "over. Nothing changed."
        )
    await set_away(ctx.rt.sessions, user_id=ctx.user_id, until=until, delegate=delegate)
    handed = (
        f"<@{delegate}> gets your reminders and escalations meanwhile"
        if delegate
        else "nobody gets your reminders meanwhile (add `to @person` to hand them over)"
    )
    return (
        f":palm_tree: You're away until {slack_date(until)}: {handed}, and cards waiting for "
        "you show you away. `/signoff back` ends it early."
    )


@subcommand("back", usage="back", summary="end your away time now")
async def back(ctx: CommandContext) -> str:
    if await end_away(ctx.rt.sessions, user_id=ctx.user_id):
        return "Welcome back: reminders and escalations come to you again."
    return "You were not away; nothing changed."
