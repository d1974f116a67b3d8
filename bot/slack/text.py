"""Making untrusted text safe for Slack mrkdwn (OWASP LLM05).

Slack treats ``<…>`` as control sequences: ``<!channel>``, ``<@U123>``, ``<https://evil|click>``.
Escaping ``& < >`` as Slack documents turns all of them into visible text, so drafted or customer
text can never ping a channel, mention a user or hide a link behind friendly words.
"""

from __future__ import annotations

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def safe(text: str, limit: int) -> str:
    """Escape, then truncate to ``limit`` without splitting an escape sequence such as ``&amp;``."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    return _cut_escaped(escaped, max(0, limit - 1)) + "…"


def _cut_escaped(escaped: str, length: int) -> str:
    cut = escaped[:length]
    amp = cut.rfind("&", max(0, len(cut) - 4))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut


def quote(text: str, limit: int) -> str:
    """Render ``text`` as a mrkdwn block quote, escaped, in at most ``limit`` characters."""
    budget = max(0, limit - 4)  # room for a final "> …" when the text is cut
    lines: list[str] = []
    used = 0
    for line in escape(text).splitlines() or [""]:
        entry = "> " + line
        if used + len(entry) > budget:
            room = budget - used - 2
            if room > 0:
                lines.append("> " + _cut_escaped(line, room) + "…")
            else:
                lines.append("> …")
            break
        lines.append(entry)
        used += len(entry) + 1
    return "\n".join(lines)
