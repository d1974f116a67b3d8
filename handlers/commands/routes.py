"""``/signoff route`` and ``/signoff routes``: leads send matching cards to a team's channel.

A rule is saved only once the bot is in the channel (``conversations.info`` → ``is_member``):
a card posted where the bot is not would fail with ``not_in_channel`` and wait forever. Every
change is audited, announced in the review channel and reverted with ``/signoff change
revert <#>`` like any lead setting (``bot.lead_settings.card_routes``).
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import SettingChangeRefusedError
from bot.lead_settings.card_routes import active_routes, add_route, describe, remove_route
from bot.slack.channel_notices import notify_channel
from bot.slack.text import safe
from handlers.commands.mentions import channel_id, group_id, unescaped
from handlers.commands.registry import CommandContext, CommandError, subcommand
from policies.card_routes import SELECTOR_HELP, InvalidSelectorError, parse_selector

USAGE = (
    "Usage: `/signoff route <selector> #channel [reviewers:@group]`, where a selector is "
    f"{SELECTOR_HELP}; `/signoff route remove <#n>` removes one; `/signoff routes` lists them."
)
INVITE = "invite me there first (`/invite @Signoff` in that channel), then run this again"


@subcommand("routes", usage="routes", summary="where cards go: the leads' routes, first match wins")
async def routes(ctx: CommandContext) -> str:
    rules = await active_routes(ctx.rt.sessions)
    fallback = f"Everything else goes to <#{ctx.rt.settings.review_channel}>."
    if not rules:
        return "No card routes: every card goes to the review channel. " + USAGE
    return "\n".join(["*Card routes* (first match wins):", *map(describe, rules), fallback])


@subcommand(
    "route",
    usage="route <selector> #channel [reviewers:@group] | route remove <#n>",
    summary="send matching cards to a team's channel, decided by its group and leads",
    lead_only=True,
)
async def route(ctx: CommandContext) -> str:
    args = [unescaped(word) for word in ctx.args]
    if len(args) == 2 and args[0].lower() == "remove":
        return await _remove(ctx, args[1])
    if len(args) not in (2, 3):
        raise CommandError(USAGE)
    try:
        selector = parse_selector(args[0])
    except InvalidSelectorError as exc:
        raise CommandError(f"Not saved: {exc}.") from None
    channel = channel_id(args[1])
    group = None
    if len(args) == 3:
        head, _, rest = args[2].partition(":")
        if head.lower() != "reviewers" or not rest:
            raise CommandError(USAGE)
        group = group_id(rest)
    await _require_membership(ctx, channel)
    try:
        rule, change = await add_route(
            ctx.rt.sessions,
            selector=selector,
            channel=channel,
            reviewer_group=group,
            actor=ctx.user_id,
        )
    except SettingChangeRefusedError as exc:
        raise CommandError(f"Not saved: {safe(str(exc), 300)}") from None
    await notify_channel(
        ctx.rt, f":twisted_rightwards_arrows: <@{ctx.user_id}> added route {describe(rule)}."
    )
    lines = [
        f"Saved {describe(rule)} (change #{change}; `/signoff change revert {change}` undoes "
        "it). Cards already waiting stay where they are."
    ]
    if group is not None and not await ctx.rt.roster.group_members(group):
        lines.append(
            f":warning: I see nobody in <!subteam^{group}> (or may not read user groups): until "
            "I do, only leads can decide these cards."
        )
    return "\n".join(lines)


async def _remove(ctx: CommandContext, word: str) -> str:
    text = word.lstrip("#")
    if not text.isdigit():
        raise CommandError(f"`{safe(word, 20)}` is not a route number such as `#2`.")
    try:
        rule, change = await remove_route(ctx.rt.sessions, route_id=int(text), actor=ctx.user_id)
    except SettingChangeRefusedError as exc:
        raise CommandError(f"Not changed: {safe(str(exc), 300)}") from None
    await notify_channel(ctx.rt, f":wastebasket: <@{ctx.user_id}> removed route {describe(rule)}.")
    return (
        f"Removed {describe(rule)} (change #{change}; `/signoff change revert {change}` "
        "brings it back). Cards already in that channel stay there."
    )


async def _require_membership(ctx: CommandContext, channel: str) -> None:
    """Refuse a rule for a channel the bot cannot post in, saying what to do about it."""
    publisher = ctx.rt.publisher
    if publisher is None:
        raise CommandError("Slack is not configured here, so routes cannot be checked or used.")
    try:
        answer = await publisher.client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error == "channel_not_found":
            raise CommandError(
                f"Not saved: I can't see <#{channel}>. If it is private, {INVITE}."
            ) from None
        raise CommandError(
            f"Not saved: Slack answered `{safe(error, 60)}` for <#{channel}>."
        ) from None
    except SlackClientError:
        raise CommandError("Not saved: Slack could not be reached; try again.") from None
    info = answer.get("channel") or {}
    if info.get("is_archived"):
        raise CommandError(f"Not saved: <#{channel}> is archived.")
    if not info.get("is_member"):
        raise CommandError(f"Not saved: I'm not in <#{channel}>; {INVITE}.")
