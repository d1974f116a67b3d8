"""Slack mrkdwn to safe HTML, for the local workspace's page.

The order is what makes it safe: Slack's control sequences (``<@U…>``, ``<!channel>``,
``<url|label>``) are cut out of the raw text first and set aside; every other character is
decoded from Slack's three escapes and HTML-escaped; only then is the small formatting subset
(bold, italic, strike, code, quotes) applied to the escaped text, and the set-aside sequences are
put back as HTML built from escaped parts. So ``&lt;!channel&gt;`` in a ticket (the bot's
escaping) shows literally as ``<!channel>``, and no text, customer's or model's, becomes markup.
Every pattern is linear (negated character classes, no nested quantifiers).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime

# A control sequence: anything between < and > with no < or > inside.
_TOKEN = re.compile(r"<([^<>]*)>")
# Placeholders use characters that html.escape leaves alone and Slack text never carries.
_SLOT = re.compile(r"\x00(\d+)\x00")
_PRE = re.compile(r"```([^`]*)```")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+-]{1,40}):")
_SAFE_LINK = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)

# The shortcodes Signoff's messages use, as the characters Slack shows for them.
EMOJI = {
    "alarm_clock": "⏰",
    "anchor": "⚓",
    "arrow_forward": "▶️",
    "arrows_counterclockwise": "🔄",
    "ballot_box_with_check": "☑️",
    "bar_chart": "📊",
    "crystal_ball": "🔮",
    "double_vertical_bar": "⏸️",
    "eyes": "👀",
    "gear": "⚙️",
    "hourglass": "⌛",
    "inbox_tray": "📥",
    "large_green_circle": "🟢",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "leftwards_arrow_with_hook": "↩️",
    "lock": "🔒",
    "no_entry": "⛔",
    "pencil2": "✏️",
    "pushpin": "📌",
    "red_circle": "🔴",
    "repeat": "🔁",
    "robot_face": "🤖",
    "rotating_light": "🚨",
    "tada": "🎉",
    "warning": "⚠️",
    "white_check_mark": "✅",
    "white_circle": "⚪",
    "x": "❌",
}

NameOf = Callable[[str], str]


def slack_unescape(text: str) -> str:
    """Slack's only escapes are ``&amp; &lt; &gt;``; any other ``&…;`` is literal text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_html(text: str, *, emoji: bool = False) -> str:
    """``plain_text`` as HTML: literal (no mentions, links or formatting), emoji if asked."""
    escaped = html.escape(text, quote=False)
    return _emoji(escaped) if emoji else escaped


def mrkdwn_html(text: str, name_of: NameOf | None = None) -> str:
    """Render mrkdwn ``text`` as HTML; ``name_of`` turns a user id into the name shown."""
    names = name_of or (lambda user: user)
    slots: list[str] = []

    def keep(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    text = text.replace("\x00", "")
    text = _TOKEN.sub(lambda m: keep(_control(m.group(1), names)), text)
    out = html.escape(slack_unescape(text), quote=False)
    out = _PRE.sub(lambda m: keep(f"<pre>{m.group(1).strip(chr(10))}</pre>"), out)
    out = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    out = _STRIKE.sub(r"<s>\1</s>", out)
    out = _emoji(out)
    out = _quotes(out)
    # Twice: a kept code span may hold a kept control sequence.
    for _ in range(2):
        out = _SLOT.sub(lambda m: slots[int(m.group(1))], out)
    return out


def _emoji(escaped: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def _quotes(escaped: str) -> str:
    """``>`` at a line's start (already escaped to ``&gt;``) makes a block quote."""
    lines = escaped.split("\n")
    parts: list[str] = []
    quoted: list[str] = []
    for line in lines:
        if line.startswith("&gt;"):
            quoted.append(line[4:].removeprefix(" "))
            continue
        if quoted:
            parts.append("<blockquote>" + "<br>".join(quoted) + "</blockquote>")
            quoted = []
        parts.append(line + "<br>")
    if quoted:
        parts.append("<blockquote>" + "<br>".join(quoted) + "</blockquote>")
    joined = "".join(parts)
    return joined.removesuffix("<br>")


def _label(raw: str) -> str:
    return html.escape(slack_unescape(raw), quote=False)


def _control(inner: str, name_of: NameOf) -> str:
    """One ``<…>`` sequence as HTML: a mention, a date or a link; anything else as text."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        name = label or name_of(target[1:])
        return f'<span class="mention">@{_label(name)}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{_label(label or target[1:])}</span>'
    if target.startswith("!subteam^"):
        return f'<span class="mention">{_label(label or "@group")}</span>'
    if target.startswith("!date^"):
        return f"<time>{_label(_date(target, label))}</time>"
    if target in {"!here", "!channel", "!everyone"}:
        return f'<span class="mention">@{target[1:]}</span>'
    if _SAFE_LINK.match(target):
        href = html.escape(slack_unescape(target), quote=True)
        shown = _label(label) if label else html.escape(slack_unescape(target), quote=False)
        return f'<a href="{href}" rel="noopener noreferrer" target="_blank">{shown}</a>'
    return html.escape(f"<{slack_unescape(inner)}>", quote=False)


def _date(target: str, fallback: str) -> str:
    """``!date^epoch^format``: shown in UTC as date and time (the page has no user time zone)."""
    parts = target.split("^")
    try:
        moment = datetime.fromtimestamp(int(parts[1]), tz=UTC)
    except (IndexError, ValueError, OverflowError, OSError):
        return fallback
    return moment.strftime("%b %d, %H:%M UTC")
