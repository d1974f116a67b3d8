"""``/signoff`` commands that change how much Signoff does on its own: ``settings``, ``set``,
``change`` (dry run, confirm, cancel, revert), ``pause`` and ``resume``.

Every change a lead makes from a command goes through ``change_from_slack``: what changes which
work runs without a human is proposed with its dry run first; anything else applies at once,
recorded so that ``/signoff change revert`` undoes it. ``change`` was ``threshold`` and
``settings`` was ``thresholds``: one letter apart for two different things, so both were renamed
(the old names still work, with a hint).
"""

from __future__ import annotations

from dataclasses import replace

from bot.durations import format_duration
from bot.errors import SettingChangeRefusedError
from bot.lead_settings.changes import (
    apply_now,
    cancel_change,
    confirm_change,
    propose_change,
    recent_changes,
    revert_change,
)
from bot.lead_settings.registry import (
    PAUSED,
    SETTABLE,
    ChangeKind,
    canonical_key,
    change_kind,
    load_lead_settings,
)
from bot.slack.channel_notices import notify_channel
from bot.slack.text import safe
from bot.store.column_types import utcnow
from handlers.commands.registry import CommandContext, CommandError, subcommand


@subcommand(
    "settings",
    usage="settings",
    summary="current settings and pause state",
    renamed=("thresholds",),
)
async def show_settings(ctx: CommandContext) -> str:
    current = await load_lead_settings(ctx.rt.sessions, ctx.rt.settings)
    lines = ["*Current settings:*", *(f"• `{line}`" for line in current.as_lines())]
    if current.thresholds.paused:
        lines.append(":double_vertical_bar: Auto-execution is *paused*: everything goes to review.")
    retention = ctx.rt.settings.retention
    lines.append(
        f"• `retention {format_duration(retention)}`: decided items' personal content is erased "
        "after that (SIGNOFF_RETENTION)"
        if retention is not None
        else "• `retention off`: personal content is kept until erased on request "
        "(SIGNOFF_RETENTION)"
    )
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
    ``/signoff change revert`` can undo it."""
    if change_kind(key) != ChangeKind.DIRECT:
        return await change_setting(replace(ctx, args=(key, raw)))
    try:
        change = await apply_now(
            ctx.rt.sessions, ctx.rt.settings, key=key, raw=raw, actor=ctx.user_id
        )
    except SettingChangeRefusedError as exc:
        raise CommandError(f"Not changed: {safe(str(exc), 300)}") from None
    if not change.changed:
        return f"`{key}` is already `{change.new}`; nothing changed."
    await notify_channel(
        ctx.rt, f":gear: <@{ctx.user_id}> changed `{key}`: `{change.old}` → `{change.new}`."
    )
    return (
        f"Changed `{key}`: `{change.old}` → `{change.new}` (audited and announced in the review "
        "channel; `/signoff change revert` undoes it)."
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


@subcommand(
    "change",
    usage="change <setting> <value> | confirm <#> | cancel <#> | revert [#]",
    summary="change a setting after its 30-day dry run; list, confirm, cancel or revert changes",
    lead_only=True,
    renamed=("threshold",),
)
async def change_setting(ctx: CommandContext) -> str:
    rt, args = ctx.rt, ctx.args
    verb = args[0].lower() if args else ""
    try:
        if not args:
            changes = await recent_changes(rt.sessions)
            if not changes:
                return "No setting changes yet. `/signoff change <setting> <value>` starts one."
            return "\n".join(
                [
                    "*Recent setting changes:*",
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
                f"(audited). `/signoff change revert {change_id}` undoes it."
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
                "Usage: `/signoff change <setting> <value>` (a dry run first), then "
                "`confirm <#>` or `cancel <#>`; `revert [#]` undoes an applied change."
            )
        key = canonical_key(args[0])
        if key is None or key == PAUSED:
            raise CommandError(
                f"`{safe(args[0], 40)}` is not a setting. Settings: "
                + ", ".join(f"`{k}`" for k in SETTABLE)
                + "."
            )
        change, lines = await propose_change(
            rt.sessions, rt.settings, key=key, raw=args[1], actor=ctx.user_id, now=utcnow()
        )
    except SettingChangeRefusedError as exc:
        raise CommandError(f"Not changed: {safe(str(exc), 400)}") from None
    return "\n".join(
        [
            *lines,
            f"Nothing has changed yet. `/signoff change confirm {change.id}` applies it; "
            f"`/signoff change cancel {change.id}` drops it.",
        ]
    )


def _change_id(word: str) -> int:
    text = word.lstrip("#")
    if not text.isdigit():
        raise CommandError(f"`{safe(word, 20)}` is not a change number such as `#3`.")
    return int(text)
