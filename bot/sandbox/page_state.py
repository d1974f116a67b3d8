"""What one person sees in the local workspace, as HTML pieces the page swaps in.

Per person, because Slack shows each person something different: ephemeral answers only to
whom they were for, each person's own Home tab, modals and direct messages. Everything is
rendered from the workspace's stored Web API calls through ``bot.sandbox.blocks``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.blocks import blocks_html, text_html
from bot.sandbox.mrkdwn import NameOf, mrkdwn_html
from bot.sandbox.workspace import Ephemeral, Workspace


def _time(ts: str) -> str:
    try:
        moment = datetime.fromtimestamp(float(ts), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return f'<time datetime="{moment.isoformat()}">{moment.strftime("%H:%M:%S")} UTC</time>'


def _body(message: dict[str, Any], name_of: NameOf) -> str:
    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks:
        return blocks_html(blocks, name_of)
    return f'<div class="bk-text">{mrkdwn_html(str(message.get("text") or ""), name_of)}</div>'


def message_html(
    channel: str, message: dict[str, Any], name_of: NameOf, replies: list[dict[str, Any]]
) -> str:
    ts = html.escape(str(message.get("ts", "")), quote=True)
    edited = ' <span class="edited">(edited)</span>' if message.get("edited") else ""
    thread = ""
    if replies:
        count = len(replies)
        items = "".join(message_html(channel, r, name_of, []) for r in replies)
        label = f"{count} repl{'y' if count == 1 else 'ies'}"
        thread = (
            f'<div class="thread" aria-label="thread"><div class="thread-label">{label}</div>'
            f"{items}</div>"
        )
    return (
        f'<article class="msg" data-channel="{html.escape(channel, quote=True)}" '
        f'data-ts="{ts}"><div class="meta"><b>Signoff</b> <span class="app">APP</span> '
        f"{_time(str(message.get('ts', '')))}{edited}</div>"
        f'<div class="blocks">{_body(message, name_of)}</div>{thread}</article>'
    )


def ephemeral_html(note: Ephemeral, name_of: NameOf) -> str:
    body = _body({"text": note.text, "blocks": note.blocks}, name_of)
    return (
        f'<article class="msg ephemeral"><div class="meta"><b>Signoff</b> '
        f'<span class="app">APP</span> {_time(note.ts)} '
        f'<span class="only-you">Only visible to you</span></div>'
        f'<div class="blocks">{body}</div></article>'
    )


def channel_html(workspace: Workspace, channel: str, user: str) -> str:
    """The channel's messages oldest first, replies under their parent, and the ephemeral
    messages meant for ``user`` where they arrived."""
    with workspace.lock:
        posted = [(ts, m) for (ch, ts), m in workspace.messages.items() if ch == channel]
        notes = [e for e in workspace.ephemerals if e.channel == channel and e.user == user]
    replies: dict[str, list[dict[str, Any]]] = {}
    top: list[tuple[float, str]] = []
    for ts, message in sorted(posted, key=lambda pair: float(pair[0])):
        parent = message.get("thread_ts")
        if parent and parent != ts:
            replies.setdefault(str(parent), []).append(message)
    for ts, message in posted:
        parent = message.get("thread_ts")
        if not parent or parent == ts:
            top.append(
                (float(ts), message_html(channel, message, workspace.name_of, replies.get(ts, [])))
            )
    top.extend((float(e.ts), ephemeral_html(e, workspace.name_of)) for e in notes)
    if not top:
        return '<p class="empty">No messages yet: the sample tickets are on their way.</p>'
    return "".join(piece for _, piece in sorted(top, key=lambda pair: pair[0]))


def direct_messages_html(workspace: Workspace, user: str) -> str:
    """What the bot sent ``user`` directly (``chat.postMessage`` to a user id or a DM)."""
    with workspace.lock:
        found = [
            (ts, m)
            for (ch, ts), m in workspace.messages.items()
            if ch in {user, f"D{user}"} and not m.get("thread_ts")
        ]
    pieces = [
        message_html(user, m, workspace.name_of, [])
        for _, m in sorted(found, key=lambda pair: float(pair[0]))
    ]
    return "".join(pieces) or '<p class="empty">No direct messages.</p>'


def home_html(workspace: Workspace, user: str) -> str | None:
    """``user``'s Home tab as the bot last published it, or None before the first publish."""
    with workspace.lock:
        view = workspace.homes.get(user)
    if view is None:
        return None
    view_id = html.escape(str(view.get("id", "")), quote=True)
    return (
        f'<div class="view home-view" data-view-id="{view_id}">'
        f"{blocks_html(view.get('blocks'), workspace.name_of)}</div>"
    )


def modal_state(workspace: Workspace, user: str) -> dict[str, Any] | None:
    """The top modal of ``user``'s stack: its id, texts and blocks, for a ``<dialog>``."""
    with workspace.lock:
        stack = workspace.modals.get(user)
        view = stack.views[-1] if stack and stack.views else None
    if view is None:
        return None
    return {
        "id": view.get("id"),
        "hash": view.get("hash"),
        "title": text_html(view.get("title")),
        "submit": text_html(view.get("submit")) if view.get("submit") else None,
        "close": text_html(view.get("close")) or "Cancel",
        "html": blocks_html(view.get("blocks"), workspace.name_of),
    }


def person_state(workspace: Workspace, channel: str, user: str) -> dict[str, Any]:
    return {
        "version": workspace.version,
        "channel": channel_html(workspace, channel, user),
        "home": home_html(workspace, user),
        "dms": direct_messages_html(workspace, user),
        "modal": modal_state(workspace, user),
    }
